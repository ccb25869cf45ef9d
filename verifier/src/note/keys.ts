/**
 * C2SP signed-note v1.0.0 keys (https://c2sp.org/signed-note): key names, key IDs
 * (SHA-256(name ‖ 0x0A ‖ type ‖ public key)[:4], big-endian), verifier keys
 * `<name>+<hex8 key ID>+<base64(type ‖ public key)>`, and the golang.org/x/mod/sumdb/note
 * private-key convention `PRIVATE+KEY+<name>+<hex8 key ID>+<base64(type ‖ seed)>`.
 * Strings split only at the first `+` separators: base64 may itself contain `+`.
 * Private keys never appear in errors or evidence.
 */
import { randomBytes } from '../crypto/provider.ts';
import { VerifierError } from '../errors.ts';
import { concatBytes, fromBase64, fromHex, toBase64, utf8 } from '../encoding/bytes.ts';
import { sha256 } from '../tlog/hash.ts';
import { ed25519FromSeed, ed25519PublicKey, ed25519Sign, ed25519Verify } from './ed25519.ts';
import type { Ed25519PublicKey } from '../crypto/provider.ts';

/** Signature type bytes used here. */
export const SIG_ED25519 = 0x01;
export const SIG_COSIGNATURE_V1 = 0x04;

/** A note signer. `sign` returns the signature bytes without the 4-byte key ID. */
export interface NoteSigner {
  readonly name: string;
  readonly keyId: number;
  sign(msg: Uint8Array): Uint8Array;
}

/**
 * A note verifier for one (name, key ID). `verify` gets the signed text and the signature
 * bytes after the key ID; it returns false (never throws) for a bad signature. Verifiers
 * are safe to share: they hold only a cached public key (cosignature verifiers also record
 * the last verified timestamp, see cosignature.ts).
 */
export interface NoteVerifier {
  readonly name: string;
  readonly keyId: number;
  verify(msg: Uint8Array, sig: Uint8Array): boolean;
}
export type Signer = NoteSigner;
export type Verifier = NoteVerifier;

/** Key names: non-empty, well-formed Unicode, no spaces, no control characters, no `+`. */
export function isValidKeyName(name: string): boolean {
  return typeof name === 'string' && name.length > 0 && !/[\s\u0085+\p{Cc}\p{Cs}]/u.test(name);
}

/** The C2SP key ID: first 4 bytes of SHA-256(name ‖ "\n" ‖ type ‖ publicKey), as uint32. */
export function verifierKeyId(name: string, type: number, publicKey: Uint8Array): number {
  const h = sha256(utf8(name), Uint8Array.of(0x0a, type), publicKey);
  return new DataView(h.buffer, h.byteOffset, 4).getUint32(0, false);
}

/** Eight lowercase hex digits of a key ID. */
export function keyIdHex(keyId: number): string {
  return keyId.toString(16).padStart(8, '0');
}

function keyError(message: string, evidence: Record<string, unknown> = {}): VerifierError {
  return new VerifierError('KEY_MALFORMED', message, evidence);
}

function parseKeyId(hex8: string): number | undefined {
  if (!/^[0-9a-fA-F]{8}$/.test(hex8)) return undefined;
  return new DataView(fromHex(hex8).buffer).getUint32(0, false);
}

function decodeKey(b64: string): Uint8Array | undefined {
  try {
    const k = fromBase64(b64);
    return k.length > 0 ? k : undefined;
  } catch {
    return undefined;
  }
}

/** A parsed verifier key string. */
export interface VerifierKey {
  name: string;
  keyId: number;
  type: number;
  publicKey: Uint8Array;
}

/** Parses `name+hexid+base64(type ‖ key)`; checks the key ID. Throws KEY_MALFORMED. */
export function parseVerifierKey(vkey: string): VerifierKey {
  if (typeof vkey !== 'string') throw keyError('verifier key is not a string');
  const i = vkey.indexOf('+');
  const j = i < 0 ? -1 : vkey.indexOf('+', i + 1);
  if (j < 0) throw keyError('verifier key needs name+keyid+key', { vkey });
  const name = vkey.slice(0, i);
  const keyId = parseKeyId(vkey.slice(i + 1, j));
  const key = decodeKey(vkey.slice(j + 1));
  if (!isValidKeyName(name) || keyId === undefined || key === undefined)
    throw keyError('malformed verifier key', { vkey });
  if (verifierKeyId(name, key[0]!, key.subarray(1)) !== keyId)
    throw keyError('verifier key ID does not match the key', { vkey });
  return { name, keyId, type: key[0]!, publicKey: key.slice(1) };
}

/** An Ed25519 verifier key, parsed, with its reusable verification key. */
interface Ed25519VerifierKey {
  readonly name: string;
  readonly keyId: number;
  readonly type: number;
  readonly key: Ed25519PublicKey;
}

/**
 * Ed25519 verifier keys by the exact string they were parsed from, so a verifier built again
 * from the same pinned key (a gate re-check, a witness policy per checkpoint) does not decode,
 * re-hash and re-import it. A pure function of the string: only successful parses are kept, and
 * at most MAX_CACHED_KEYS, the oldest dropped first.
 */
