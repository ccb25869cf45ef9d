/**
 * Runs `keycast ARGS` in this process (cli/main.ts's main: dispatch, profile, error report and exit
 * code exactly as the binary does) with what it prints captured. For tests where the process
 * boundary is not what is tested. Calls are serialised: console and stderr are process-wide.
 */
import { main } from './main.ts';

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

let queue: Promise<unknown> = Promise.resolve();

/** `env`: variables set (undefined: removed) for this call only, as a child's environment would be. */
export function runKeycast(args: string[], env: Record<string, string | undefined> = {}): Promise<Ran> {
  const next = queue.then(() => withEnv(env, () => runNow(args)));
  queue = next.catch(() => {});
  return next;
}

async function withEnv<T>(env: Record<string, string | undefined>, f: () => Promise<T>): Promise<T> {
  const saved = Object.keys(env).map((k) => [k, process.env[k]] as const);
  const set = (k: string, v: string | undefined) => {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  };
  for (const [k, v] of Object.entries(env)) set(k, v);
  try {
    return await f();
  } finally {
    for (const [k, v] of saved) set(k, v);
  }
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
