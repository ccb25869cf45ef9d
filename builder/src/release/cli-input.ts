/**
 * Inputs the release commands read from files and flags: measurements from a PCR JSON
 * (nitro-cli `describe-eif`/`build-enclave` output `{"Measurements":{"PCR0":…}}`, monzo
 * aws-nitro-util `pcr.json` `{"PCR0":…}`, or Keycast's own `{"pcr0":…}`), the log's C2SP
 * verifier key, the default builder version, and the non-negative integer flags (flags themselves are
 * parsed by the one kit, #flag-kit).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { usageError, type Flags } from '#flag-kit';
import { parseVerifierKey, type Measurements } from '#verifier';
import { validateMeasurements } from '#verifier/build';

export function optInt(f: Flags, name: string): number | undefined {
  const s = f[name];
  if (s === undefined) return undefined;
  if (typeof s !== 'string' || !/^(0|[1-9][0-9]{0,15})$/.test(s))
    throw usageError(`--${name} must be a non-negative integer`);
  return Number(s);
}

/** Measurements from a PCR JSON file's parsed value (see header for accepted shapes). */
export function measurementsFromJson(v: unknown): Measurements {
  const o = (
    v && typeof v === 'object' && 'Measurements' in v ? (v as { Measurements: unknown }).Measurements : v
  ) as Record<string, unknown>;
  if (!o || typeof o !== 'object') throw usageError('the PCR file is not a JSON object');
  const pick = (k: string): unknown => o[k] ?? o[k.toUpperCase()];
  const m: Record<string, unknown> = {};
  for (const k of ['pcr0', 'pcr1', 'pcr2', 'pcr8']) {
    const val = pick(k);
    if (val !== undefined) m[k] = typeof val === 'string' ? val.toLowerCase() : val;
  }
  return validateMeasurements(m, 'pcrs');
}

export function readMeasurements(path: string): Measurements {
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code) throw e;
    throw usageError(`${path} is not JSON`);
  }
  return measurementsFromJson(v);
}

/** `{ origin, publicKey }` from a C2SP vkey (`keycast log vkey` prints it). */
export function logIdentity(vkey: string): { origin: string; publicKey: Uint8Array } {
  const k = parseVerifierKey(vkey.trim());
  return { origin: k.name, publicKey: k.publicKey };
}

/** `keycast/<package.json version>`: the builder version recorded in statements by default. */
export function defaultBuilderVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(resolve(import.meta.dirname, '../../../package.json'), 'utf8')) as {
      version?: string;
    };
    return `keycast/${pkg.version ?? '0.0.0'}`;
  } catch {
    return 'keycast/0.0.0';
  }
}
