/**
 * bench/forward entry (the measurement is measure.ts; usage there). The main thread runs under a
 * bounded heap, as a long-running service bounds its own — an unbounded V8 heap lets garbage grow
 * the RSS long before it collects — so this file only makes sure of the flag: unless the caller
 * gave --max-old-space-size, it starts Node again with MAIN_HEAP_MB, before anything heavy loads.
 * Then deliveries.ts: what a delivery entry on the log adds to a forward request (issue 19).
 */
import { spawnSync } from 'node:child_process';

const MAIN_HEAP_MB = 160;
const measure = new URL('./measure.ts', import.meta.url);
const deliveries = new URL('./deliveries.ts', import.meta.url);

if (process.execArgv.some((a) => a.startsWith('--max-old-space-size'))) await import(measure.href);
else {
  const r = spawnSync(
    process.execPath,
    [`--max-old-space-size=${MAIN_HEAP_MB}`, ...process.execArgv, measure.pathname, ...process.argv.slice(2)],
    { stdio: 'inherit' },
  );
  if (r.status !== 0) process.exit(r.status ?? 1);
  // the cost of delivery transparency (issue 19), through the real processes: deliveries.ts
  const quick = process.argv.includes('--quick') ? ['--quick'] : [];
  const json = process.argv.includes('--json') ? ['--json'] : [];
  const d = spawnSync(process.execPath, [...process.execArgv, deliveries.pathname, ...quick, ...json], {
    stdio: 'inherit',
  });
  process.exit(d.status ?? 1);
}
