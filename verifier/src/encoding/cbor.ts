/**
 * The one CBOR codec (RFC 8949) of Keycast: COSE_Sign1 envelopes and Nitro attestation payloads,
 * EIF signature sections (serde_cbor 0.11) and NSM API messages (serde_cbor 0.11) all go through
 * it. It covers the subset those formats use — unsigned and negative integers, byte and text
 * strings, arrays, maps keyed by text or integers, false/true/null, and opt-in tags — and it is
 * strict in both directions, so every value has exactly one accepted spelling:
 *
 * - heads in shortest form (RFC 8949 §4.2.1); definite lengths only; no floats, no undefined,
 *   no other simple values; tags only those the caller names;
 * - integers within ±(2^53 − 1) (JavaScript numbers, exactly);
 * - no duplicate map keys; map entries keep their wire order (a JS Map in insertion order), and
 *   the encoder writes them in that order, because serde and the NSM order fields by declaration;
 * - text strings are well-formed UTF-8 (fatal decoding; the encoder refuses lone surrogates);
 * - nesting depth and input size are bounded, and every length is checked against the bytes
 *   actually left before anything is allocated;
 * - exactly one item fills the input (no trailing bytes).
 *
 * So encodeCbor(decodeCbor(b)) is b, byte for byte, for every b decodeCbor accepts.
 *
 * The one sanctioned exception: the NSM writes the attestation timestamp as an 8-byte integer
 * whatever its value. A caller that must read that passes `wideUints: true`; an unsigned integer
 * in a longer head than needed then decodes as a WideUint that remembers its width (and
 * re-encodes to the same bytes). Lengths and negative integers stay shortest-only.
 *
 * Decoding failures throw VerifierError (MALFORMED, or the caller's more specific code) with the
 * byte offset and reason as evidence; an input over `maxBytes` is OVERSIZED. Encoding a value
 * outside the subset is caller misuse: TypeError/RangeError.
 */
import { VerifierError, type VerifierErrorCode } from '../errors.ts';

/** A map key: text, or an integer (COSE labels, PCR indexes). */
export type CborKey = string | number;
export type CborMap = Map<CborKey, CborValue>;
export type CborValue = number | string | Uint8Array | boolean | null | CborValue[] | CborMap | CborTag | WideUint;

/** A tagged item (major type 6), e.g. tag 18 for COSE_Sign1. */
export class CborTag {
  constructor(
    readonly tag: number,
    readonly value: CborValue,
  ) {}
}

/** An unsigned integer written in a fixed head width (1, 2, 4 or 8 bytes), shortest or not. */
export class WideUint {
  constructor(
    readonly value: number,
    readonly width: 1 | 2 | 4 | 8,
  ) {
    if (!Number.isSafeInteger(value) || value < 0)
      throw new RangeError('cbor: WideUint needs a non-negative safe integer');
    if (width !== 8 && value >= 2 ** (8 * width)) throw new RangeError(`cbor: ${value} does not fit in ${width} bytes`);
  }
}

export interface DecodeOptions {
  /** the code thrown for malformed input (default MALFORMED) */
  code?: VerifierErrorCode;
  /** inputs longer than this are refused as OVERSIZED (default 1 MiB) */
  maxBytes?: number;
  /** nesting deeper than this is refused (default 16; the top-level item is depth 0) */
  maxDepth?: number;
  /** tag numbers accepted (default none) */
  tags?: readonly number[];
  /** accept unsigned integers in non-shortest heads, as WideUint (default false; see the header) */
  wideUints?: boolean;
}

export const CBOR_MAX_BYTES = 1024 * 1024;
export const CBOR_MAX_DEPTH = 16;

const MAJOR = { UINT: 0, NINT: 1, BYTES: 2, TEXT: 3, ARRAY: 4, MAP: 5, TAG: 6, SIMPLE: 7 } as const;
const MIN_FOR_WIDTH = [0, 24, 0x100, 0, 0x10000, 0, 0, 0, 0x100000000] as const;
// ignoreBOM: a leading U+FEFF is text like any other (stripping it would break the byte-exact re-encode)
const utf8Fatal = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const utf8 = new TextEncoder();

// ---------------------------------------------------------------------------------------------
// encoding

