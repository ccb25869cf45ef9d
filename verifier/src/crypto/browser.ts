/**
 * The crypto provider in the browser (see provider.ts for the contract): @noble/hashes and
 * @noble/curves, no Buffer, no node:crypto. The browser bundle resolves provider.ts to this
 * file; under Node it is exercised only by the provider test, against node.ts.
 * Ed25519 verification is RFC 8032 / FIPS 186-5 strict (zip215: false: non-canonical point
 * encodings and S ≥ L are rejected), as OpenSSL's is.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes, randomBytes as nobleRandomBytes } from '@noble/hashes/utils.js';
import { ed25519 } from '@noble/curves/ed25519.js';

export interface Sha256 {
  update(data: Uint8Array): Sha256;
  digest(): Uint8Array;
}
export type Ed25519PublicKey = { readonly raw: Uint8Array };
export type Ed25519PrivateKey = { readonly seed: Uint8Array };

export function createSha256(): Sha256 {
  const h = sha256.create();
  const wrapper: Sha256 = {
    update(data) {
      h.update(data);
      return wrapper;
    },
    digest: () => h.digest(),
  };
  return wrapper;
}

export function sha256Digest(data: Uint8Array): Uint8Array {
  return sha256(data);
}

export function ed25519PublicKey(raw: Uint8Array): Ed25519PublicKey {
  if (raw.length !== 32) throw new TypeError('Ed25519 public key must be 32 bytes');
  return { raw: raw.slice() };
}

export function ed25519Verify(key: Ed25519PublicKey, msg: Uint8Array, sig: Uint8Array): boolean {
  try {
    return ed25519.verify(sig, msg, key.raw, { zip215: false });
  } catch {
    return false;
  }
}

export function ed25519FromSeed(seed: Uint8Array): { privateKey: Ed25519PrivateKey; publicKey: Uint8Array } {
  return { privateKey: { seed: seed.slice() }, publicKey: ed25519.getPublicKey(seed) };
}

export function ed25519Sign(key: Ed25519PrivateKey, msg: Uint8Array): Uint8Array {
  return ed25519.sign(msg, key.seed);
}

export function randomBytes(n: number): Uint8Array {
  return nobleRandomBytes(n);
}

export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  let d = a.length ^ b.length;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ (b[i] ?? 0);
  return d === 0;
}

export function hexEncode(u8: Uint8Array): string {
  return bytesToHex(u8);
}

export function hexDecode(s: string): Uint8Array {
  return hexToBytes(s);
}

export function base64Encode(u8: Uint8Array): string {
  let bin = '';
  for (let i = 0; i < u8.length; i += 0x8000) bin += String.fromCharCode(...u8.subarray(i, i + 0x8000));
  return btoa(bin);
}

export function base64DecodeCanonical(s: string): Uint8Array | undefined {
  let bin: string;
  try {
    bin = atob(s); // lenient (skips whitespace, tolerates missing padding and trailing bits) …
  } catch {
    return undefined;
  }
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return base64Encode(out) === s ? out : undefined; // … so only the one canonical spelling passes
}

const encoder = new TextEncoder();
export function utf8Encode(s: string): Uint8Array {
  return encoder.encode(s);
}
