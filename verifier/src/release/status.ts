/**
 * The log's signed release-status statement: what the log says about one release at one tree.
 * A C2SP signed note, signed with the log's own key, whose text is
 *
 *   keycast.dev/release-status/v1
 *   <log origin>
 *   <tree size, canonical decimal>
 *   <base64 root hash of that tree>
 *   <release index, canonical decimal>
 *   <PCR0 of the release, 96 lowercase hex>
 *   active                       | revoked <index of the revocation entry>
 *
 * The statement speaks for exactly one tree (size and root), so it can be held against the log:
 * "active" while a revocation of that release is included below that size is a provable lie,
 * and a monitor that reads the entries finds it. The first line keeps the note from ever
 * parsing as a checkpoint of the same log (a checkpoint's second line is a tree size).
 */
import { VerifierError } from '../errors.ts';
import { fromBase64, toBase64 } from '../encoding/bytes.ts';
import { HASH_SIZE } from '../tlog/hash.ts';
import { openNote, signNote } from '../note/note.ts';
import type { NoteSigner, NoteVerifier } from '../note/keys.ts';
import { parseTreeSize, type Checkpoint } from '../tlog/checkpoint.ts';

export const RELEASE_STATUS_HEADER = 'keycast.dev/release-status/v1';

export type ReleaseState = { state: 'active' } | { state: 'revoked'; revokedBy: number };

export interface ReleaseStatus {
  origin: string;
  treeSize: number;
  rootHash: Uint8Array;
  index: number;
  pcr0: string;
  status: ReleaseState;
}

const PCR0_RE = /^[0-9a-f]{96}$/;
const ORIGIN_RE = /^[^\p{Cc}\p{Cs}]+$/u;

function malformed(reason: string): VerifierError {
  return new VerifierError('STATUS_MALFORMED', `malformed release status: ${reason}`, { reason });
}

/** The note text of a status statement (ends in "\n"). Throws TypeError on unrepresentable input. */
export function formatReleaseStatus(s: ReleaseStatus): string {
  if (!ORIGIN_RE.test(s.origin)) throw new TypeError('status origin must be non-empty without control characters');
  for (const n of [s.treeSize, s.index])
    if (!Number.isSafeInteger(n) || n < 0)
      throw new TypeError('status sizes and indexes must be safe non-negative integers');
  if (s.index >= s.treeSize) throw new TypeError('the release index must be inside the tree');
  if (!(s.rootHash instanceof Uint8Array) || s.rootHash.length !== HASH_SIZE)
    throw new TypeError('status root must be 32 bytes');
  if (!PCR0_RE.test(s.pcr0)) throw new TypeError('status pcr0 must be 96 lowercase hex digits');
  let state: string;
  if (s.status.state === 'active') state = 'active';
  else {
    const by = s.status.revokedBy;
    if (!Number.isSafeInteger(by) || by <= s.index || by >= s.treeSize)
      throw new TypeError('a revocation must follow the release inside the tree');
    state = `revoked ${by}`;
  }
  return (
    [RELEASE_STATUS_HEADER, s.origin, String(s.treeSize), toBase64(s.rootHash), String(s.index), s.pcr0, state].join(
      '\n',
    ) + '\n'
  );
}