class Writer {
  buf = new Uint8Array(256);
  len = 0;

  room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  head(major: number, arg: number, width?: 1 | 2 | 4 | 8): void {
    if (!Number.isSafeInteger(arg) || arg < 0)
      throw new RangeError(`cbor: head argument ${arg} is not a non-negative safe integer`);
    const w = width ?? (arg < 24 ? 0 : arg < 0x100 ? 1 : arg < 0x10000 ? 2 : arg < 0x100000000 ? 4 : 8);
    this.room(9);
    const b = this.buf;
    const m = major << 5;
    if (w === 0) {
      b[this.len++] = m | arg;
      return;
    }
    b[this.len++] = m | (w === 1 ? 24 : w === 2 ? 25 : w === 4 ? 26 : 27);
    let v = arg;
    for (let i = this.len + w - 1; i >= this.len; i--) {
      b[i] = v % 256;
      v = Math.floor(v / 256);
    }
    this.len += w;
  }

  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  text(s: string): void {
    if (!isWellFormed(s)) throw new RangeError('cbor: text string holds a lone surrogate (not encodable as UTF-8)');
    const b = utf8.encode(s);
    this.head(MAJOR.TEXT, b.length);
    this.bytes(b);
  }

  value(v: CborValue, depth: number): void {
    if (depth > CBOR_MAX_DEPTH * 4) throw new RangeError('cbor: value nested too deeply to encode');
    if (v === null) this.simple(0xf6);
    else if (v === true) this.simple(0xf5);
    else if (v === false) this.simple(0xf4);
    else if (typeof v === 'number') this.int(v);
    else if (typeof v === 'string') this.text(v);
    else if (v instanceof Uint8Array) {
      this.head(MAJOR.BYTES, v.length);
      this.bytes(v);
    } else if (Array.isArray(v)) {
      this.head(MAJOR.ARRAY, v.length);
      for (const x of v) this.value(x, depth + 1);
    } else if (v instanceof Map) {
      this.head(MAJOR.MAP, v.size);
      for (const [k, x] of v) {
        if (typeof k !== 'string' && typeof k !== 'number')
          throw new TypeError('cbor: map keys must be text or integers');
        this.value(k, depth + 1);
        this.value(x, depth + 1);
      }
    } else if (v instanceof WideUint) this.head(MAJOR.UINT, v.value, v.width);
    else if (v instanceof CborTag) {
      this.head(MAJOR.TAG, v.tag);
      this.value(v.value, depth + 1);
    } else throw new TypeError(`cbor: cannot encode ${typeof v}`);
  }

  int(n: number): void {
    if (!Number.isSafeInteger(n))
      throw new RangeError(`cbor: ${n} is not a safe integer (no floats, nothing beyond 2^53)`);
    if (n >= 0) this.head(MAJOR.UINT, n);
    else this.head(MAJOR.NINT, -1 - n);
  }

  simple(b: number): void {
    this.room(1);
    this.buf[this.len++] = b;
  }
}

function isWellFormed(s: string): boolean {
  const f = (s as { isWellFormed?: () => boolean }).isWellFormed;
  return f ? f.call(s) : !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s);
}

/** Encodes `v` (shortest heads, definite lengths, map entries in insertion order). */
export function encodeCbor(v: CborValue): Uint8Array {
  const w = new Writer();
  w.value(v, 0);
  return w.buf.slice(0, w.len);
}

// ---------------------------------------------------------------------------------------------
// decoding

class Reader {
  pos = 0;
  constructor(
    private readonly b: Uint8Array,
    private readonly code: VerifierErrorCode,
    private readonly maxDepth: number,
    private readonly tags: readonly number[],
    private readonly wideUints: boolean,
  ) {}

  fail(reason: string, offset = this.pos): never {
    throw new VerifierError(this.code, `CBOR: ${reason} at offset ${offset}`, { offset, reason });
  }

