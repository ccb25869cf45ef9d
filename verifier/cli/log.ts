/**
 * The log flags studio commands share (--log URL --log-key VKEY [--witness …] [--state DIR]
 * [--timeout S]) and the one LogClient built from them over this process's fetch: byte caps and
 * timeouts are the client's, and every retry is said on stderr.
 */
import { LogClient, parseVerifierKey } from '../index.ts';
import type { RetryEvent } from '../build.ts';
import { readVkey } from './io.ts';
import { witnessFlags, type WitnessFlags } from './flags.ts';
import { FileCheckpointStore, type CheckpointStore } from './state.ts';
import { requireFlag as need, positiveInt, stringFlag as str, urlOption, type Flags as Values } from '../kit/flags.ts';

export const LOG_OPTIONS = {
  log: urlOption(),
  'log-key': { type: 'string' },
  state: { type: 'string' },
  timeout: { type: 'string' },
  witness: { type: 'string', multiple: true },
  'witness-threshold': { type: 'string' },
  'max-checkpoint-age': { type: 'string' },
} as const;

export const LOG_HELP = `  --log URL             the log (its checkpoint, tiles, proofs and signed status statements)
  --log-key VKEY        the log's note verifier key (or a file holding it)
  --state DIR           where the last verified checkpoint of each log is kept (default
                        $XDG_STATE_HOME/keycast, else ~/.local/state/keycast); every later call
                        demands a consistency proof from it
  --timeout SECONDS     per request to the log, headers and body (default 30)
  --profile FILE        take --log, --log-key, --witness and --publisher from FILE (JSON with those
                        keys; also KEYCAST_PROFILE=FILE); flags given on the command line win`;

export interface LogSetup {
  client: LogClient;
  logKey: string;
  origin: string;
  witnesses: WitnessFlags | null;
  store: CheckpointStore;
}

export function say(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** This process's fetch with --timeout, and every retry said on stderr. */
export function transport(v: Values): {
  fetch: typeof globalThis.fetch;
  timeoutMs?: number;
  onRetry: (e: RetryEvent) => void;
} {
  const timeout = str(v, 'timeout');
  return {
    fetch: globalThis.fetch,
    ...(timeout === undefined ? {} : { timeoutMs: positiveInt(timeout, 'timeout', 30) * 1000 }),
    onRetry: (e) =>
      say(`keycast: ${e.url}: ${e.reason}; retry ${e.attempt} of ${e.retries} in ${(e.delayMs / 1000).toFixed(1)} s`),
  };
}

export function logSetup(v: Values, url = need(v, 'log')): LogSetup {
  const logKey = readVkey(need(v, 'log-key'), '--log-key');
  const origin = parseVerifierKey(logKey).name;
  const witnesses = witnessFlags(v as Parameters<typeof witnessFlags>[0]);
  const client = new LogClient({
    ...transport(v),
    url,
    logKey,
    ...(witnesses
      ? {
          witnessPolicy: { witnesses: witnesses.vkeys, threshold: witnesses.threshold },
          maxAgeSeconds: witnesses.maxAgeSeconds,
        }
      : {}),
  });
  const state = str(v, 'state');
  return { client, logKey, origin, witnesses, store: new FileCheckpointStore(...(state === undefined ? [] : [state])) };
}
