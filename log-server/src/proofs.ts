/**
 * Proof requests against the log's current tree (RFC 6962 §2.1.1/§2.1.2 via #verifier), with
 * the range checks a public endpoint needs: callers get OUT_OF_RANGE, never a RangeError.
 */
import { proveConsistency, proveInclusion } from '#verifier';
import type { HashReader } from '#verifier';
import { LogError } from './errors.ts';

/** PATH(index, size); requires index < size ≤ current. */
export function inclusionProof(index: number, size: number, current: number, read: HashReader, rightEdge?: Map<number, Uint8Array>): Uint8Array[] {
  if (!(index < size && size <= current)) {
    throw new LogError('OUT_OF_RANGE', 'need index < size ≤ the current tree size', { index, size, current });
  }
  return proveInclusion(index, size, read, rightEdge);
}

/** PROOF(old, new); requires 0 < old ≤ new ≤ current (old = 0 has no proof: c2sp tlog-witness sends none). */
export function consistencyProof(oldSize: number, newSize: number, read: HashReader, current = newSize): Uint8Array[] {
  if (!(oldSize > 0 && oldSize <= newSize && newSize <= current)) {
    throw new LogError('OUT_OF_RANGE', 'need 0 < old ≤ new ≤ the current tree size', { old: oldSize, new: newSize, current });
  }
  return proveConsistency(oldSize, newSize, read);
}

/** Parses a decimal uint53 with no sign, no leading zeros, no spaces (NON_CANONICAL_NUMBER otherwise). */
export function canonicalNumber(s: string, what: string): number {
  if (!/^(0|[1-9][0-9]{0,15})$/.test(s)) throw new LogError('NON_CANONICAL_NUMBER', `${what} must be a canonical decimal number`, { [what]: s.slice(0, 32) });
  const n = Number(s);
  if (!Number.isSafeInteger(n)) throw new LogError('NON_CANONICAL_NUMBER', `${what} is too large`, { [what]: s });
  return n;
}
