/**
 * `keycast witness serve` and `keycast witness vkey`: a c2sp.org/tlog-witness anyone can run
 * (a studio, an auditor). Registered through log-server/cli.ts; matches cli/command.ts
 * structurally.
 */
import { hostPort, parseFlags, requireFlag, usageError, type Command } from '#flag-kit';
import { hostname } from 'node:os';
import { SERVER_LIMIT_FLAGS_HELP, serverLimitFlagOptions, serverLimitsFromFlags } from '#verifier/build';
import type { ServerLimits } from '#verifier/build';

const serveCmd: Command = {
  path: ['witness', 'serve'],
  summary: 'run a c2sp.org/tlog-witness that cosigns consistent checkpoints of the given logs',
  help: `keycast witness serve --data DIR --listen HOST:PORT --log VKEY [--log VKEY ...] [--name NAME]
       [--max-connections N] [--request-timeout MS] [--headers-timeout MS] [--keep-alive-timeout MS] [--json]

Serves POST /add-checkpoint (c2sp.org/tlog-witness v1.0.0) for the logs whose Ed25519 verifier
keys are given (the key name is the log origin). Each checkpoint must be signed by its log key
and consistent with the last one this witness cosigned for that log; the new state is written
to DIR/witness-state.json atomically before answering. Inconsistent checkpoints are refused
(422) and kept as evidence in DIR/evidence/.
On first run creates DIR/witness.key (mode 0600; a cosignature/v1 key named NAME, default
witness.<hostname>) and prints its verifier key on stderr. Prints "listening <url>" on stdout
once ready; SIGTERM/SIGINT stop it.
${SERVER_LIMIT_FLAGS_HELP}`,
  async run(args) {
    const v = parseFlags(args, {
      data: { type: 'string' },
      listen: { type: 'string' },
      log: { type: 'string', multiple: true },
      name: { type: 'string' },
      ...serverLimitFlagOptions(),
    }).values;
    const limits = limitsFlags(v);
    const dir = requireFlag(v, 'data');
    const { host, port } = hostPort(requireFlag(v, 'listen'));
    const logs = (v.log as string[] | undefined) ?? [];
    if (logs.length === 0) throw usageError('at least one --log VKEY is required');
    const { serveWitness } = await import('./serve.ts');
    return serveWitness({
      dir,
      host,
      port,
      logVkeys: logs,
      name: (v.name as string | undefined) ?? defaultName(),
      json: v.json === true,
      limits,
    });
  },
};

const vkeyCmd: Command = {
  path: ['witness', 'vkey'],
  summary: "print the witness's cosignature verifier key",
  help: `keycast witness vkey --data DIR [--json]

Prints the cosignature/v1 verifier key of DIR/witness.key (the key a log's --witness flag pins).`,
  async run(args) {
    const v = parseFlags(args, { data: { type: 'string' } }).values;
    const { readWitnessKey } = await import('./keys.ts');
    const { vkey } = readWitnessKey(requireFlag(v, 'data'));
    console.log(v.json ? JSON.stringify({ vkey }) : vkey);
    return 0;
  },
};

/** The server-limit flags (SERVER_LIMIT_FLAGS) as limits; a bad value is a usage error. */
export function limitsFlags(v: Record<string, unknown>): ServerLimits {
  try {
    return serverLimitsFromFlags(v);
  } catch (e) {
    throw usageError((e as Error).message);
  }
}

function defaultName(): string {
  const h =
    hostname()
      .toLowerCase()
      .replace(/[^a-z0-9.-]/g, '-') || 'localhost';
  return `witness.${h}`;
}

export const witnessCommands: Command[] = [serveCmd, vkeyCmd];
