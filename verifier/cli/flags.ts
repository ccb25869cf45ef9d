/**
 * The flags several `keycast verify …` commands share (log witnesses, hex, --trust-root), built on
 * the one flag kit (kit.ts, `#flag-kit` for the other folders).
 */
import { X509Certificate } from 'node:crypto';
import { MAX_CERTIFICATE_BYTES, fromHex } from '../build.ts';
import { readUserFile, readVkey } from './io.ts';
import { positiveInt, usageError } from '../kit/flags.ts';

export function hexArg(flag: string, v: string, len?: number): Uint8Array {
  try {
    const b = fromHex(v);
    if (len === undefined || b.length === len) return b;
  } catch {
    /* fall through */
  }
  throw usageError(`${flag}: expected ${len === undefined ? '' : `${len} bytes of `}hex`);
}

export interface WitnessFlags {
  vkeys: string[];
  threshold: number;
  maxAgeSeconds: number;
}

export const WITNESS_HELP = `  --witness VKEY        the checkpoint must be cosigned (cosignature/v1) by this witness (vkey or
                        a file holding it); repeatable
  --witness-threshold K how many of the --witness keys must cosign (default: all of them)
  --max-checkpoint-age SECONDS
                        the freshest required cosignature must be at most this old (default 3600):
                        a log cannot keep showing you an old view of itself`;

/** --witness/--witness-threshold/--max-checkpoint-age: the checkpoint must be cosigned, and recently. */
export function witnessFlags(v: {
  witness?: string[];
  'witness-threshold'?: string;
  'max-checkpoint-age'?: string;
}): WitnessFlags | null {
  const vkeys = (v.witness ?? []).map((s) => readVkey(s, '--witness'));
  if (vkeys.length === 0) {
    if (v['witness-threshold'] !== undefined || v['max-checkpoint-age'] !== undefined)
      throw usageError('--witness-threshold and --max-checkpoint-age need --witness');
    return null;
  }
  const threshold = positiveInt(v['witness-threshold'], 'witness-threshold', vkeys.length);
  if (threshold > vkeys.length)
    throw usageError(`--witness-threshold ${threshold} exceeds the ${vkeys.length} witnesses given`);
  return { vkeys, threshold, maxAgeSeconds: positiveInt(v['max-checkpoint-age'], 'max-checkpoint-age', 3600) };
}

/** --trust-root FILE: a PEM or DER certificate to trust INSTEAD of the AWS root (test PKIs). */
export function readRoot(file: string): Uint8Array {
  const bytes = readUserFile(file, MAX_CERTIFICATE_BYTES * 2, '--trust-root');
  try {
    return new Uint8Array(new X509Certificate(bytes).raw);
  } catch {
    throw usageError(`--trust-root ${file}: not a PEM or DER certificate`);
  }
}