const ed25519Keys = new Map<string, Ed25519VerifierKey>();
const MAX_CACHED_KEYS = 256;

/**
 * parseVerifierKey (throws KEY_MALFORMED) for a key of signature type `type` with a 32-byte
 * Ed25519 public key, imported once; undefined if the key has another type or length.
 */
function ed25519VerifierKey(vkey: string, type: number): Ed25519VerifierKey | undefined {
  const cached = ed25519Keys.get(vkey);
  if (cached !== undefined) return cached.type === type ? cached : undefined;
  const k = parseVerifierKey(vkey);
  if (k.type !== type || k.publicKey.length !== 32) return undefined;
  const parsed = { name: k.name, keyId: k.keyId, type, key: ed25519PublicKey(k.publicKey) };
  if (ed25519Keys.size >= MAX_CACHED_KEYS) ed25519Keys.delete(ed25519Keys.keys().next().value!);
  ed25519Keys.set(vkey, parsed);
  return parsed;
}

/**
 * The name, key ID and verification key of a type-`type` Ed25519 verifier key string; throws
 * KEY_MALFORMED, with `message` for a key of another type or length. For noteVerifier and
 * cosignatureVerifier.
 */
export function ed25519KeyOf(vkey: string, type: number, message: string): Ed25519VerifierKey {
  const k = ed25519VerifierKey(vkey, type);
  if (k === undefined) throw keyError(message, { vkey });
  return k;
}

/** Formats a verifier key string. */
export function formatVerifierKey(name: string, type: number, publicKey: Uint8Array): string {
  if (!isValidKeyName(name)) throw new TypeError('invalid key name');
  return `${name}+${keyIdHex(verifierKeyId(name, type, publicKey))}+${toBase64(concatBytes(Uint8Array.of(type), publicKey))}`;
}

/** A parsed private key: name, type byte, Ed25519 seed and derived public key. */
export interface SignerKey {
  name: string;
  keyId: number;
  type: number;
  seed: Uint8Array;
  publicKey: Uint8Array;
}

/** Parses `PRIVATE+KEY+name+hexid+base64(type ‖ seed)` (type 0x01 or 0x04). Throws KEY_MALFORMED without echoing the key. */
export function parseSignerKey(skey: string): SignerKey {
  if (typeof skey !== 'string' || !skey.startsWith('PRIVATE+KEY+'))
    throw keyError('private key must start with PRIVATE+KEY+');
  const rest = skey.slice('PRIVATE+KEY+'.length);
  const i = rest.indexOf('+');
  const j = i < 0 ? -1 : rest.indexOf('+', i + 1);
  if (j < 0) throw keyError('private key needs PRIVATE+KEY+name+keyid+key');
  const name = rest.slice(0, i);
  const keyId = parseKeyId(rest.slice(i + 1, j));
  const key = decodeKey(rest.slice(j + 1));
  if (!isValidKeyName(name) || keyId === undefined || key === undefined)
    throw keyError('malformed private key', { name });
  const type = key[0]!;
  if ((type !== SIG_ED25519 && type !== SIG_COSIGNATURE_V1) || key.length !== 33)
    throw keyError('private key is not an Ed25519 seed', { name, type });
  const seed = key.slice(1);
  const { publicKey } = ed25519FromSeed(seed);
  if (verifierKeyId(name, type, publicKey) !== keyId) throw keyError('private key ID does not match the key', { name });
  return { name, keyId, type, seed, publicKey };
}

/** Formats a private key string. */
export function formatSignerKey(name: string, type: number, seed: Uint8Array): string {
  const { publicKey } = ed25519FromSeed(seed);
  return `PRIVATE+KEY+${name}+${keyIdHex(verifierKeyId(name, type, publicKey))}+${toBase64(concatBytes(Uint8Array.of(type), seed))}`;
}

/** A fresh random Ed25519 note key (type 0x01): `{ skey, vkey }`. Keep skey secret. */
export function generateNoteKey(name: string): { skey: string; vkey: string } {
  if (!isValidKeyName(name)) throw new TypeError('invalid key name');
  const seed = new Uint8Array(randomBytes(32));
  return {
    skey: formatSignerKey(name, SIG_ED25519, seed),
    vkey: formatVerifierKey(name, SIG_ED25519, ed25519FromSeed(seed).publicKey),
  };
}

/** An Ed25519 (type 0x01) note signer from a private key string. */
export function noteSigner(skey: string): NoteSigner {
  const k = parseSignerKey(skey);
  if (k.type !== SIG_ED25519) throw keyError('not an Ed25519 note key (type 0x01)', { name: k.name, type: k.type });
  const { privateKey } = ed25519FromSeed(k.seed);
  return { name: k.name, keyId: k.keyId, sign: (msg) => ed25519Sign(privateKey, msg) };
}

/** An Ed25519 (type 0x01) note verifier from a verifier key string. Throws KEY_MALFORMED. */
export function noteVerifier(vkey: string): NoteVerifier {
  const { name, keyId, key } = ed25519KeyOf(vkey, SIG_ED25519, 'not an Ed25519 note verifier key (type 0x01)');
  return { name, keyId, verify: (msg, sig) => ed25519Verify(key, msg, sig) };
}
