/**
 * Opening a checkpoint the way a relying party must before trusting anything under it: the
 * log's signature and origin (openCheckpoint), the witness quorum (checkWitnessPolicy) and,
 * optionally, freshness — the newest policy cosignature at most `maxAgeSeconds` old, so a log
 * cannot keep showing one party an old view of itself. Used by verifyTlogProof and by the log
 * client, so both judge a checkpoint by the same rules.
 */
import { VerifierError } from '../errors.ts';
import type { NoteVerifier } from '../note/keys.ts';
import { noteString, splitNote, type SplitNote } from '../note/note.ts';
import { openSplitCheckpoint, type Checkpoint } from './checkpoint.ts';
import { checkSplitWitnessPolicy, type WitnessPolicy } from '../note/cosignature.ts';

export interface CheckpointPolicy {
  logVerifier: NoteVerifier;
  origin: string;
  /** Witness quorum; `now` defaults to opts.now, then the system clock. */
  witnessPolicy?: Omit<WitnessPolicy, 'now'> & { now?: number };
  /** Unix seconds. */
  now?: number;
  /** The freshest policy cosignature must be at most this old (needs witnessPolicy), else CHECKPOINT_STALE. */
  maxAgeSeconds?: number;
}

export interface WitnessedCheckpoint {
  checkpoint: Checkpoint;
  /** The note as received, cosignatures included. */
  note: string;
  /** Witnesses whose cosignatures satisfied the policy (empty without one). */
  cosigners: Array<{ name: string; timestamp: number }>;
}

/** Throws VerifierError (any code of openCheckpoint/checkWitnessPolicy, CHECKPOINT_STALE). */
export function openWitnessedCheckpoint(
  note: string | Uint8Array,
  opts: CheckpointPolicy,
  read?: { split: SplitNote; checkpoint: () => Checkpoint },
): WitnessedCheckpoint {
  const noteText = noteString(note);
  // split once, for the log's signature and the cosignatures (or already split and parsed by the caller: read)
  const split = read?.split ?? splitNote(noteText);
  const opened = openSplitCheckpoint(split, opts.logVerifier, opts.origin, read?.checkpoint);
  const now = opts.witnessPolicy?.now ?? opts.now ?? Date.now() / 1000;
  const cosigners = opts.witnessPolicy ? checkSplitWitnessPolicy(split, { ...opts.witnessPolicy, now }).cosigners : [];
  if (opts.maxAgeSeconds !== undefined) {
    if (!opts.witnessPolicy) throw new TypeError('maxAgeSeconds needs a witnessPolicy: only cosignatures carry time');
    const newest = Math.max(-Infinity, ...cosigners.map((c) => c.timestamp));
    if (!(now - newest <= opts.maxAgeSeconds)) {
      throw new VerifierError(
        'CHECKPOINT_STALE',
        `no witness cosigned the checkpoint in the last ${opts.maxAgeSeconds} s`,
        {
          now,
          maxAgeSeconds: opts.maxAgeSeconds,
          newest: Number.isFinite(newest) ? newest : null,
          checkpoint: noteText,
        },
      );
    }
  }
  return { checkpoint: opened.checkpoint, note: noteText, cosigners };
}
