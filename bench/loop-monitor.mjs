// Preloaded into the server by the benchmarks (`node --import ./bench/loop-monitor.mjs`) when
// PCBENCH_LOOP_FILE is set: measures how long the main event loop stalls (a 10 ms interval timer
// that fires late) and writes a summary to that file every second. A stall longer than a probe's
// timeout can make a probe whose answer already arrived look unanswered. Overhead: one timer.
import { writeFileSync } from 'node:fs';

const file = process.env.PCBENCH_LOOP_FILE;
if (file) {
  const TICK = 10;
  let last = performance.now();
  const stats = { samples: 0, maxStallMs: 0, stallsOver50Ms: 0, stallsOver100Ms: 0, stallsOver250Ms: 0, stallsOver1000Ms: 0, stalledMsOver100: 0, worst: [] };
  const timer = setInterval(() => {
    const now = performance.now();
    const stall = now - last - TICK;
    last = now;
    stats.samples++;
    if (stall > stats.maxStallMs) stats.maxStallMs = Math.round(stall);
    if (stall > 50) stats.stallsOver50Ms++;
    if (stall > 100) {
      stats.stallsOver100Ms++;
      stats.stalledMsOver100 += Math.round(stall);
      stats.worst.push({ atMs: Math.round(now), endedAt: new Date().toISOString(), stallMs: Math.round(stall) });
      stats.worst.sort((a, b) => b.stallMs - a.stallMs);
      stats.worst.length = Math.min(stats.worst.length, 10);
    }
    if (stall > 250) stats.stallsOver250Ms++;
    if (stall > 1000) stats.stallsOver1000Ms++;
  }, TICK);
  timer.unref();
  const flush = setInterval(() => {
    try {
      writeFileSync(file, JSON.stringify(stats));
    } catch {
      /* the benchmark removed its temp dir */
    }
  }, 1000);
  flush.unref();
}
