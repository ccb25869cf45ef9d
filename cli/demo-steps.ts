/**
 * The plumbing the demo narrates with: run a real `keycast` subcommand as a child process,
 * start a long-running one (log, witness) and wait for its "listening <url>" line, pick free
 * loopback ports. The demo uses the same CLI a studio or an operator would type.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const KEYCAST = fileURLToPath(new URL('../bin/keycast.mjs', import.meta.url));

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Narrator {
  /** prints a step heading */
  step(title: string): void;
  /** prints a line of explanation */
  say(text: string): void;
  /** prints the command line about to run */
  command(args: string[]): void;
}

/** Runs `keycast ARGS`, resolves with its exit code and output (never rejects on a non-zero exit). */
export function keycast(args: string[], narrator?: Narrator): Promise<RunResult> {
  narrator?.command(args);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [KEYCAST, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

/** Like keycast(), but a non-zero exit is an error that carries the command's output. */
export async function keycastOk(args: string[], narrator?: Narrator): Promise<RunResult> {
  const r = await keycast(args, narrator);
  if (r.code !== 0) {
    throw new Error(`keycast ${args.join(' ')} exited ${r.code}\n${r.stderr.trim()}\n${r.stdout.trim()}`);
  }
  return r;
}

export interface Service {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Starts `keycast ARGS` and resolves once it prints "listening <url>" (rejects after 30 s or on exit). */
export function startService(args: string[], narrator?: Narrator): Promise<Service> {
  narrator?.command(args);
  const child = spawn(process.execPath, [KEYCAST, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`keycast ${args[0]} did not start in 30 s\n${err}`));
    }, 30_000);
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening (\S+)/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      resolve({ url: m[1]!.replace(/\/$/, ''), child, stop: () => stop(child) });
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`keycast ${args[0]} exited ${code} before listening\n${err}`));
    });
  });
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}
