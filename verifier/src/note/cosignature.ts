/**
 * C2SP tlog-cosignature v1.0.1 (https://c2sp.org/tlog-cosignature), Ed25519 `cosignature/v1`:
 * signature type 0x04, key ID = SHA-256(name ‖ 0x0A ‖ 0x04 ‖ pub)[:4], and signature bytes
 *   u64be(timestamp) ‖ Ed25519("cosignature/v1\ntime <timestamp>\n" ‖ checkpoint body)
 * (timestamp in Unix seconds, ≤ 2^63−1; here also ≤ 2^53−1). Plus a witness policy:
 * "at least k of these n witnesses cosigned, each no older than T".
 */
import { VerifierError } from '../errors.ts';
import { concatBytes, u64be, utf8 } from '../encoding/bytes.ts';
import { ed25519FromSeed, ed25519Sign, ed25519Verify } from './ed25519.ts';
import {
  ed25519KeyOf,
  formatVerifierKey,
  keyIdHex,
  parseSignerKey,
  SIG_COSIGNATURE_V1,
  verifierKeyId,
  type NoteSigner,
  type NoteVerifier,
} from './keys.ts';
import { splitNote, type SplitNote } from './note.ts';

/** Cosignatures more than this many seconds in the future do not count towards a policy. */
export const MAX_FUTURE_SECONDS = 300;
const TIMESTAMPED_SIG_SIZE = 8 + 64;

/**
 * A cosignature/v1 verifier; `timestamp` is that of the last signature it verified
 * (undefined before the first). Read it right after verify/openNote returns: verification
 * is synchronous, so nothing can interleave, but a later verify overwrites it.
 */
export interface CosignatureVerifier extends NoteVerifier {
  readonly timestamp: number | undefined;
}

function signedMessage(timestamp: number, body: Uint8Array): Uint8Array {
  return concatBytes(utf8(`cosignature/v1\ntime ${timestamp}\n`), body);
}

/** The timestamp inside cosignature bytes, or undefined if they are not 72 bytes or it exceeds 2^53−1. */
export function cosignatureTimestamp(sig: Uint8Array): number | undefined {
  if (sig.length !== TIMESTAMPED_SIG_SIZE) return undefined;
  const t = new DataView(sig.buffer, sig.byteOffset, 8).getBigUint64(0, false);
  return t <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(t) : undefined;
}

/**
 * A cosignature/v1 note signer from a private key string (an Ed25519 seed, type byte 0x01 as
 * generateNoteKey makes, or 0x04). `now` gives Unix seconds (default: the system clock).
 */
export function cosignatureSigner(skey: string, now: () => number = () => Date.now() / 1000): NoteSigner {
  const k = parseSignerKey(skey);
  const { privateKey, publicKey } = ed25519FromSeed(k.seed);
  return {
    name: k.name,
    keyId: verifierKeyId(k.name, SIG_COSIGNATURE_V1, publicKey),
    sign(body) {
      const ts = Math.floor(now());
      if (!Number.isSafeInteger(ts) || ts < 0)
        throw new RangeError('cosignature timestamp must be a non-negative safe integer');
      return concatBytes(u64be(ts), ed25519Sign(privateKey, signedMessage(ts, body)));
    },
  };
}

/** The cosignature/v1 verifier key (type 0x04) for a private key string. */
export function cosignatureVerifierKey(skey: string): string {
  const k = parseSignerKey(skey);
  return formatVerifierKey(k.name, SIG_COSIGNATURE_V1, k.publicKey);
}

/** A cosignature/v1 verifier from a type-0x04 verifier key. Throws KEY_MALFORMED. */
export function cosignatureVerifier(vkey: string): CosignatureVerifier {
  const { name, keyId, key } = ed25519KeyOf(vkey, SIG_COSIGNATURE_V1, 'not a cosignature/v1 verifier key (type 0x04)');
  let last: number | undefined;
  return {
    name,
    keyId,
    get timestamp() {
      return last;
    },
    verify(body, sig) {
      const ts = cosignatureTimestamp(sig);
      if (ts === undefined || !ed25519Verify(key, signedMessage(ts, body), sig.subarray(8))) return false;
      last = ts;
      return true;
    },
  };
}

