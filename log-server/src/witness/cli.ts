/**
 * `keycast witness serve` and `keycast witness vkey`: a c2sp.org/tlog-witness anyone can run
 * (a studio, an auditor). Registered through log-server/cli.ts; matches cli/command.ts
 * structurally.
 */
import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import { hostname } from 'node:os';

interface Command {
  path: string[];
  summary: string;
  help: string;
  run(args: string[]): Promise<number>;
}

function usageError(message: string): Error {
  const e = new Error(message);
  e.name = 'UsageError';
  (e as Error & { code: string }).code = 'USAGE';
  return e;
}

function parse(args: string[], options: NonNullable<ParseArgsConfig['options']>): Record<string, unknown> {
  try {
    return parseArgs({ args, options: { ...options, json: { type: 'boolean' } }, strict: true, allowPositionals: false }).values;
  } catch (e) {
    throw usageError((e as Error).message);
  }
}

function need(v: Record<string, unknown>, name: string): string {
  const s = v[name];
  if (typeof s !== 'string' || s === '') throw usageError(`--${name} is required`);
  return s;
}

function hostPort(s: string): { host: string; port: number } {
  const m = /^(.*):(\d{1,5})$/.exec(s);
  if (!m || Number(m[2]) > 65535) throw usageError('--listen must be HOST:PORT');
  return { host: m[1]!.replace(/^\[(.*)\]$/, '$1'), port: Number(m[2]) };
}

const serveCmd: Command = {
  path: ['witness', 'serve'],
  summary: 'run a c2sp.org/tlog-witness that cosigns consistent checkpoints of the given logs',
  help: `keycast witness serve --data DIR --listen HOST:PORT --log VKEY [--log VKEY ...] [--name NAME] [--json]

Serves POST /add-checkpoint (c2sp.org/tlog-witness v1.0.0) for the logs whose Ed25519 verifier
keys are given (the key name is the log origin). Each checkpoint must be signed by its log key
and consistent with the last one this witness cosigned for that log; the new state is written
to DIR/witness-state.json atomically before answering. Inconsistent checkpoints are refused
(422) and kept as evidence in DIR/evidence/.
On first run creates DIR/witness.key (mode 0600; a cosignature/v1 key named NAME, default
witness.<hostname>) and prints its verifier key on stderr. Prints "listening <url>" on stdout
once ready; SIGTERM/SIGINT stop it.`,
  async run(args) {
    const v = parse(args, { data: { type: 'string' }, listen: { type: 'string' }, log: { type: 'string', multiple: true }, name: { type: 'string' } });
    const dir = need(v, 'data');
    const { host, port } = hostPort(need(v, 'listen'));
    const logs = (v.log as string[] | undefined) ?? [];
    if (logs.length === 0) throw usageError('at least one --log VKEY is required');
    const { serveWitness } = await import('./serve.ts');
    return serveWitness({ dir, host, port, logVkeys: logs, name: (v.name as string | undefined) ?? defaultName(), json: v.json === true });
  },
};

const vkeyCmd: Command = {
  path: ['witness', 'vkey'],
  summary: "print the witness's cosignature verifier key",
  help: `keycast witness vkey --data DIR [--json]

Prints the cosignature/v1 verifier key of DIR/witness.key (the key a log's --witness flag pins).`,
  async run(args) {
    const v = parse(args, { data: { type: 'string' } });
    const { readWitnessKey } = await import('./keys.ts');
    const { vkey } = readWitnessKey(need(v, 'data'));
    console.log(v.json ? JSON.stringify({ vkey }) : vkey);
    return 0;
  },
};

function defaultName(): string {
  const h = hostname().toLowerCase().replace(/[^a-z0-9.-]/g, '-') || 'localhost';
  return `witness.${h}`;
}

export const witnessCommands: Command[] = [serveCmd, vkeyCmd];
