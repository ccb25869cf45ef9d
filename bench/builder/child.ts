/**
 * One build in a fresh process, for bench/builder/run.ts: prints {seconds, cpuSeconds, maxRssMiB, pcr0}
 * as JSON. Usage: node --import tsx bench/builder/child.ts LOCK OUTDIR
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { build, parseLock } from '../../builder/index.ts';

const [lockPath, out] = process.argv.slice(2);
const t0 = process.hrtime.bigint();
const c0 = process.cpuUsage();
const r = await build({
  lock: parseLock(readFileSync(lockPath!, 'utf8')),
  lockDir: dirname(resolve(lockPath!)),
  outDir: resolve(out!),
  verify: false,
});
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
const cpu = process.cpuUsage(c0);
const cpuSeconds = (cpu.user + cpu.system) / 1e6; // all threads of this process
console.log(
  JSON.stringify({ seconds, cpuSeconds, maxRssMiB: process.resourceUsage().maxRSS / 1024, pcr0: r.pcr0, size: r.size }),
);
