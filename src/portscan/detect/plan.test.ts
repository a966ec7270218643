import { describe, expect, it } from 'vitest';
import { DEFAULT_ORDER, planForPort } from './plan.js';

describe('port hints', () => {
  it.each([
    [80, 'http'],
    [8080, 'http'],
    [443, 'tls'],
    [8443, 'tls'],
    [993, 'tls'],
    [6379, 'redis'],
    [5432, 'postgres'],
    [9200, 'http'],
    [2375, 'http'],
    [6443, 'tls'],
  ])('port %i skips the banner wait and starts with %s', (port, first) => {
    const plan = planForPort(port);
    expect(plan.skipBanner).toBe(true);
    expect(plan.order[0]).toBe(first);
    expect([...plan.order].sort()).toEqual([...DEFAULT_ORDER].sort()); // hints reorder, never drop
  });

  it.each([22, 21, 25, 110, 143, 3306, 5900, 2222, 40000])('port %i reads a banner first, then TLS, HTTP, Redis, PostgreSQL', (port) => {
    expect(planForPort(port)).toEqual({ skipBanner: false, order: ['tls', 'http', 'redis', 'postgres'] });
  });
});
