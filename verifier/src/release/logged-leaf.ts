/**
 * "This exact leaf is in the log": the check an enclave makes before it releases a delivery's
 * outputs (issue 19), and `keycast forward` makes before it writes them. Input: the Sigstore
 * TransparencyLogEntry a Keycast log answers `POST /add-entry` with (tle.ts), the leaf bytes the
 * checker itself built, and the log's note verifier key. Checks, in order:
 *  - `canonicalizedBody` is exactly `leaf` (not a leaf the log or a relay chose);
 *  - the checkpoint opens under the log key (and, when given, has exactly `origin`);
 *  - `inclusionProof.treeSize`/`rootHash` are the checkpoint's, the two `logIndex` fields agree;
 *  - the RFC 6962 proof of SHA-256(0x00 ‖ leaf) at that index leads to the checkpoint's root.
 * Throws TLE_INVALID with `evidence.check` naming the step that failed. Pure.
 */
import { VerifierError } from '../errors.ts';
import { bytesEqual, fromBase64 } from '../encoding/bytes.ts';
import { isObject } from '../encoding/canonical-json.ts';
import { hashLeaf } from '../tlog/hash.ts';
import { checkInclusion } from '../tlog/index.ts';
import { openCheckpoint, parseTreeSize, type Checkpoint } from '../tlog/checkpoint.ts';
import type { NoteVerifier } from '../note/keys.ts';

export interface LoggedLeaf {
  index: number;
  checkpoint: Checkpoint;
  /** the signed checkpoint note as the log gave it (cosignature lines included) */
  note: string;
}

/** A TLE is a few kB: its leaf (≤ 64 KiB), ≤ 64 proof hashes and a checkpoint with cosignatures. */
export const MAX_TLE_PROOF_HASHES = 64;

function invalid(check: string, message: string, evidence: Record<string, unknown> = {}, cause?: unknown): never {
  throw new VerifierError('TLE_INVALID', message, { check, ...evidence }, cause === undefined ? undefined : { cause });
}

function b64(v: unknown, field: string): Uint8Array {
  if (typeof v !== 'string') invalid('shape', `${field} must be base64`, { field });
  try {
    return fromBase64(v);
  } catch {
    return invalid('shape', `${field} must be canonical base64`, { field });
  }
}

function int(v: unknown, field: string): number {
  const n = typeof v === 'string' ? parseTreeSize(v) : undefined;
  if (n === undefined) invalid('shape', `${field} must be a decimal integer string`, { field });
  return n;
}

/** Checks that `tle` proves `leaf` under a checkpoint signed by `log`. Returns its index and checkpoint. */
export function checkLoggedLeaf(tle: unknown, leaf: Uint8Array, log: NoteVerifier, origin?: string): LoggedLeaf {
  if (!isObject(tle) || !isObject(tle.inclusionProof))
    invalid('shape', 'the log entry must be a TransparencyLogEntry with an inclusionProof');
  const p = tle.inclusionProof;
  const body = b64(tle.canonicalizedBody, 'canonicalizedBody');
  if (!bytesEqual(body, leaf)) invalid('leaf', 'the log entry is not the leaf that was submitted');
  const index = int(tle.logIndex, 'logIndex');
  if (int(p.logIndex, 'inclusionProof.logIndex') !== index)
    invalid('shape', 'inclusionProof.logIndex differs from logIndex');
  const env = isObject(p.checkpoint) ? p.checkpoint.envelope : undefined;
  if (typeof env !== 'string' || env.length > 256 * 1024) invalid('shape', 'the log entry carries no checkpoint');
  let checkpoint: Checkpoint;
  try {
    checkpoint = openCheckpoint(env, log, origin).checkpoint;
  } catch (e) {
    return invalid('checkpoint', 'the checkpoint is not signed by the pinned log key (or names another origin)', {}, e);
  }
  const size = int(p.treeSize, 'inclusionProof.treeSize');
  const root = b64(p.rootHash, 'inclusionProof.rootHash');
  if (checkpoint.size !== size || !bytesEqual(checkpoint.rootHash, root))
    invalid('checkpoint', 'inclusionProof treeSize/rootHash differ from the signed checkpoint', {
      checkpointSize: checkpoint.size,
      treeSize: size,
    });
  if (!Array.isArray(p.hashes) || p.hashes.length > MAX_TLE_PROOF_HASHES)
    invalid('shape', `inclusionProof.hashes must be a list of at most ${MAX_TLE_PROOF_HASHES}`);
  const hashes = p.hashes.map((h, j) => b64(h, `inclusionProof.hashes[${j}]`));
  try {
    checkInclusion(hashes, index, size, hashLeaf(leaf), checkpoint.rootHash);
  } catch (e) {
    invalid('inclusion', 'the inclusion proof does not lead to the checkpoint root', { index, treeSize: size }, e);
  }
  return { index, checkpoint, note: env };
}
