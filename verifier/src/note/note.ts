/**
 * C2SP signed-note v1.0.0 (https://c2sp.org/signed-note), following
 * golang.org/x/mod/sumdb/note Sign/Open:
 *   note = text (UTF-8, ends in "\n", no control characters but "\n")
 *          "\n"
 *          1..MAX_SIGNATURES lines "— <name> <base64(keyID[4] ‖ signature)>\n"
 * The LAST blank line separates text from signatures. Opening ignores signatures from
 * unknown (name, key ID) pairs, rejects the note if a known key's signature is bad, and
 * requires at least one verified signature. Duplicate signature lines are dropped.
 */
import { VerifierError } from '../errors.ts';
import { concatBytes, fromBase64, toBase64, utf8 } from '../encoding/bytes.ts';
import { isValidKeyName, type NoteSigner, type NoteVerifier } from './keys.ts';

/** Notes are refused above this many signature lines (the spec requires ≥ 16; x/mod uses 100). */
export const MAX_SIGNATURES = 100;
/** Notes are refused above this many bytes (OVERSIZED). */
export const MAX_NOTE_BYTES = 1 << 20;

const SIG_PREFIX = '\u2014 ';
const BAD_CHARS = /[\x00-\x09\x0b-\x1f]|\p{Cs}/u;
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** One signature line of a note. `sig` excludes the 4-byte key ID. */
export interface NoteSignature {
  name: string;
  keyId: number;
  sig: Uint8Array;
}

/** A note split into text and parsed (unverified) signature lines. */
export interface SplitNote {
  text: string;
  signatures: Array<NoteSignature & { line: string }>;
}

/** Result of openNote: the text, verified signatures and ignored unknown ones. */
export interface OpenedNote {
  text: string;
  sigs: NoteSignature[];
  unverified: NoteSignature[];
}

function malformed(reason: string): VerifierError {
  return new VerifierError('NOTE_MALFORMED', `malformed note: ${reason}`, { reason });
}

/**
 * A note as a string: a string is checked against MAX_NOTE_BYTES (OVERSIZED), bytes must
 * also be UTF-8 (NOTE_MALFORMED). splitNote does this first; callers that keep the note as
 * received decode once here and split the string.
 */
export function noteString(msg: string | Uint8Array): string {
  if (typeof msg === 'string') {
    if (msg.length > MAX_NOTE_BYTES) throw new VerifierError('OVERSIZED', 'note too large', { limit: MAX_NOTE_BYTES });
    return msg;
  }
  if (!(msg instanceof Uint8Array)) throw new TypeError('note must be a string or Uint8Array');
  if (msg.length > MAX_NOTE_BYTES)
    throw new VerifierError('OVERSIZED', 'note too large', { limit: MAX_NOTE_BYTES, size: msg.length });
  try {
    return decoder.decode(msg);
  } catch {
    throw malformed('not valid UTF-8');
  }
}

/** True if `text` may be signed: non-empty, ends in "\n", no control characters but "\n". */
export function isValidNoteText(text: string): boolean {
  return typeof text === 'string' && text.endsWith('\n') && !BAD_CHARS.test(text);
}

/**
 * Splits a note into its text and signature lines without verifying anything. Throws
 * NOTE_MALFORMED (or OVERSIZED) on any deviation from the format.
 */
export function splitNote(msg: string | Uint8Array): SplitNote {
  const s = noteString(msg);
  if (BAD_CHARS.test(s)) throw malformed('control character or invalid UTF-8');
  const split = s.lastIndexOf('\n\n');
  if (split < 0) throw malformed('no blank line before the signatures');
  const text = s.slice(0, split + 1);
  const block = s.slice(split + 2);
  if (block.length === 0 || !block.endsWith('\n'))
    throw malformed('signature block must be non-empty and end in a newline');
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > MAX_SIGNATURES) throw malformed(`more than ${MAX_SIGNATURES} signatures`);
  return { text, signatures: lines.map(parseSignatureLine) };
}

