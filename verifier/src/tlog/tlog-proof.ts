/**
 * C2SP tlog-proof (https://c2sp.org/tlog-proof, `c2sp.org/tlog-proof@v1`): an
 * offline-verifiable proof that an entry is in a log, seen by witnesses:
 *   c2sp.org/tlog-proof@v1
 *   [extra <base64 opaque data>]
 *   index <canonical decimal>
 *   <base64 inclusion-proof hash>*      (leaf's sibling first, RFC 6962 §2.1.1)
 *   <empty line>
 *   <signed checkpoint note, verbatim, cosignatures included>
 * Verification order (spec): leaf hash, origin and log signature, witness policy, inclusion.
 * The extra data is not authenticated and is returned only for the caller to interpret.
 */
import { VerifierError, isVerifierError } from '../errors.ts';
import { fromBase64, toBase64 } from '../encoding/bytes.ts';
import { HASH_SIZE, hashLeaf } from './hash.ts';
import { checkInclusion } from './verify.ts';
import { MAX_NOTE_BYTES, splitNote, type SplitNote } from '../note/note.ts';
import { parseCheckpoint, parseTreeSize, type Checkpoint } from './checkpoint.ts';
import { openWitnessedCheckpoint, type CheckpointPolicy } from './witnessed-checkpoint.ts';

export const TLOG_PROOF_HEADER = 'c2sp.org/tlog-proof@v1';
/** More proof hashes than a 2^63-leaf tree needs is malformed. */
export const MAX_PROOF_HASHES = 63;

export interface TlogProof {
  index: number;
  extra?: Uint8Array;
  proof: Uint8Array[];
  /** The full signed checkpoint note, cosignatures included. */
  checkpoint: string;
}

function bad(reason: string): VerifierError {
  return new VerifierError('TLOG_PROOF_MALFORMED', `malformed tlog-proof: ${reason}`, { reason });
}

/** Formats a proof. Throws TypeError on an unrepresentable proof. */
export function formatTlogProof(p: TlogProof): string {
  if (!Number.isSafeInteger(p.index) || p.index < 0)
    throw new TypeError('tlog-proof index must be a safe non-negative integer');
  if (p.proof.length > MAX_PROOF_HASHES || p.proof.some((h) => h.length !== HASH_SIZE))
    throw new TypeError('tlog-proof hashes must be 32 bytes, at most 63');
  if (!p.checkpoint.endsWith('\n')) throw new TypeError('tlog-proof checkpoint must be a signed note');
  const extra = p.extra !== undefined && p.extra.length > 0 ? [`extra ${toBase64(p.extra)}`] : [];
  return [TLOG_PROOF_HEADER, ...extra, `index ${p.index}`, ...p.proof.map(toBase64), '', p.checkpoint].join('\n');
}

/** `line` decoded, or undefined if it is not canonical base64. */
function decodeLine(line: string): Uint8Array | undefined {
  try {
    return fromBase64(line);
  } catch {
    return undefined;
  }
}

/** Parses the proof's own lines; the checkpoint is returned unchecked. */
function parseLines(text: string): TlogProof {
  if (typeof text !== 'string') throw bad('not a string');
  if (text.length > MAX_NOTE_BYTES + 4096)
    throw new VerifierError('OVERSIZED', 'tlog-proof too large', { limit: MAX_NOTE_BYTES });
  const blank = text.indexOf('\n\n');
  if (blank < 0) throw bad('no empty line before the checkpoint');
  const lines = text.slice(0, blank).split('\n');
  const checkpoint = text.slice(blank + 2);
  if (lines[0] !== TLOG_PROOF_HEADER) throw bad(`first line must be ${TLOG_PROOF_HEADER}`);
  let next = 1;
  let extra: Uint8Array | undefined;
  if (lines[next]?.startsWith('extra ')) {
    extra = decodeLine(lines[next++]!.slice('extra '.length));
    if (extra === undefined) throw bad('extra is not base64');
    if (extra.length === 0) throw bad('empty extra');
  }
  const indexLine = lines[next++];
  const index = indexLine?.startsWith('index ') ? parseTreeSize(indexLine.slice('index '.length)) : undefined;
  if (index === undefined) throw bad('missing or non-canonical index line');
  if (lines.length - next > MAX_PROOF_HASHES) throw bad(`more than ${MAX_PROOF_HASHES} proof hashes`);
  const proof: Uint8Array[] = [];
  for (let i = 0; next < lines.length; i++) {
    const h = decodeLine(lines[next++]!);
    if (h === undefined) throw bad(`proof hash ${i} is not base64`);
    if (h.length !== HASH_SIZE) throw bad(`proof hash ${i} is not 32 bytes`);
    proof.push(h);
  }
  return extra === undefined ? { index, proof, checkpoint } : { index, extra, proof, checkpoint };
}