/** Parses status note text (no signatures). Throws STATUS_MALFORMED. */
export function parseReleaseStatus(text: string): ReleaseStatus {
  if (typeof text !== 'string' || !text.endsWith('\n')) throw malformed('text must end in a newline');
  const lines = text.slice(0, -1).split('\n');
  if (lines.length !== 7) throw malformed('expected exactly 7 lines');
  const [header, origin, sizeLine, rootLine, indexLine, pcr0, stateLine] = lines as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  if (header !== RELEASE_STATUS_HEADER) throw malformed(`first line is not ${RELEASE_STATUS_HEADER}`);
  if (!ORIGIN_RE.test(origin)) throw malformed('bad origin line');
  const treeSize = parseTreeSize(sizeLine);
  const index = parseTreeSize(indexLine);
  if (treeSize === undefined || index === undefined) throw malformed('tree size and index must be canonical decimals');
  if (index >= treeSize) throw malformed('the release index is outside the tree');
  let rootHash: Uint8Array;
  try {
    rootHash = fromBase64(rootLine);
  } catch {
    throw malformed('root hash is not base64');
  }
  if (rootHash.length !== HASH_SIZE) throw malformed('root hash is not 32 bytes');
  if (!PCR0_RE.test(pcr0)) throw malformed('pcr0 must be 96 lowercase hex digits');
  let status: ReleaseState;
  if (stateLine === 'active') status = { state: 'active' };
  else {
    const m = /^revoked (0|[1-9][0-9]*)$/.exec(stateLine);
    const by = m ? parseTreeSize(m[1]!) : undefined;
    if (by === undefined) throw malformed('state must be "active" or "revoked <index>"');
    if (by <= index || by >= treeSize) throw malformed('the revocation must follow the release inside the tree');
    status = { state: 'revoked', revokedBy: by };
  }
  return { origin, treeSize, rootHash, index, pcr0, status };
}

/** Signs a status statement with the log's note signer. */
export function signReleaseStatus(s: ReleaseStatus, logSigner: NoteSigner): string {
  return signNote(formatReleaseStatus(s), [logSigner]);
}

/**
 * Opens a signed status statement with the log's verifier (NOTE_* codes for the signature)
 * and parses it; the origin must equal `expectedOrigin` when given (CHECKPOINT_ORIGIN).
 */
export function openReleaseStatus(
  note: string | Uint8Array,
  logVerifier: NoteVerifier,
  expectedOrigin?: string,
): ReleaseStatus {
  const opened = openNote(note, [logVerifier]);
  const s = parseReleaseStatus(opened.text);
  if (expectedOrigin !== undefined && s.origin !== expectedOrigin) {
    throw new VerifierError(
      'CHECKPOINT_ORIGIN',
      `status origin ${JSON.stringify(s.origin)} is not ${JSON.stringify(expectedOrigin)}`,
      { expected: expectedOrigin, got: s.origin },
    );
  }
  return s;
}

/**
 * Requires that a status statement speaks for exactly this checkpoint's tree and this release,
 * and says "active". STATUS_TREE_MISMATCH when it speaks for another tree (an older size, or the
 * same size with another root), STATUS_MISMATCH for another release, RELEASE_REVOKED when revoked.
 */
export function requireActiveStatus(
  s: ReleaseStatus,
  checkpoint: Checkpoint,
  release: { index: number; pcr0: string },
): void {
  const sameRoot =
    s.rootHash.length === checkpoint.rootHash.length && s.rootHash.every((b, i) => b === checkpoint.rootHash[i]);
  if (s.origin !== checkpoint.origin || s.treeSize !== checkpoint.size || !sameRoot) {
    throw new VerifierError(
      'STATUS_TREE_MISMATCH',
      `the status speaks for tree ${s.treeSize}, the proof for tree ${checkpoint.size}`,
      {
        statusSize: s.treeSize,
        statusRoot: s.rootHash,
        checkpointSize: checkpoint.size,
        checkpointRoot: checkpoint.rootHash,
      },
    );
  }
  if (s.index !== release.index || s.pcr0 !== release.pcr0) {
    throw new VerifierError('STATUS_MISMATCH', `the status is for release ${s.index}, not ${release.index}`, {
      statusIndex: s.index,
      statusPcr0: s.pcr0,
      index: release.index,
      pcr0: release.pcr0,
    });
  }
  if (s.status.state === 'revoked') {
    throw new VerifierError(
      'RELEASE_REVOKED',
      `the release at log index ${s.index} was revoked by entry ${s.status.revokedBy}`,
      { index: s.index, pcr0: s.pcr0, revokedBy: s.status.revokedBy, treeSize: s.treeSize },
    );
  }
}
