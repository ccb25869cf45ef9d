/** Small helpers for the end-to-end tests: free ports, polling, and `keycast` servers as child processes. */
import { createServer } from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { rmSync } from 'node:fs';

const KEYCAST = resolve(import.meta.dirname, '..', 'bin/keycast.mjs');

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export interface Proc {
  child: ChildProcess;
  url: string;
  out: () => string;
  stop(): Promise<void>;
}

/** Starts `keycast ARGS`, resolves once it prints "listening [on] <url>"; every byte it prints is kept. */
export function start(args: string[], env: Record<string, string> = {}, prefix: string[] = []): Promise<Proc> {
  const [cmd, ...pre] = prefix.length > 0 ? [...prefix, process.execPath] : [process.execPath];
  const child = spawn(cmd!, [...pre, KEYCAST, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  return new Promise((ok, fail) => {
    const timer = setTimeout(
      () => fail(new Error(`keycast ${args.slice(0, 2).join(' ')} did not start: ${out}`)),
      30_000,
    );
    const check = () => {
      const m = /listening (?:on )?(\S+?)[\s(]/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      child.stdout!.off('data', check);
      ok({
        child,
        url: m[1]!.replace(/\/$/, ''),
        out: () => out,
        stop: () =>
          new Promise((done) => {
            if (child.exitCode !== null) return done();
            child.once('exit', () => done());
            child.kill('SIGTERM');
          }),
      });
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`keycast ${args.slice(0, 2).join(' ')} exited ${code}: ${out}`));
    });
  });
}

export async function until<T>(what: string, f: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

/**
 * `run(args, env)`: starts `keycast ARGS` like start() and keeps it; when the test ends every
 * process still running is killed and `tmp` removed.
 */
export function processes(
  t: { after(fn: () => void): void },
  tmp: string,
): (args: string[], env?: Record<string, string>) => Promise<Proc> {
  const procs: Proc[] = [];
  t.after(() => {
    for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    rmSync(tmp, { recursive: true, force: true });
  });
  return async (args, env) => {
    const p = await start(args, env);
    procs.push(p);
    return p;
  };
}

export interface Served {
  child: ChildProcess;
  url: string;
  stderr: () => string;
}

/** Starts `keycast ARGS` (a server that prints "listening <url>") and resolves once it listens. */
export function serveKeycast(args: string[]): Promise<Served> {
  const child = spawn(process.execPath, [KEYCAST, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  return new Promise((ok, fail) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /listening (\S+)\n/.exec(out);
      if (m) ok({ child, url: m[1]!, stderr: () => err });
    });
    child.on('exit', (code) => fail(new Error(`keycast ${args.slice(0, 2).join(' ')} exited ${code}: ${err}`)));
  });
}

/** Starts `keycast log serve` on an ephemeral loopback port and resolves once it listens. */
export function serveLog(dir: string, extra: string[]): Promise<Served> {
  return serveKeycast(['log', 'serve', '--data', dir, '--listen', '127.0.0.1:0', ...extra]);
}