/**
 * Parses a proof. Throws TLOG_PROOF_MALFORMED for the proof's own lines, OVERSIZED above
 * the note size limit, and the note/checkpoint codes if the embedded checkpoint is not a
 * well-formed signed checkpoint (signatures are not verified here).
 */
export function parseTlogProof(text: string): TlogProof {
  const { index, extra, proof, checkpoint, treeSize } = readTlogProof(text);
  treeSize(); // parses the checkpoint
  return extra === undefined ? { index, proof, checkpoint } : { index, extra, proof, checkpoint };
}

/** A tlog-proof read once: its lines, its checkpoint note split, the checkpoint parsed on first use. */
export interface ReadTlogProof extends TlogProof {
  /** the proof's text, as read */
  readonly text: string;
  readonly note: SplitNote;
  /** the checkpoint's text parsed (not verified; parsed once, on first call) */
  readonly parsedCheckpoint: () => Checkpoint;
  /** the tree size the (unverified) checkpoint claims */
  readonly treeSize: () => number;
}

/**
 * Reads a proof once for every later use (verifyTlogProof accepts the result): the proof's
 * lines and the checkpoint note's split. Throws TLOG_PROOF_MALFORMED, OVERSIZED, NOTE_MALFORMED.
 */
export function readTlogProof(text: string): ReadTlogProof {
  const p = parseLines(text);
  const note = splitNote(p.checkpoint);
  let parsed: Checkpoint | undefined;
  const parsedCheckpoint = () => {
    parsed ??= parseCheckpoint(note.text);
    return parsed;
  };
  return Object.freeze({ ...p, text, note, parsedCheckpoint, treeSize: () => parsedCheckpoint().size });
}

export interface TlogProofOptions extends CheckpointPolicy {
  /** The entry bytes (leaf input); or give `leafHash` instead. */
  leaf?: Uint8Array;
  leafHash?: Uint8Array;
}

/**
 * Verifies a tlog-proof for `leaf`: the checkpoint's origin and log signature, the witness
 * policy, freshness (openWitnessedCheckpoint), and the inclusion proof. Throws VerifierError;
 * inclusion failures carry the checkpoint note as evidence.
 */
export function verifyTlogProof(
  text: string | ReadTlogProof,
  opts: TlogProofOptions,
): {
  index: number;
  checkpoint: Checkpoint;
  cosigners: Array<{ name: string; timestamp: number }>;
  extra?: Uint8Array;
} {
  if ((opts.leaf === undefined) === (opts.leafHash === undefined))
    throw new TypeError('verifyTlogProof needs exactly one of leaf or leafHash');
  const leafHash = opts.leafHash ?? hashLeaf(opts.leaf!);
  const p = typeof text === 'string' ? readTlogProof(text) : text;
  const { checkpoint, cosigners } = openWitnessedCheckpoint(p.checkpoint, opts, {
    split: p.note,
    checkpoint: p.parsedCheckpoint,
  });
  try {
    checkInclusion(p.proof, p.index, checkpoint.size, leafHash, checkpoint.rootHash);
  } catch (e) {
    if (!isVerifierError(e)) throw e;
    throw new VerifierError(e.code, e.message, { ...e.evidence, checkpoint: p.checkpoint }, { cause: e });
  }
  return p.extra === undefined
    ? { index: p.index, checkpoint, cosigners }
    : { index: p.index, checkpoint, cosigners, extra: p.extra };
}