  item(depth: number): CborValue {
    if (depth > this.maxDepth) this.fail(`nested deeper than ${this.maxDepth}`);
    const start = this.pos;
    if (start >= this.b.length) this.fail('truncated: an item is missing');
    const ib = this.b[this.pos++]!;
    const major = ib >> 5;
    const info = ib & 0x1f;
    if (major === MAJOR.SIMPLE) {
      if (info === 20) return false;
      if (info === 21) return true;
      if (info === 22) return null;
      if (info >= 25 && info <= 27) this.fail('floats are not accepted', start);
      if (info === 31) this.fail('indefinite lengths are not accepted', start);
      this.fail(`simple value ${info} is not accepted`, start);
    }
    let arg = info;
    if (info >= 24) {
      if (info === 31) this.fail('indefinite lengths are not accepted', start);
      if (info > 27) this.fail(`reserved additional information ${info}`, start);
      const width = 1 << (info - 24);
      if (width > this.b.length - this.pos) this.fail('truncated head', start);
      arg = 0;
      for (let i = 0; i < width; i++) arg = arg * 256 + this.b[this.pos++]!;
      if (!Number.isSafeInteger(arg)) this.fail('integer or length beyond 2^53', start);
      if (arg < MIN_FOR_WIDTH[width]!) {
        if (major === MAJOR.UINT && this.wideUints) return new WideUint(arg, width as 1 | 2 | 4 | 8);
        this.fail('head not in shortest form', start);
      }
    }
    switch (major) {
      case MAJOR.UINT:
        return arg;
      case MAJOR.NINT:
        if (arg === Number.MAX_SAFE_INTEGER) this.fail('negative integer beyond -(2^53 - 1)', start);
        return -1 - arg;
      case MAJOR.BYTES:
        return this.take(arg, start).slice();
      case MAJOR.TEXT: {
        const raw = this.take(arg, start);
        try {
          return utf8Fatal.decode(raw);
        } catch {
          return this.fail('text string is not valid UTF-8', start);
        }
      }
      case MAJOR.ARRAY: {
        // every item takes at least one byte: refuse counts the input cannot hold before allocating
        if (arg > this.b.length - this.pos) this.fail(`array of ${arg} items longer than the input`, start);
        const out: CborValue[] = new Array(arg);
        for (let i = 0; i < arg; i++) out[i] = this.item(depth + 1);
        return out;
      }
      case MAJOR.MAP: {
        if (arg > (this.b.length - this.pos) / 2) this.fail(`map of ${arg} entries longer than the input`, start);
        const out: CborMap = new Map();
        for (let i = 0; i < arg; i++) {
          const at = this.pos;
          const k = this.item(depth + 1);
          if (typeof k !== 'string' && typeof k !== 'number') this.fail('map key is not text or an integer', at);
          if (out.has(k))
            this.fail(`duplicate map key ${JSON.stringify(typeof k === 'string' ? k.slice(0, 64) : k)}`, at);
          out.set(k, this.item(depth + 1));
        }
        return out;
      }
      default: // MAJOR.TAG
        if (!this.tags.includes(arg)) this.fail(`tag ${arg} is not accepted here`, start);
        return new CborTag(arg, this.item(depth + 1));
    }
  }

  take(n: number, start: number): Uint8Array {
    if (n > this.b.length - this.pos)
      this.fail(`truncated: ${n} bytes announced, ${this.b.length - this.pos} left`, start);
    const s = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return s;
  }
}

/**
 * Decodes exactly one item filling all of `bytes`, strictly (see the header). Byte strings in
 * the result are copies the caller owns.
 */
export function decodeCbor(bytes: Uint8Array, opts: DecodeOptions = {}): CborValue {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('decodeCbor: expected bytes');
  const maxBytes = opts.maxBytes ?? CBOR_MAX_BYTES;
  const code = opts.code ?? 'MALFORMED';
  if (bytes.length > maxBytes)
    throw new VerifierError('OVERSIZED', `CBOR input of ${bytes.length} bytes exceeds ${maxBytes}`, {
      size: bytes.length,
      max: maxBytes,
    });
  const r = new Reader(bytes, code, opts.maxDepth ?? CBOR_MAX_DEPTH, opts.tags ?? [], opts.wideUints ?? false);
  const v = r.item(0);
  if (r.pos !== bytes.length) r.fail(`${bytes.length - r.pos} trailing bytes after the item`);
  return v;
}

/** True for a CBOR map value (a JS Map). */
export function isCborMap(v: CborValue | undefined): v is CborMap {
  return v instanceof Map;
}
