/**
 * Runs `keycast ARGS` in this process (cli/main.ts's main: dispatch, profile, error report and exit
 * code exactly as the binary does) with what it prints captured. For tests where the process
 * boundary is not what is tested. Calls are serialised: console and stderr are process-wide.
 */
import { main } from '../cli/index.ts';

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

let queue: Promise<unknown> = Promise.resolve();

export function run(args: string[]): Promise<Ran> {
  const next = queue.then(() => runNow(args));
  queue = next.catch(() => {});
  return next;
}

async function runNow(args: string[]): Promise<Ran> {
  const out: string[] = [];
  const err: string[] = [];
  const log = console.log;
  const error = console.error;
  const write = process.stderr.write;
  const line = (a: unknown[]) => `${a.map((x) => (typeof x === 'string' ? x : String(x))).join(' ')}\n`;
  console.log = (...a: unknown[]) => void out.push(line(a));
  console.error = (...a: unknown[]) => void err.push(line(a));
  process.stderr.write = ((chunk: string | Uint8Array) => {
    err.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return true;
  }) as typeof process.stderr.write;
  try {
    const code = await main(args);
    return { code, stdout: out.join(''), stderr: err.join('') };
  } finally {
    console.log = log;
    console.error = error;
    process.stderr.write = write;
  }
}

/** The `--json` error body a refused command printed. */
export function errorJson(r: Ran): { code: string; message: string; evidence: Record<string, unknown> } {
  return JSON.parse(r.stdout) as { code: string; message: string; evidence: Record<string, unknown> };
}
