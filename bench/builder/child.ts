/**
 * One build in a fresh process, for bench/builder/run.ts: prints {seconds, maxRssMiB, pcr0}
 * as JSON. Usage: node --import tsx bench/builder/child.ts LOCK OUTDIR
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { build } from '../../builder/src/build.ts';
import { parseLock } from '../../builder/src/lock.ts';

const [lockPath, out] = process.argv.slice(2);
const t0 = process.hrtime.bigint();
const r = await build({ lock: parseLock(readFileSync(lockPath!, 'utf8')), lockDir: dirname(resolve(lockPath!)), outDir: resolve(out!), verify: false });
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
console.log(JSON.stringify({ seconds, maxRssMiB: process.resourceUsage().maxRSS / 1024, pcr0: r.pcr0, size: r.size }));
