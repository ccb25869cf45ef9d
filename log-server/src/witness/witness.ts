/**
 * The witness's decision procedure for c2sp.org/tlog-witness v1.0.0 `add-checkpoint`, apart
 * from HTTP. In the spec's order:
 *   unknown origin → 404 (WITNESS_UNKNOWN_LOG); no valid signature by the pinned log key → 403
 *   (WITNESS_UNTRUSTED); old > size → 400 (MALFORMED_REQUEST); old ≠ the size last cosigned
 *   → 409 (WITNESS_CONFLICT, evidence.size = ours); the consistency proof fails, a proof is
 *   sent with old 0, or old = size with another root → 422 (WITNESS_INCONSISTENT, as at spec
 *   HEAD; v1.0.0 used 409 for the last case) with both checkpoints kept as evidence;
 *   otherwise the new state is persisted and only then the cosignature lines are returned.
 * Checking and cosigning use #verifier (openCheckpoint, checkCheckpointConsistency,
 * cosignature/v1); nothing here hashes or signs by hand.
 */
import { checkCheckpointConsistency, isVerifierError, noteVerifier, openCheckpoint, parseCheckpoint } from '#verifier';
import { EMPTY_ROOT, parseAddCheckpoint, signatureLines, splitNote } from '#verifier/build';
import type { Checkpoint, NoteVerifier } from '#verifier';
import type { AddCheckpointRequest, NoteSigner } from '#verifier/build';
import { LogError } from '../errors.ts';
import type { LogRecord, WitnessState } from './state.ts';

/** A log this witness follows: its origin and pinned Ed25519 verifier key. */
export interface WitnessedLog {
  origin: string;
  vkey: string;
}

export interface WitnessOptions {
  state: WitnessState;
  /** A cosignature/v1 signer (cosignatureSigner from #verifier/build). */
  signer: NoteSigner;
  logs: WitnessedLog[];
  /** Where refusals worth an operator's attention are reported (default: nowhere). */
  log?: (msg: string) => void;
}

const CONSISTENCY_CODES = new Set(['INCONSISTENT', 'PROOF_INVALID', 'PROOF_SIZE', 'CHECKPOINT_STALE']);

export class Witness {
  private readonly verifiers = new Map<string, NoteVerifier>();

  constructor(private readonly opts: WitnessOptions) {
    for (const l of opts.logs) {
      const v = noteVerifier(l.vkey);
      if (v.name !== l.origin) throw new TypeError(`log key name ${v.name} is not the origin ${l.origin}`);
      this.verifiers.set(l.origin, v);
    }
  }

  get name(): string {
    return this.opts.signer.name;
  }

  /** Handles one add-checkpoint body; resolves to the cosignature lines, or rejects with a LogError. */
  async addCheckpoint(body: string): Promise<string> {
    const req = parseRequest(body);
    const { checkpoint, text } = this.open(req.checkpoint);
    if (req.oldSize > checkpoint.size) {
      throw new LogError('MALFORMED_REQUEST', 'old size is larger than the checkpoint size', {
        old: req.oldSize,
        size: checkpoint.size,
      });
    }
    const lines = signatureLines(text, [this.opts.signer]);
    await this.opts.state.update(checkpoint.origin, (current) => this.check(req, checkpoint, current, lines));
    return lines;
  }

  /**
   * The latest checkpoint this witness cosigned for `origin`, as a signed note: the log's note
   * as it was submitted, followed by this witness's cosignature line(s). A record from state
   * written before cosignatures were kept is cosigned now (it is still the latest this witness
   * verified). Unknown origin: WITNESS_UNKNOWN_LOG; known but never cosigned: NOT_FOUND.
   */
  latestCheckpoint(origin: string): string {
    if (!this.verifiers.has(origin))
      throw new LogError('WITNESS_UNKNOWN_LOG', 'this witness does not follow that log', { origin });
    const r = this.opts.state.latest(origin);
    if (r === null) throw new LogError('NOT_FOUND', 'this witness has cosigned no checkpoint of that log', { origin });
    const lines = r.cosignature ?? signatureLines(splitNote(r.checkpoint).text, [this.opts.signer]);
    return r.checkpoint + lines;
  }

  /** Finds the log by origin and checks its signature (404 / 403). */
  private open(note: string): { checkpoint: Checkpoint; text: string } {
    let origin: string;
    try {
      origin = parseCheckpoint(splitNote(note).text).origin;
    } catch (e) {
      throw new LogError('MALFORMED_REQUEST', 'the checkpoint is malformed', {
        reason: (e as Error).message.slice(0, 200),
      });
    }
    const v = this.verifiers.get(origin);
    if (!v) throw new LogError('WITNESS_UNKNOWN_LOG', 'this witness does not follow that log', { origin });
    try {
      const opened = openCheckpoint(note, v, origin);
      return { checkpoint: opened.checkpoint, text: opened.opened.text };
    } catch (e) {
      throw new LogError('WITNESS_UNTRUSTED', 'the checkpoint carries no valid signature by the log key', {
        origin,
        reason: isVerifierError(e) ? e.code : 'error',
      });
    }
  }

  /** Under the state lock: 409 on a size mismatch, 422 on an inconsistent checkpoint; else the new record. */
  private check(
    req: AddCheckpointRequest,
    next: Checkpoint,
    current: LogRecord | null,
    cosignature: string,
  ): LogRecord | null {
    const known = current?.size ?? 0;
    if (req.oldSize !== known) {
      throw new LogError('WITNESS_CONFLICT', 'old size is not the size this witness last cosigned', {
        size: known,
        old: req.oldSize,
        origin: next.origin,
      });
    }
    const older: Checkpoint = current
      ? parseCheckpoint(splitNote(current.checkpoint).text)
      : { origin: next.origin, size: 0, rootHash: EMPTY_ROOT, extensions: [] };
    try {
      checkCheckpointConsistency(req.proof, older, next, {
        ...(current ? { older: current.checkpoint } : {}),
        newer: req.checkpoint,
      });
    } catch (e) {
      if (!isVerifierError(e) || !CONSISTENCY_CODES.has(e.code)) throw e;
      const evidence = {
        reason: e.code,
        older: current?.checkpoint ?? null,
        newer: req.checkpoint,
        oldSize: req.oldSize,
        proof: req.proof.map((h) => Buffer.from(h).toString('base64')),
      };
      const file = this.opts.state.recordEvidence(next.origin, evidence);
      this.opts.log?.(
        `witness: refused an inconsistent checkpoint from ${next.origin} (${e.code}); evidence in ${file}`,
      );
      throw new LogError(
        'WITNESS_INCONSISTENT',
        'the checkpoint is not consistent with the one this witness cosigned',
        { origin: next.origin, reason: e.code, evidence: file },
      );
    }
    if (current && current.size === next.size) return null; // same tree head again: cosign, nothing to store
    return { size: next.size, checkpoint: req.checkpoint, cosignature };
  }
}

function parseRequest(body: string): AddCheckpointRequest {
  try {
    return parseAddCheckpoint(body);
  } catch (e) {
    throw new LogError('MALFORMED_REQUEST', 'malformed add-checkpoint body', {
      reason: isVerifierError(e) ? e.code : 'error',
    });
  }
}
