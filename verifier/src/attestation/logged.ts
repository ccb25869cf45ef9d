/**
 * Is the attested PCR0 a logged Keycast release? Checks a Keycast log's answer to
 * `GET <log>/lookup/pcr0/<hex>` — JSON `{ index, status: "active"|"revoked", entry: base64 leaf,
 * proof: c2sp.org/tlog-proof@v1 text, revokedBy? }` — against a pinned log key: the proof's
 * checkpoint signature and origin, the leaf's inclusion at `index` (verifyTlogProof), the leaf's
 * own DSSE signature and schema (decodeLeaf), and that it is a release naming exactly this PCR0.
 *
 * Inclusion is proven; `status` is the log's statement (a revocation is itself a logged entry,
 * but its absence cannot be proven from one lookup), so a "revoked" answer is always refused and
 * an "active" one is reported as the log's claim. Pure; the HTTP fetch is the caller's.
 * Throws VerifierError MALFORMED, PROOF_INVALID, PCR_MISMATCH, RELEASE_REVOKED or any code of
 * verifyTlogProof/decodeLeaf.
 */
import { VerifierError } from '../errors.ts';
import { fromBase64, toHex } from '../encoding/bytes.ts';
import { verifyTlogProof, type TlogProofOptions } from '../tlog/tlog-proof.ts';
import { decodeLeaf, type DecodedEntry } from '../release/leaf.ts';
import type { Checkpoint } from '../tlog/checkpoint.ts';

export interface LoggedRelease {
  index: number;
  /** as stated by the log (see the file comment) */
  status: 'active';
  entry: DecodedEntry;
  checkpoint: Checkpoint;
  /** Witnesses whose cosignatures satisfied opts.witnessPolicy (empty without one). */
  cosigners: Array<{ name: string; timestamp: number }>;
}

export type LogCheckOptions = Omit<TlogProofOptions, 'leaf' | 'leafHash'>;

function malformed(reason: string): never {
  throw new VerifierError('MALFORMED', `log lookup answer: ${reason}`, { reason });
}

export function verifyLoggedPcr0(answer: unknown, pcr0: Uint8Array, opts: LogCheckOptions): LoggedRelease {
  if (typeof answer !== 'object' || answer === null) malformed('not a JSON object');
  const a = answer as Record<string, unknown>;
  if (!Number.isSafeInteger(a.index) || (a.index as number) < 0) malformed('index must be a non-negative integer');
  if (a.status !== 'active' && a.status !== 'revoked') malformed('status must be "active" or "revoked"');
  if (typeof a.entry !== 'string' || typeof a.proof !== 'string') malformed('entry and proof must be strings');
  let leaf: Uint8Array;
  try {
    leaf = fromBase64(a.entry);
  } catch {
    malformed('entry is not base64');
  }
  const proven = verifyTlogProof(a.proof, { ...opts, leaf });
  if (proven.index !== a.index)
    throw new VerifierError(
      'PROOF_INVALID',
      `the proof is for index ${proven.index}, the answer says ${a.index as number}`,
      { index: a.index, proofIndex: proven.index },
    );
  const entry = decodeLeaf(leaf);
  const want = toHex(pcr0);
  if (entry.kind !== 'release' || entry.pcr0 !== want)
    throw new VerifierError('PCR_MISMATCH', `log entry ${proven.index} is not a release of this PCR0`, {
      pcr: 0,
      index: proven.index,
      kind: entry.kind,
      expected: want,
      actual: entry.pcr0,
    });
  if (a.status === 'revoked')
    throw new VerifierError('RELEASE_REVOKED', `the release at log index ${proven.index} has been revoked`, {
      index: proven.index,
      pcr0: want,
      revokedBy: Number.isSafeInteger(a.revokedBy) ? a.revokedBy : null,
    });
  return { index: proven.index, status: 'active', entry, checkpoint: proven.checkpoint, cosigners: proven.cosigners };
}

/** The answer when the log has no release with this PCR0 (HTTP 404). */
export function notLogged(pcr0: Uint8Array, log: string): VerifierError {
  return new VerifierError('RELEASE_NOT_LOGGED', `PCR0 ${toHex(pcr0)} is not a release in ${log}`, {
    pcr0: toHex(pcr0),
    log,
  });
}
