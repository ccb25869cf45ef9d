/**
 * C2SP tlog-checkpoint v1.0.0 (https://c2sp.org/tlog-checkpoint): the note text
 *   <origin>\n<tree size, canonical decimal>\n<base64 root hash>\n[<extension line>\n]*
 * Origins are non-empty and free of control characters (the spec only RECOMMENDS no spaces);
 * sizes are canonical decimals below 2^53; roots are canonical base64 of 32 bytes;
 * extension lines are non-empty and otherwise opaque.
 */
import { VerifierError } from '../errors.ts';
import { fromBase64, toBase64 } from '../encoding/bytes.ts';
import { HASH_SIZE } from './hash.ts';
import { noteString, openSplitNote, splitNote, type OpenedNote, type SplitNote } from '../note/note.ts';
import type { NoteVerifier } from '../note/keys.ts';

export interface Checkpoint {
  origin: string;
  size: number;
  rootHash: Uint8Array;
  extensions: string[];
}

function bad(reason: string, evidence: Record<string, unknown> = {}): VerifierError {
  return new VerifierError('CHECKPOINT_MALFORMED', `malformed checkpoint: ${reason}`, { reason, ...evidence });
}

const ORIGIN_RE = /^[^\p{Cc}\p{Cs}]+$/u; // spaces are allowed: sum.golang.org's origin is "go.sum database tree"
const SIZE_RE = /^(?:0|[1-9][0-9]{0,15})$/;

/** Parses a canonical decimal tree size below 2^53, or returns undefined. */
export function parseTreeSize(s: string): number | undefined {
  if (!SIZE_RE.test(s)) return undefined;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** The note text of a checkpoint (ends in "\n"). Throws TypeError on unrepresentable input. */
export function formatCheckpoint(c: Checkpoint): string {
  if (!ORIGIN_RE.test(c.origin)) throw new TypeError('checkpoint origin must be non-empty without control characters');
  if (!Number.isSafeInteger(c.size) || c.size < 0)
    throw new TypeError('checkpoint size must be a safe non-negative integer');
  if (!(c.rootHash instanceof Uint8Array) || c.rootHash.length !== HASH_SIZE)
    throw new TypeError('checkpoint root must be 32 bytes');
  for (const e of c.extensions)
    if (e.length === 0 || /[\n\p{Cc}\p{Cs}]/u.test(e))
      throw new TypeError('checkpoint extension lines must be non-empty single lines');
  return [c.origin, String(c.size), toBase64(c.rootHash), ...c.extensions].join('\n') + '\n';
}

/** Parses checkpoint note text. Throws CHECKPOINT_MALFORMED. */
export function parseCheckpoint(text: string): Checkpoint {
  if (typeof text !== 'string' || !text.endsWith('\n')) throw bad('text must end in a newline');
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) throw bad('needs origin, size and root lines');
  const [origin, sizeLine, rootLine, ...extensions] = lines as [string, string, string, ...string[]];
  if (!ORIGIN_RE.test(origin)) throw bad('bad origin line');
  const size = parseTreeSize(sizeLine);
  if (size === undefined)
    throw bad('tree size is not a canonical decimal below 2^53', { sizeLine: sizeLine.slice(0, 64) });
  let rootHash: Uint8Array;
  try {
    rootHash = fromBase64(rootLine);
  } catch {
    throw bad('root hash is not base64');
  }
  if (rootHash.length !== HASH_SIZE) throw bad('root hash is not 32 bytes');
  if (extensions.some((e) => e.length === 0 || /[\p{Cc}\p{Cs}]/u.test(e))) throw bad('empty extension line');
  return { origin, size, rootHash, extensions };
}

/**
 * Opens a signed checkpoint with the log's verifier: the log's signature must verify (other
 * signatures, e.g. cosignatures, are ignored here), the text must parse, and the origin must
 * equal `expectedOrigin` when given (CHECKPOINT_ORIGIN, evidence: expected, got).
 */
export function openCheckpoint(
  note: string | Uint8Array,
  logVerifier: NoteVerifier,
  expectedOrigin?: string,
): { checkpoint: Checkpoint; note: string; opened: OpenedNote } {
  const noteText = noteString(note);
  return { ...openSplitCheckpoint(splitNote(noteText), logVerifier, expectedOrigin), note: noteText };
}

/**
 * openCheckpoint on a note already split (so one pass over a note splits it once); `parsed`
 * gives the checkpoint of `note.text` when the caller already parsed it (it is asked only after
 * the log's signature verified, so a forged note is refused for its signature first).
 */
export function openSplitCheckpoint(
  note: SplitNote,
  logVerifier: NoteVerifier,
  expectedOrigin?: string,
  parsed?: () => Checkpoint,
): { checkpoint: Checkpoint; opened: OpenedNote } {
  const opened = openSplitNote(note, [logVerifier]);
  const checkpoint = parsed && opened.text === note.text ? parsed() : parseCheckpoint(opened.text);
  if (expectedOrigin !== undefined && checkpoint.origin !== expectedOrigin) {
    throw new VerifierError(
      'CHECKPOINT_ORIGIN',
      `checkpoint origin ${JSON.stringify(checkpoint.origin)} is not ${JSON.stringify(expectedOrigin)}`,
      {
        expected: expectedOrigin,
        got: checkpoint.origin,
      },
    );
  }
  return { checkpoint, opened };
}
