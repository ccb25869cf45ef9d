/**
 * Ed25519 (RFC 8032) for signed notes and cosignatures, through the crypto provider
 * (node:crypto KeyObjects on Node, @noble/curves in the browser bundle), with the length
 * checks every caller relies on.
 */
import {
  ed25519FromSeed as fromSeed,
  ed25519PublicKey as publicKey,
  ed25519Sign as sign,
  ed25519Verify as verify,
  type Ed25519PrivateKey,
  type Ed25519PublicKey,
} from '../crypto/provider.ts';

export const ED25519_KEY_SIZE = 32;
export const ED25519_SIG_SIZE = 64;

/** A reusable verification key from a raw 32-byte Ed25519 key. Throws TypeError on a bad length. */
export function ed25519PublicKey(raw: Uint8Array): Ed25519PublicKey {
  if (raw.length !== ED25519_KEY_SIZE) throw new TypeError('Ed25519 public key must be 32 bytes');
  return publicKey(raw);
}

/** A private key and its raw public key from a 32-byte seed. */
export function ed25519FromSeed(seed: Uint8Array): { privateKey: Ed25519PrivateKey; publicKey: Uint8Array } {
  if (seed.length !== ED25519_KEY_SIZE) throw new TypeError('Ed25519 seed must be 32 bytes');
  return fromSeed(seed);
}

/** Ed25519 signature over `msg`. */
export function ed25519Sign(key: Ed25519PrivateKey, msg: Uint8Array): Uint8Array {
  return sign(key, msg);
}

/** Ed25519 verification; false on any mismatch, including a wrong signature length. */
export function ed25519Verify(key: Ed25519PublicKey, msg: Uint8Array, sig: Uint8Array): boolean {
  if (sig.length !== ED25519_SIG_SIZE) return false;
  return verify(key, msg, sig);
}
