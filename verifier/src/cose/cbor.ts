/**
 * Minimal deterministic CBOR writer and strict head reader (RFC 8949 §3, §4.2.1 preferred
 * serialization), for the COSE_Sign1 envelope and the Nitro attestation payload. Only
 * definite lengths; the reader refuses indefinite lengths and non-shortest heads.
 * Full decoding of the payload is done with cbor-x; this file is for the bytes we must
 * produce or check exactly.
 */
import { concatBytes } from '../bytes.ts';

export const MT = { UINT: 0, NINT: 1, BYTES: 2, TEXT: 3, ARRAY: 4, MAP: 5, TAG: 6, SIMPLE: 7 } as const;

/** A head with `arg` in its shortest form, or in `width` bytes (1, 2, 4, 8) if given. */
export function head(major: number, arg: number, width?: 1 | 2 | 4 | 8): Uint8Array {
  if (!Number.isSafeInteger(arg) || arg < 0) throw new RangeError('cbor head: argument must be a non-negative safe integer');
  const w = width ?? (arg < 24 ? 0 : arg < 0x100 ? 1 : arg < 0x10000 ? 2 : arg < 0x100000000 ? 4 : 8);
  if (w === 0) return Uint8Array.of((major << 5) | arg);
  if (arg >= 2 ** (8 * w)) throw new RangeError('cbor head: argument does not fit the width');
  const out = new Uint8Array(1 + w);
  out[0] = (major << 5) | (w === 1 ? 24 : w === 2 ? 25 : w === 4 ? 26 : 27);
  let v = arg;
  for (let i = w; i >= 1; i--) {
    out[i] = v % 256;
    v = Math.floor(v / 256);
  }
  return out;
}

export const bstr = (b: Uint8Array): Uint8Array => cat(head(MT.BYTES, b.length), b);
const UTF8 = new TextEncoder();
export const tstr = (s: string): Uint8Array => {
  const u = UTF8.encode(s);
  return cat(head(MT.TEXT, u.length), u);
};
export const NULL = Uint8Array.of(0xf6);

/** Concatenation (the shared byte helper). */
export const cat = concatBytes;

/** A decoded head: major type, argument and the offset just past the head. */
export interface Head {
  major: number;
  arg: number;
  end: number;
}

/**
 * Reads one head at `off`, strictly (definite, safe-integer argument, and shortest form unless
 * `allowWide`, which the payload walker uses because the NSM writes its timestamp in 8 bytes).
 * Returns null if malformed.
 */
export function readHead(buf: Uint8Array, off: number, allowWide = false): Head | null {
  if (off >= buf.length) return null;
  const b = buf[off]!;
  const major = b >> 5;
  const ai = b & 0x1f;
  if (ai < 24) return { major, arg: ai, end: off + 1 };
  if (ai > 27) return null;
  const w = 1 << (ai - 24);
  if (off + 1 + w > buf.length) return null;
  let arg = 0;
  for (let i = 1; i <= w; i++) arg = arg * 256 + buf[off + i]!;
  if (!Number.isSafeInteger(arg)) return null; // beyond 2^53: no exact number
  const min = w === 1 ? 24 : w === 2 ? 0x100 : w === 4 ? 0x10000 : 0x100000000;
  if (arg < min && !allowWide) return null;
  return { major, arg, end: off + 1 + w };
}

/** Reads a definite byte string at `off`; null if it is not one or overruns. */
export function readBstr(buf: Uint8Array, off: number): { value: Uint8Array; end: number } | null {
  const h = readHead(buf, off);
  if (!h || h.major !== MT.BYTES || h.end + h.arg > buf.length) return null;
  return { value: buf.subarray(h.end, h.end + h.arg), end: h.end + h.arg };
}

const MAX_DEPTH = 8;

/**
 * True when `buf` is exactly one well-formed CBOR item built only from uints, negative ints,
 * definite byte/text strings, arrays, maps and the simple values false/true/null — no tags,
 * floats, undefined or indefinite lengths, nesting ≤ 8, and no count larger than the bytes
 * left (so a decoder given it cannot be made to allocate more than the input's size).
 */
export function isPlainCbor(buf: Uint8Array): boolean {
  let off = 0;
  const pending: number[] = [1]; // items still to read at each depth
  while (pending.length > 0) {
    if (pending[pending.length - 1] === 0) {
      pending.pop();
      continue;
    }
    pending[pending.length - 1]!--;
    const h = readHead(buf, off, true);
    if (!h || (h.major !== MT.UINT && !readHead(buf, off))) return false; // only uints may be wide
    off = h.end;
    switch (h.major) {
      case MT.UINT:
      case MT.NINT:
        break;
      case MT.BYTES:
      case MT.TEXT:
        if (h.arg > buf.length - off) return false;
        off += h.arg;
        break;
      case MT.ARRAY:
      case MT.MAP: {
        const n = h.major === MT.MAP ? h.arg * 2 : h.arg;
        if (n > buf.length - off || pending.length >= MAX_DEPTH) return false;
        pending.push(n);
        break;
      }
      case MT.SIMPLE:
        if (h.arg < 20 || h.arg > 22) return false; // false, true, null only (no floats or undefined)
        break;
      default:
        return false;
    }
  }
  return off === buf.length;
}
