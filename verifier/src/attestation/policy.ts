/**
 * Policy checks on a verified attestation document: expected PCRs (iterating the
 * EXPECTED set, so a PCR missing from the document fails — the CVE-2025-64186 class of bug),
 * debug mode (PCR0/1/2 all zero, notes/nitro.md §3.5) refused unless allowed, exact nonce /
 * user-data / public-key binding (null and empty are different), and maximum age.
 * Pure; throws VerifierError PCR_MISMATCH, DEBUG_MODE, NONCE_MISMATCH, USER_DATA_MISMATCH,
 * PUBLIC_KEY_MISMATCH or ATTESTATION_AGE with expected and actual values as evidence.
 */
import { VerifierError, type VerifierErrorCode } from '../errors.ts';
import { bytesEqual, fromHex, toHex } from '../encoding/bytes.ts';
import { PCR_BYTES } from './payload.ts';
import { MAX_PCR_INDEX, type AttestationPayload } from './payload.ts';

export interface AttestationPolicy {
  /** PCR index → expected value (48 bytes or 96 hex chars). Every listed PCR must be present and equal. */
  expectedPcrs?: Record<number, Uint8Array | string> | Map<number, Uint8Array | string>;
  /** accept debug-mode documents (all-zero PCR0/1/2); default false */
  allowDebug?: boolean;
  /** when given (null included), the document's nonce must equal it exactly */
  nonce?: Uint8Array | null;
  userData?: Uint8Array | null;
  publicKey?: Uint8Array | null;
  /** refuse documents whose timestamp is more than this many ms before `at` */
  maxAgeMs?: number;
}

/** How far a document's timestamp may be ahead of `at` when maxAgeMs is checked. */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000;

const DEBUG_PCRS = [0, 1, 2] as const;

/** True when PCR0, PCR1 and PCR2 are all zero: the enclave runs in debug mode. */
export function isDebugMode(pcrs: Map<number, Uint8Array>): boolean {
  return DEBUG_PCRS.every((i) => pcrs.get(i)?.every((b) => b === 0) === true);
}

function normalizePcr(i: number, v: Uint8Array | string): Uint8Array {
  if (!Number.isInteger(i) || i < 0 || i > MAX_PCR_INDEX)
    throw new RangeError(`expectedPcrs: index ${i} out of 0..${MAX_PCR_INDEX}`);
  const b = typeof v === 'string' ? fromHex(v) : v;
  if (!(b instanceof Uint8Array) || b.length !== PCR_BYTES)
    throw new RangeError(`expectedPcrs: PCR${i} must be ${PCR_BYTES} bytes`);
  return b;
}

/** Normalised expected PCRs (validates the caller's input before any document is looked at). */
export function expectedPcrEntries(e: AttestationPolicy['expectedPcrs']): Array<[number, Uint8Array]> {
  if (!e) return [];
  const entries = e instanceof Map ? [...e.entries()] : Object.entries(e).map(([k, v]) => [Number(k), v] as const);
  return entries.map(([i, v]) => [i, normalizePcr(i, v)]);
}

export function checkPolicy(doc: AttestationPayload, policy: AttestationPolicy, at: Date): void {
  const expected = expectedPcrEntries(policy.expectedPcrs);
  if (!policy.allowDebug && isDebugMode(doc.pcrs))
    throw new VerifierError(
      'DEBUG_MODE',
      'the enclave runs in debug mode (PCR0/1/2 are zero); refused unless debug is explicitly allowed',
      { moduleId: doc.moduleId },
    );
  for (const [i, want] of expected) {
    const got = doc.pcrs.get(i);
    if (!got)
      throw new VerifierError('PCR_MISMATCH', `PCR${i} is missing from the document`, {
        pcr: i,
        expected: toHex(want),
        actual: null,
      });
    if (!bytesEqual(got, want))
      throw new VerifierError('PCR_MISMATCH', `PCR${i} differs from the expected value`, {
        pcr: i,
        expected: toHex(want),
        actual: toHex(got),
      });
  }
  binding('NONCE_MISMATCH', 'nonce', policy.nonce, doc.nonce);
  binding('USER_DATA_MISMATCH', 'user_data', policy.userData, doc.userData);
  binding('PUBLIC_KEY_MISMATCH', 'public_key', policy.publicKey, doc.publicKey);
  if (policy.maxAgeMs !== undefined) checkAge(doc.timestamp, policy.maxAgeMs, at);
}

function binding(
  code: VerifierErrorCode,
  field: string,
  want: Uint8Array | null | undefined,
  got: Uint8Array | null,
): void {
  if (want === undefined) return;
  if (want !== null && !(want instanceof Uint8Array)) throw new TypeError(`policy ${field}: expected bytes or null`);
  const same = want === null ? got === null : got !== null && bytesEqual(got, want);
  if (!same)
    throw new VerifierError(code, `${field} does not match the expected value`, {
      field,
      expected: want === null ? null : toHex(want),
      actual: got === null ? null : toHex(got),
    });
}

function checkAge(timestamp: number, maxAgeMs: number, at: Date): void {
  if (!Number.isFinite(maxAgeMs) || maxAgeMs < 0) throw new RangeError('policy maxAgeMs must be a non-negative number');
  const age = at.getTime() - timestamp;
  const ev = { timestamp: new Date(timestamp).toISOString(), at: at.toISOString(), ageMs: age, maxAgeMs };
  if (age > maxAgeMs)
    throw new VerifierError(
      'ATTESTATION_AGE',
      `the document is ${age} ms old, more than the allowed ${maxAgeMs} ms`,
      ev,
    );
  if (age < -MAX_CLOCK_SKEW_MS)
    throw new VerifierError('ATTESTATION_AGE', `the document is dated ${-age} ms after the verification time`, ev);
}
