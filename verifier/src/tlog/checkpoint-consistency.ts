/**
 * Append-only check between two checkpoints of one log (RFC 9162 §2.1.4 consistency, with
 * the tlog-witness v1.0.0 treatment of an old size of 0: no proof lines, and the empty-tree
 * root). Failures carry BOTH checkpoints as evidence — two signed notes that cannot both be
 * honest are exactly what a complaint about a split view needs.
 */
import { VerifierError, isVerifierError } from '../errors.ts';
import { bytesEqual } from '../encoding/bytes.ts';
import { EMPTY_ROOT } from './hash.ts';
import { checkConsistency } from './verify.ts';
import { formatCheckpoint, type Checkpoint } from './checkpoint.ts';

/**
 * Checks that `newer` is an append-only extension of `older`. `notes` (the signed notes the
 * checkpoints came from) are attached as evidence when given, else the checkpoint texts.
 * Throws CHECKPOINT_ORIGIN (different logs), CHECKPOINT_STALE (newer is smaller: a
 * rollback), PROOF_SIZE / PROOF_INVALID (bad proof shape), INCONSISTENT (a fork).
 */
export function checkCheckpointConsistency(
  proof: Uint8Array[],
  older: Checkpoint,
  newer: Checkpoint,
  notes: { older?: string; newer?: string } = {},
): void {
  const evidence = { older: notes.older ?? formatCheckpoint(older), newer: notes.newer ?? formatCheckpoint(newer) };
  if (older.origin !== newer.origin) {
    throw new VerifierError('CHECKPOINT_ORIGIN', 'checkpoints are from different logs', {
      expected: older.origin,
      got: newer.origin,
      ...evidence,
    });
  }
  if (newer.size < older.size) {
    throw new VerifierError(
      'CHECKPOINT_STALE',
      `checkpoint of size ${newer.size} is older than the known size ${older.size}`,
      evidence,
    );
  }
  if (older.size === 0) {
    if (!bytesEqual(older.rootHash, EMPTY_ROOT))
      throw new VerifierError('INCONSISTENT', 'a size-0 checkpoint must carry the empty-tree root', evidence);
    if (proof.length !== 0)
      throw new VerifierError('PROOF_SIZE', 'a consistency proof from size 0 must be empty', {
        ...evidence,
        got: proof.length,
        want: 0,
      });
    if (newer.size === 0 && !bytesEqual(newer.rootHash, EMPTY_ROOT))
      throw new VerifierError('INCONSISTENT', 'a size-0 checkpoint must carry the empty-tree root', evidence);
    return;
  }
  try {
    checkConsistency(proof, older.size, newer.size, older.rootHash, newer.rootHash);
  } catch (e) {
    if (!isVerifierError(e)) throw e;
    throw new VerifierError(e.code, e.message, { ...e.evidence, ...evidence }, { cause: e });
  }
}
