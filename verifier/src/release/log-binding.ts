/**
 * The tlog-entry checks @sigstore/verify 3.1.1 lacks (notes/peers.md §1.1; 4.x added the
 * first two), applied to a bundle's tlogEntries against a TrustedRoot, both as JSON:
 *  1. log-ID binding: every entry's logId.keyId must be the ID of a log the root names
 *     (3.1.1 only compares the 4-byte key hint of the checkpoint signature);
 *  2. no duplicates: at most one entry per log, so one log cannot count twice toward a
 *     threshold;
 *  3. for Ed25519 logs (C2SP checkpoints): the authority is self-consistent (logId =
 *     SHA-256(origin ‖ 0x0A ‖ 0x01 ‖ key), origin = baseUrl without "https://"), the checkpoint
 *     opens under that key with that exact origin (3.1.1 ignores the origin line), its size
 *     and root equal the entry's inclusionProof, logIndex fields agree, and the RFC 6962 proof
 *     of SHA-256(0x00 ‖ canonicalizedBody) leads to that root.
 * Throws TLE_INVALID (evidence: which entry, what differed).
 */
import { VerifierError } from '../errors.ts';
import { bytesEqual, fromBase64, toBase64 } from '../encoding/bytes.ts';
import { hashLeaf } from '../tlog/hash.ts';
import { checkInclusion } from '../tlog/index.ts';
import { openCheckpoint, parseTreeSize, type Checkpoint } from '../tlog/checkpoint.ts';
import { formatVerifierKey, noteVerifier, SIG_ED25519 } from '../note/keys.ts';
import { isObject } from '../encoding/canonical-json.ts';
import { logIdFor, type TrustedRootJson } from './tle.ts';

const ED25519_SPKI_PREFIX_LEN = 12;

export interface BoundEntry {
  logIndex: number;
  logId: string;
  /** The opened checkpoint, for Ed25519 (C2SP) logs. */
  checkpoint?: Checkpoint;
  canonicalizedBody: Uint8Array;
}

function invalid(message: string, evidence: Record<string, unknown> = {}): VerifierError {
  return new VerifierError('TLE_INVALID', message, evidence);
}

function b64(v: unknown, field: string): Uint8Array {
  try {
    return fromBase64(v as string);
  } catch {
    throw invalid(`${field} must be canonical base64`, { field });
  }
}

function int(v: unknown, field: string): number {
  const n = typeof v === 'string' ? parseTreeSize(v) : undefined;
  if (n === undefined)
    throw invalid(`${field} must be a decimal integer string`, { field, value: String(v).slice(0, 40) });
  return n;
}

type Tlog = TrustedRootJson['tlogs'][number];

function authorityId(t: Tlog): string {
  return t.checkpointKeyId?.keyId ?? t.logId.keyId;
}

/** Checks every tlog entry of a bundle (JSON) against the trusted root (JSON). */
export function checkLogBinding(bundle: Record<string, unknown>, root: TrustedRootJson): BoundEntry[] {
  const vm = isObject(bundle.verificationMaterial) ? bundle.verificationMaterial : {};
  const entries = Array.isArray(vm.tlogEntries) ? vm.tlogEntries : [];
  const seen = new Set<string>();
  return entries.map((e: unknown, i: number) => {
    if (!isObject(e) || !isObject(e.logId) || !isObject(e.inclusionProof))
      throw invalid(`tlogEntries[${i}] lacks logId or inclusionProof`, { entry: i });
    const logId = toBase64(b64(e.logId.keyId, `tlogEntries[${i}].logId.keyId`));
    const tlog = root.tlogs.find((t) => authorityId(t) === logId || t.logId.keyId === logId);
    if (!tlog) throw invalid(`tlogEntries[${i}] names a log the trusted root does not`, { entry: i, logId });
    if (seen.has(logId)) throw invalid(`tlogEntries[${i}] is a second entry from the same log`, { entry: i, logId });
    seen.add(logId);
    const body = b64(e.canonicalizedBody, `tlogEntries[${i}].canonicalizedBody`);
    const logIndex = int(e.logIndex, `tlogEntries[${i}].logIndex`);
    const bound: BoundEntry = { logIndex, logId, canonicalizedBody: body };
    if (tlog.publicKey.keyDetails === 'PKIX_ED25519')
      bound.checkpoint = checkC2spProof(e.inclusionProof, i, logIndex, body, tlog);
    return bound;
  });
}

function checkC2spProof(
  p: Record<string, unknown>,
  i: number,
  logIndex: number,
  body: Uint8Array,
  tlog: Tlog,
): Checkpoint {
  const origin = tlog.baseUrl.replace(/^https:\/\//, '');
  const pub = b64(tlog.publicKey.rawBytes, 'trustedRoot publicKey.rawBytes').subarray(ED25519_SPKI_PREFIX_LEN);
  if (authorityId(tlog) !== toBase64(logIdFor(origin, pub))) {
    throw invalid('the trusted root log ID is not SHA-256(origin ‖ 0x0A ‖ 0x01 ‖ key) for origin = baseUrl host/path', {
      origin,
      logId: authorityId(tlog),
    });
  }
  const env = isObject(p.checkpoint) ? p.checkpoint.envelope : undefined;
  if (typeof env !== 'string') throw invalid(`tlogEntries[${i}] has no checkpoint`, { entry: i });
  let checkpoint: Checkpoint;
  try {
    checkpoint = openCheckpoint(env, noteVerifier(formatVerifierKey(origin, SIG_ED25519, pub)), origin).checkpoint;
  } catch (e) {
    throw new VerifierError(
      'TLE_INVALID',
      `tlogEntries[${i}] checkpoint does not open under the log's key and origin`,
      { entry: i, origin, checkpoint: env.slice(0, 2000) },
      { cause: e },
    );
  }
  const size = int(p.treeSize, `tlogEntries[${i}].inclusionProof.treeSize`);
  const root = b64(p.rootHash, `tlogEntries[${i}].inclusionProof.rootHash`);
  if (int(p.logIndex, `tlogEntries[${i}].inclusionProof.logIndex`) !== logIndex)
    throw invalid('inclusionProof.logIndex differs from logIndex', { entry: i });
  if (checkpoint.size !== size || !bytesEqual(checkpoint.rootHash, root))
    throw invalid('inclusionProof treeSize/rootHash differ from the signed checkpoint', {
      entry: i,
      checkpointSize: checkpoint.size,
      treeSize: size,
    });
  const hashes = Array.isArray(p.hashes) ? p.hashes.map((h, j) => b64(h, `inclusionProof.hashes[${j}]`)) : [];
  try {
    checkInclusion(hashes, logIndex, size, hashLeaf(body), checkpoint.rootHash);
  } catch (e) {
    throw new VerifierError(
      'TLE_INVALID',
      `tlogEntries[${i}] inclusion proof does not lead to the checkpoint root`,
      { entry: i, logIndex, treeSize: size },
      { cause: e },
    );
  }
  return checkpoint;
}
