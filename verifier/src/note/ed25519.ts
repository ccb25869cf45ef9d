/**
 * Ed25519 (RFC 8032) through node:crypto KeyObjects. Raw 32-byte keys are wrapped in fixed
 * DER prefixes (SPKI for public keys, PKCS#8 for seeds, RFC 8410) once, so each verify is a
 * single crypto.verify call on a cached KeyObject.
 */
import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { concatBytes } from '../bytes.ts';

const SPKI_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]);
const PKCS8_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);

export const ED25519_KEY_SIZE = 32;
export const ED25519_SIG_SIZE = 64;

/** A public KeyObject from a raw 32-byte Ed25519 key. Throws TypeError on a bad length. */
export function ed25519PublicKey(raw: Uint8Array): KeyObject {
  if (raw.length !== ED25519_KEY_SIZE) throw new TypeError('Ed25519 public key must be 32 bytes');
  return createPublicKey({ key: Buffer.from(concatBytes(SPKI_PREFIX, raw)), format: 'der', type: 'spki' });
}

/** A private KeyObject and its raw public key from a 32-byte seed. */
export function ed25519FromSeed(seed: Uint8Array): { privateKey: KeyObject; publicKey: Uint8Array } {
  if (seed.length !== ED25519_KEY_SIZE) throw new TypeError('Ed25519 seed must be 32 bytes');
  const privateKey = createPrivateKey({ key: Buffer.from(concatBytes(PKCS8_PREFIX, seed)), format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  return { privateKey, publicKey: new Uint8Array(spki.subarray(SPKI_PREFIX.length)) };
}

/** Ed25519 signature over `msg`. */
export function ed25519Sign(key: KeyObject, msg: Uint8Array): Uint8Array {
  return new Uint8Array(sign(null, msg, key));
}

/** Ed25519 verification; false on any mismatch, including a wrong signature length. */
export function ed25519Verify(key: KeyObject, msg: Uint8Array, sig: Uint8Array): boolean {
  if (sig.length !== ED25519_SIG_SIZE) return false;
  return verify(null, msg, key, sig);
}
