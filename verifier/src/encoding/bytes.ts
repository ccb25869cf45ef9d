/**
 * Byte helpers shared across verifier/ (and importable by anyone through `#verifier/build`).
 * Encodings: hex (RFC 4648 §8, either case on input, lowercase on output) and standard
 * padded base64 (RFC 4648 §4). Decoders are strict: they throw TypeError on anything that
 * is not the canonical encoding of some byte string, so a parser built on them never
 * accepts two spellings of the same value.
 */
import {
  base64DecodeCanonical,
  base64Encode,
  constantTimeEqual,
  hexDecode,
  hexEncode,
  utf8Encode,
} from '../crypto/provider.ts';

const HEX_RE = /^(?:[0-9a-fA-F]{2})*$/;

/** Lowercase hex of `u8`. */
export function toHex(u8: Uint8Array): string {
  return hexEncode(u8);
}

/** Strict hex decode (even length, [0-9a-fA-F] only). Throws TypeError otherwise. */
export function fromHex(s: string): Uint8Array {
  if (typeof s !== 'string' || !HEX_RE.test(s)) throw new TypeError('fromHex: not a hex string');
  return hexDecode(s);
}

/** Standard padded base64 of `u8`. */
export function toBase64(u8: Uint8Array): string {
  return base64Encode(u8);
}

/**
 * Strict standard padded base64 decode. Rejects missing/extra padding, whitespace, the URL
 * alphabet and non-zero trailing bits (non-canonical spellings). Throws TypeError.
 */
export function fromBase64(s: string): Uint8Array {
  if (typeof s !== 'string') throw new TypeError('fromBase64: not a string');
  const out = base64DecodeCanonical(s);
  if (out === undefined) throw new TypeError('fromBase64: not canonical padded base64');
  return out;
}

/** Concatenation of byte strings into a new Uint8Array. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Code units from U+D800 up are where UTF-16 order and UTF-8 byte order can disagree. */
const WIDE = /[\ud800-\uffff]/;

/**
 * Orders strings by their UTF-8 bytes (what `sort -z`, Go, Rust and the cpio/EIF formats mean
 * by "sorted bytewise"), not by JavaScript's UTF-16 code units and never by locale. Below U+D800
 * every code unit is a code point and UTF-8 preserves code-point order, so plain comparison is
 * byte order without encoding two strings per comparison (sorting a node_modules-sized tree
 * does tens of thousands of these).
 */
export function compareUtf8(a: string, b: string): number {
  if (!WIDE.test(a) && !WIDE.test(b)) return a < b ? -1 : a > b ? 1 : 0;
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Equality in time independent of where the inputs differ (length is not secret). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && constantTimeEqual(a, b);
}

/** 8-byte big-endian encoding of a non-negative integer below 2^64. Throws RangeError. */
export function u64be(n: number | bigint): Uint8Array {
  const v = typeof n === 'bigint' ? n : Number.isSafeInteger(n) ? BigInt(n) : -1n;
  if (v < 0n || v >= 1n << 64n) throw new RangeError(`u64be: ${String(n)} is not a uint64`);
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, v, false);
  return out;
}

/** UTF-8 encoding of `s`. */
export function utf8(s: string): Uint8Array {
  return utf8Encode(s);
}
