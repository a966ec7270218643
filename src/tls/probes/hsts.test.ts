import { describe, expect, it } from 'vitest';
import { parseHsts } from './hsts.js';

describe('parseHsts', () => {
  it('reads max-age, includeSubDomains and preload, case-insensitively', () => {
    expect(parseHsts(['Max-Age=31536000; includeSubdomains; PRELOAD'])).toEqual({
      status: 'present',
      header: 'Max-Age=31536000; includeSubdomains; PRELOAD',
      maxAge: 31536000,
      includeSubDomains: true,
      preload: true,
    });
  });

  it('accepts a quoted max-age and ignores unknown directives', () => {
    expect(parseHsts(['max-age="600"; foo=bar'])).toMatchObject({ status: 'present', maxAge: 600, includeSubDomains: false });
  });

  it('reports absence when no header was sent', () => {
    expect(parseHsts([]).status).toBe('absent');
  });

  it('reports max-age=0 as disabled', () => {
    expect(parseHsts(['max-age=0'])).toMatchObject({ status: 'disabled', maxAge: 0 });
  });

  it('rejects a missing or malformed max-age and repeated directives', () => {
    expect(parseHsts(['includeSubDomains'])).toMatchObject({ status: 'invalid', error: 'the max-age directive is missing' });
    expect(parseHsts(['max-age=1y'])).toMatchObject({ status: 'invalid', maxAge: null });
    expect(parseHsts(['max-age=1; max-age=2']).status).toBe('invalid');
  });

  it('uses only the first header, as browsers do', () => {
    expect(parseHsts(['max-age=100', 'max-age=0'])).toMatchObject({ status: 'present', maxAge: 100 });
  });
});
