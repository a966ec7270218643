import { afterEach, describe, expect, it } from 'vitest';
import type { ServiceInfo } from '../shared/model.js';
import { closedPort, listen, type TestListener } from '../testing/listeners.js';
import { scanHosts, serviceDetection } from './run.js';
import type { HostScanResult, PortLists, ServiceDetector } from './types.js';

const lists = (ranking: Array<{ port: number; service: string }>): PortLists => ({ named: new Map(), ranking });

async function collect(run: Parameters<typeof scanHosts>[0]): Promise<HostScanResult[]> {
  const hosts: HostScanResult[] = [];
  for await (const h of scanHosts(run)) hosts.push(h);
  return hosts;
}

describe('scanHosts: connect scan plus service detection', () => {
  const listeners: TestListener[] = [];
  afterEach(async () => {
    for (const l of listeners.splice(0)) await l.close();
  });

  it('probes only open ports for their service and keeps what the detector found', async () => {
    const open = await listen();
    listeners.push(open);
    const closed = await closedPort();
    const probed: number[] = [];
    const detect: ServiceDetector = async (_ip, port) => {
      probed.push(port);
      return { name: 'ssh', product: 'OpenSSH', method: 'probed' };
    };
    const [host] = await collect({ addresses: ['127.0.0.1'], addressCount: 1, ports: [open.port, closed], portLists: lists([]), services: serviceDetection(detect, 100) });
    expect(probed).toEqual([open.port]);
    expect(host?.results.find((r) => r.port === open.port)?.service).toEqual({ name: 'ssh', product: 'OpenSSH', method: 'probed' });
    expect(host?.results.find((r) => r.port === closed)?.service).toBeUndefined();
  });

  it('names open ports from the port ranking, marked as a guess, when detection is off', async () => {
    const open = await listen();
    listeners.push(open);
    const [host] = await collect({ addresses: ['127.0.0.1'], addressCount: 1, ports: [open.port], portLists: lists([{ port: open.port, service: 'mqtt' }]) });
    expect(host?.results[0]?.service).toEqual({ name: 'mqtt', method: 'table' });
  });

  it('falls back to the ranking name when the probe recognised nothing, keeping what it saw', async () => {
    const open = await listen();
    listeners.push(open);
    const unknown: ServiceDetector = async () => ({ name: 'unknown', banner: '\\x10\\x02', method: 'probed' });
    const [host] = await collect({
      addresses: ['127.0.0.1'],
      addressCount: 1,
      ports: [open.port],
      portLists: lists([{ port: open.port, service: 'mqtt' }]),
      services: serviceDetection(unknown, 100),
    });
    expect(host?.results[0]?.service).toEqual({ name: 'mqtt', banner: '\\x10\\x02', method: 'table' });
  });

  it('yields other hosts while one host is still being probed', async () => {
    const open1 = await listen({ host: '127.0.0.1' });
    const open2 = await listen({ host: '127.0.0.2', port: open1.port });
    listeners.push(open1, open2);
    let releaseSlow: (() => void) | undefined;
    const detect: ServiceDetector = (ip) =>
      ip === '127.0.0.1'
        ? new Promise<ServiceInfo>((resolve) => (releaseSlow = () => resolve({ name: 'slow', method: 'probed' })))
        : Promise.resolve({ name: 'fast', method: 'probed' });
    const order: string[] = [];
    for await (const host of scanHosts({
      addresses: ['127.0.0.1', '127.0.0.2'],
      addressCount: 2,
      ports: [open1.port],
      portLists: lists([]),
      services: serviceDetection(detect, 100),
    })) {
      order.push(host.ip);
      // The slow host is only released once the fast one has come out.
      releaseSlow?.();
    }
    expect(order).toEqual(['127.0.0.2', '127.0.0.1']);
  });

  it('ends with the detector\'s error instead of swallowing it', async () => {
    const open = await listen();
    listeners.push(open);
    const broken: ServiceDetector = async () => {
      throw new Error('detector exploded');
    };
    await expect(collect({ addresses: ['127.0.0.1'], addressCount: 1, ports: [open.port], portLists: lists([]), services: serviceDetection(broken, 100) })).rejects.toThrow('detector exploded');
  });
});