function parseSignatureLine(line: string): NoteSignature & { line: string } {
  if (!line.startsWith(SIG_PREFIX)) throw malformed('signature line must start with "— "');
  const rest = line.slice(SIG_PREFIX.length);
  const sp = rest.indexOf(' ');
  const name = sp < 0 ? rest : rest.slice(0, sp);
  const b64 = sp < 0 ? '' : rest.slice(sp + 1);
  let raw: Uint8Array;
  try {
    raw = fromBase64(b64);
  } catch {
    throw malformed('signature is not base64');
  }
  if (!isValidKeyName(name) || raw.length < 5) throw malformed('bad signature line');
  const keyId = new DataView(raw.buffer, raw.byteOffset, 4).getUint32(0, false);
  return { name, keyId, sig: raw.slice(4), line };
}

/** Formats one signature line, without its trailing newline. */
export function formatSignatureLine(name: string, keyId: number, sig: Uint8Array): string {
  const id = new Uint8Array(4);
  new DataView(id.buffer).setUint32(0, keyId, false);
  return `${SIG_PREFIX}${name} ${toBase64(concatBytes(id, sig))}`;
}

/** Signature lines (each ending in "\n") by `signers` over `text`. */
export function signatureLines(text: string, signers: NoteSigner[]): string {
  if (!isValidNoteText(text)) throw malformed('text must end in a newline and contain no control characters');
  const msg = utf8(text);
  let out = '';
  for (const s of signers) {
    if (!isValidKeyName(s.name)) throw new TypeError(`invalid signer name ${JSON.stringify(s.name)}`);
    out += formatSignatureLine(s.name, s.keyId, s.sign(msg)) + '\n';
  }
  return out;
}

/** Signs `text` with every signer (at least one) and returns the note. */
export function signNote(text: string, signers: NoteSigner[]): string {
  if (signers.length === 0) throw new TypeError('signNote needs at least one signer');
  if (signers.length > MAX_SIGNATURES) throw new TypeError(`signNote: more than ${MAX_SIGNATURES} signers`);
  return `${text}\n${signatureLines(text, signers)}`;
}

function verifierMap(verifiers: NoteVerifier[]): Map<string, NoteVerifier> {
  const m = new Map<string, NoteVerifier>();
  for (const v of verifiers) {
    const k = `${v.name}\n${v.keyId}`;
    if (m.has(k)) throw new TypeError(`ambiguous verifiers for ${v.name}`);
    m.set(k, v);
  }
  return m;
}

/**
 * Opens a signed note. Throws NOTE_MALFORMED/OVERSIZED on bad format, NOTE_BAD_SIGNATURE if
 * a known key's signature fails (evidence: name, keyId, text), NOTE_UNVERIFIED if no known
 * key signed (evidence: the signers seen).
 */
export function openNote(msg: string | Uint8Array, verifiers: NoteVerifier[]): OpenedNote {
  return openSplitNote(splitNote(msg), verifiers);
}

/** openNote on a note already split (so one pass over a note splits it once). */
export function openSplitNote({ text, signatures }: SplitNote, verifiers: NoteVerifier[]): OpenedNote {
  const known = verifierMap(verifiers);
  const textBytes = utf8(text);
  const seen = new Set<string>();
  const sigs: NoteSignature[] = [];
  const unverified: NoteSignature[] = [];
  for (const s of signatures) {
    const v = known.get(`${s.name}\n${s.keyId}`);
    if (v === undefined) {
      if (!seen.has(s.line)) unverified.push({ name: s.name, keyId: s.keyId, sig: s.sig });
      seen.add(s.line);
      continue;
    }
    const id = `${s.name}\n${s.keyId}`;
    if (seen.has(id)) continue;
    seen.add(id);
    if (!v.verify(textBytes, s.sig)) {
      throw new VerifierError('NOTE_BAD_SIGNATURE', `invalid signature for key ${s.name}`, {
        name: s.name,
        keyId: s.keyId,
        text,
      });
    }
    sigs.push({ name: s.name, keyId: s.keyId, sig: s.sig });
  }
  if (sigs.length === 0) {
    throw new VerifierError('NOTE_UNVERIFIED', 'note has no verifiable signature from a known key', {
      text,
      signers: unverified.map((u) => ({ name: u.name, keyId: u.keyId })),
    });
  }
  return { text, sigs, unverified };
}