/** "At least `threshold` of `witnesses` (type-0x04 vkeys) cosigned, each within maxAgeSeconds of `now`." */
export interface WitnessPolicy {
  /** the witnesses' verifier keys, or their verifiers already parsed (cosignatureVerifier) */
  witnesses: ReadonlyArray<string | CosignatureVerifier>;
  threshold: number;
  maxAgeSeconds?: number;
  /** Unix seconds. */
  now: number;
}

/**
 * Checks the cosignatures on a signed checkpoint note against a policy. Only the note's
 * cosignature lines are examined (check the log's own signature with openCheckpoint). A
 * witness's first line counts; a bad signature from a policy witness rejects the note
 * (COSIGNATURE_INVALID); too few fresh cosignatures is WITNESS_POLICY with evidence of who
 * cosigned, who was stale or in the future, and who was missing.
 */
export function checkWitnessPolicy(
  note: string,
  policy: WitnessPolicy,
): { cosigners: Array<{ name: string; timestamp: number }> } {
  return checkPolicy(note, policy);
}

/** checkWitnessPolicy on a note already split (so one pass over a note splits it once). */
export function checkSplitWitnessPolicy(
  note: SplitNote,
  policy: WitnessPolicy,
): { cosigners: Array<{ name: string; timestamp: number }> } {
  return checkPolicy(note, policy);
}

/** The policy is checked before the note is split, as it always was. */
function checkPolicy(
  note: string | SplitNote,
  policy: WitnessPolicy,
): { cosigners: Array<{ name: string; timestamp: number }> } {
  const verifiers = [...new Set(policy.witnesses)].map((w) => (typeof w === 'string' ? cosignatureVerifier(w) : w));
  if (!Number.isInteger(policy.threshold) || policy.threshold < 0 || policy.threshold > verifiers.length) {
    throw new RangeError(`witness threshold ${policy.threshold} is not in 0..${verifiers.length}`);
  }
  if (!Number.isFinite(policy.now)) throw new RangeError('witness policy needs now (Unix seconds)');
  const { text, signatures } = typeof note === 'string' ? splitNote(note) : note;
  const body = utf8(text);
  const cosigners: Array<{ name: string; timestamp: number }> = [];
  const stale: Array<{ name: string; timestamp: number }> = [];
  const future: Array<{ name: string; timestamp: number }> = [];
  const missing: string[] = [];
  for (const v of verifiers) {
    const line = signatures.find((s) => s.name === v.name && s.keyId === v.keyId);
    if (line === undefined) {
      missing.push(v.name);
      continue;
    }
    if (!v.verify(body, line.sig)) {
      throw new VerifierError('COSIGNATURE_INVALID', `invalid cosignature from ${v.name}`, {
        name: v.name,
        keyId: keyIdHex(v.keyId),
        text,
      });
    }
    const c = { name: v.name, timestamp: v.timestamp! };
    if (c.timestamp > policy.now + MAX_FUTURE_SECONDS) future.push(c);
    else if (policy.maxAgeSeconds !== undefined && policy.now - c.timestamp > policy.maxAgeSeconds) stale.push(c);
    else cosigners.push(c);
  }
  if (cosigners.length < policy.threshold) {
    throw new VerifierError(
      'WITNESS_POLICY',
      `${cosigners.length} of the required ${policy.threshold} witness cosignatures`,
      {
        threshold: policy.threshold,
        maxAgeSeconds: policy.maxAgeSeconds,
        now: policy.now,
        cosigners,
        stale,
        future,
        missing,
        text,
      },
    );
  }
  return { cosigners };
}
