/**
 * Flag helpers the enclave/ commands share (runtime, host, dev tools, kms-policy), over the
 * ground floor's flag kit (#flag-kit).
 */
import { readFileSync } from 'node:fs';
import { parseFlags, usageError as usage } from '#flag-kit';
import { serverLimitsFromFlags, type ServerLimits } from '#verifier/build';

export type Spec = Record<string, { type: 'string' | 'boolean' }>;
export type FlagValues = Record<string, string | boolean | undefined>;

export function parse(args: string[], options: Spec): FlagValues {
  return parseFlags(args, options).values as FlagValues;
}

export function seconds(v: unknown, flag: string, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'string' || !/^[1-9][0-9]{0,5}$/.test(v))
    throw usage(`--${flag} must be a positive number of seconds`);
  return Number(v);
}

export function limitsFrom(v: Record<string, unknown>): ServerLimits {
  try {
    return serverLimitsFromFlags(v);
  } catch (e) {
    throw usage((e as Error).message);
  }
}

/** A note verifier key given inline or as a file holding one. */
export function vkeyArg(s: string): string {
  if (/^[^\s+]+\+[0-9a-f]{8}\+[A-Za-z0-9+/=]+$/.test(s)) return s;
  try {
    return readFileSync(s, 'utf8').trim();
  } catch {
    throw usage(`${s} is neither a vkey nor a readable file holding one`);
  }
}
