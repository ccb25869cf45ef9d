/**
 * A log held to what it showed before: the current checkpoint (verified by the log client:
 * signature, origin, witness policy, freshness) must be an append-only extension of the last
 * one this user verified, proven by the log's own consistency proof. A log that rewrote history
 * is LOG_INCONSISTENT with both signed checkpoints as evidence; one that shows a smaller tree than
 * already seen is CHECKPOINT_STALE (a rollback, or a fork that has not caught up), with both too. Only a checkpoint that passed all of this is saved.
 */
import {
  VerifierError,
  isVerifierError,
  noteVerifier,
  openCheckpoint,
  type Checkpoint,
  type LogClient,
  type WitnessedCheckpoint,
} from '../index.ts';
import type { CheckpointStore } from './state.ts';

/** Codes of a consistency check that mean the two checkpoints cannot both be honest. */
const FORK_CODES = new Set(['INCONSISTENT', 'ROOT_MISMATCH', 'PROOF_INVALID', 'PROOF_SIZE']);

export function logInconsistent(older: string, newer: string, cause: unknown, context: string): VerifierError {
  const code = isVerifierError(cause) ? cause.code : 'INCONSISTENT';
  return new VerifierError(
    'LOG_INCONSISTENT',
    `the log rewrote history: ${context} (${code})`,
    { older, newer, check: code },
    { cause },
  );
}

/** Proves `newer` extends `older` through the log; a failure that is a fork becomes LOG_INCONSISTENT. */
export async function requireConsistent(
  client: LogClient,
  older: { checkpoint: Checkpoint; note: string },
  newer: { checkpoint: Checkpoint; note: string },
  context: string,
): Promise<void> {
  try {
    await client.consistencyProof({ cosigners: [], ...older }, { cosigners: [], ...newer });
  } catch (e) {
    if (isVerifierError(e) && FORK_CODES.has(e.code)) throw logInconsistent(older.note, newer.note, e, context);
    throw e;
  }
}

export interface Remembered {
  current: WitnessedCheckpoint;
  /** The checkpoint saved by an earlier call, if any. */
  previous: Checkpoint | null;
}

/** The log's current checkpoint, held against the saved one; saves it once it is proven. */
export async function currentCheckpoint(
  client: LogClient,
  store: CheckpointStore,
  logKey: string,
): Promise<Remembered> {
  const current = await client.checkpoint();
  const savedNote = store.load(logKey);
  if (savedNote === null) {
    store.save(logKey, current.note);
    return { current, previous: null };
  }
  const saved = openCheckpoint(savedNote, noteVerifier(logKey), client.origin);
  const a = saved.checkpoint;
  const b = current.checkpoint;
  if (b.size < a.size) {
    throw new VerifierError(
      'CHECKPOINT_STALE',
      `the log shows a tree of ${b.size}; you already verified its tree of ${a.size}`,
      { older: current.note, newer: savedNote },
    );
  }
  await requireConsistent(
    client,
    { checkpoint: a, note: savedNote },
    current,
    `the tree of ${a.size} you verified before is not a prefix of the tree of ${b.size} it shows now`,
  );
  if (b.size > a.size) store.save(logKey, current.note);
  return { current, previous: a };
}
