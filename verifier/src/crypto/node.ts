/**
 * The crypto provider on Node (see provider.ts for the contract): node:crypto and Buffer.
 * Ed25519 raw keys are wrapped in fixed DER prefixes (SPKI for public keys, PKCS#8 for
 * seeds, RFC 8410) once, so each verify is a single crypto.verify call on a cached KeyObject.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  hash,
  randomBytes as nodeRandomBytes,
  sign,
  timingSafeEqual,
  verify,
  type KeyObject,
} from 'node:crypto';

export interface Sha256 {
  update(data: Uint8Array): Sha256;
  digest(): Uint8Array;
}
export type Ed25519PublicKey = KeyObject;
export type Ed25519PrivateKey = KeyObject;

const SPKI_PREFIX = Buffer.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]);
const PKCS8_PREFIX = Buffer.from([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
]);

function view(u8: Uint8Array): Buffer {
  return Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
}

export function createSha256(): Sha256 {
  return createHash('sha256');
}

export function sha256Digest(data: Uint8Array): Uint8Array {
  // One call and no Hash object, and the digest comes back as a 32-character latin1 string (one
  // char per byte) copied into a small on-heap array: createHash's stream machinery and a
  // Buffer's off-heap memory per digest cost more than the hashing of a 65-byte Merkle node.
  const s = hash('sha256', data, 'binary'); // 'binary' is Node's name for latin1
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

export function ed25519PublicKey(raw: Uint8Array): Ed25519PublicKey {
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}

export function ed25519Verify(key: Ed25519PublicKey, msg: Uint8Array, sig: Uint8Array): boolean {
  return verify(null, msg, key, sig);
}

export function ed25519FromSeed(seed: Uint8Array): { privateKey: Ed25519PrivateKey; publicKey: Uint8Array } {
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  return { privateKey, publicKey: new Uint8Array(spki.subarray(SPKI_PREFIX.length)) };
}

export function ed25519Sign(key: Ed25519PrivateKey, msg: Uint8Array): Uint8Array {
  return new Uint8Array(sign(null, msg, key));
}

export function randomBytes(n: number): Uint8Array {
  return new Uint8Array(nodeRandomBytes(n));
}

export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  return timingSafeEqual(a, b);
}

export function hexEncode(u8: Uint8Array): string {
  return view(u8).toString('hex');
}

export function hexDecode(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'hex'));
}

export function base64Encode(u8: Uint8Array): string {
  return view(u8).toString('base64');
}

export function base64DecodeCanonical(s: string): Uint8Array | undefined {
  if (s.length <= SHORT_BASE64) return decodeShortBase64(s);
  // Node's decoder is lenient (skips whitespace and unknown characters, takes the URL alphabet,
  // tolerates missing padding and non-zero trailing bits); re-encoding the result gives the one
  // canonical spelling, so equality with the input rejects every other one.
  const out = Buffer.from(s, 'base64');
  return out.toString('base64') === s ? new Uint8Array(out) : undefined;
}

/**
 * Short strings (hashes, keys, signatures: a tlog-proof has dozens) are decoded here, strictly,
 * in one pass: a Buffer, its re-encoding and a copy cost more than the decoding.
 */
const SHORT_BASE64 = 1024;
const BASE64_VALUES = new Int8Array(128).fill(-1);
for (let i = 0; i < 64; i++)
  BASE64_VALUES['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.charCodeAt(i)] = i;

function base64Value(s: string, i: number): number {
  const c = s.charCodeAt(i);
  return c < 128 ? BASE64_VALUES[c]! : -1;
}

/** Standard padded base64 with zero trailing bits, or undefined: the canonical spelling only. */
function decodeShortBase64(s: string): Uint8Array | undefined {
  const n = s.length;
  if (n % 4 !== 0) return undefined;
  const pad = n === 0 || s.charCodeAt(n - 1) !== 0x3d ? 0 : s.charCodeAt(n - 2) !== 0x3d ? 1 : 2;
  const out = new Uint8Array((n / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < n; i += 4) {
    const tail = i + 4 === n ? pad : 0; // "=" counts only as the last quantum's padding
    const a = base64Value(s, i);
    const b = base64Value(s, i + 1);
    const c = tail === 2 ? 0 : base64Value(s, i + 2);
    const d = tail >= 1 ? 0 : base64Value(s, i + 3);
    if ((a | b | c | d) < 0) return undefined;
    const v = (a << 18) | (b << 12) | (c << 6) | d;
    out[o++] = v >>> 16;
    if (tail < 2) out[o++] = (v >>> 8) & 0xff;
    else if ((v & 0xffff) !== 0) return undefined; // trailing bits must be zero
    if (tail < 1) out[o++] = v & 0xff;
    else if ((v & 0xff) !== 0) return undefined;
  }
  return out;
}

export function utf8Encode(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'utf8'));
}
