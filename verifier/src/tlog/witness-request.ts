/**
 * C2SP tlog-witness v1.0.0 (https://c2sp.org/tlog-witness) add-checkpoint request body:
 *   old <size>\n
 *   <base64 consistency-proof hash>\n   (0..63 lines, RFC 6962 order)
 *   \n
 *   <signed checkpoint note>
 * Only the codec lives here; the witness's state (last cosigned size) and its HTTP status
 * mapping (404/403/400/409/422) belong to the witness server, which checks the checkpoint
 * with openCheckpoint and the proof with checkCheckpointConsistency.
 */
import { VerifierError } from '../errors.ts';
import { fromBase64, toBase64 } from '../encoding/bytes.ts';
import { HASH_SIZE } from './hash.ts';
import { MAX_NOTE_BYTES } from '../note/note.ts';
import { parseTreeSize } from './checkpoint.ts';

/** At most this many consistency-proof lines (the spec's 63). */
export const MAX_CONSISTENCY_LINES = 63;

export interface AddCheckpointRequest {
  oldSize: number;
  proof: Uint8Array[];
  /** The signed checkpoint note, verbatim. */
  checkpoint: string;
}

function bad(reason: string): VerifierError {
  return new VerifierError('MALFORMED', `malformed add-checkpoint body: ${reason}`, { reason });
}

/** Formats an add-checkpoint request body. Throws TypeError on unrepresentable input. */
export function formatAddCheckpoint(r: AddCheckpointRequest): string {
  if (!Number.isSafeInteger(r.oldSize) || r.oldSize < 0)
    throw new TypeError('oldSize must be a safe non-negative integer');
  if (r.proof.length > MAX_CONSISTENCY_LINES || r.proof.some((h) => h.length !== HASH_SIZE))
    throw new TypeError('proof must be at most 63 hashes of 32 bytes');
  return [`old ${r.oldSize}`, ...r.proof.map(toBase64), '', r.checkpoint].join('\n');
}

/** Parses an add-checkpoint body strictly. Throws MALFORMED (OVERSIZED above the note limit). */
export function parseAddCheckpoint(body: string): AddCheckpointRequest {
  if (typeof body !== 'string') throw bad('not a string');
  if (body.length > MAX_NOTE_BYTES + 4096)
    throw new VerifierError('OVERSIZED', 'add-checkpoint body too large', { limit: MAX_NOTE_BYTES });
  const blank = body.indexOf('\n\n');
  if (blank < 0) throw bad('no empty line before the checkpoint');
  const lines = body.slice(0, blank).split('\n');
  const first = lines.shift()!;
  const oldSize = first.startsWith('old ') ? parseTreeSize(first.slice(4)) : undefined;
  if (oldSize === undefined) throw bad('first line must be "old <size>"');
  if (lines.length > MAX_CONSISTENCY_LINES) throw bad(`more than ${MAX_CONSISTENCY_LINES} proof lines`);
  const proof = lines.map((l, i) => {
    let h: Uint8Array;
    try {
      h = fromBase64(l);
    } catch {
      throw bad(`proof line ${i} is not base64`);
    }
    if (h.length !== HASH_SIZE) throw bad(`proof line ${i} is not 32 bytes`);
    return h;
  });
  const checkpoint = body.slice(blank + 2);
  if (checkpoint.length === 0) throw bad('missing checkpoint');
  return { oldSize, proof, checkpoint };
}
