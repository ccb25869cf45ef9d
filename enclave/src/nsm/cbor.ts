/**
 * The small CBOR subset (RFC 8949) the NSM API speaks: unsigned ints, byte strings, text
 * strings, arrays, maps, booleans and null — exactly what serde_cbor 0.11 emits for the
 * nsm-api Request/Response enums (see testdata/nitro/nsm-cbor-encodings.json).
 *
 * Encoding is deterministic: shortest-form heads, definite lengths, map entries in insertion
 * order (serde emits struct fields in declaration order, so callers build maps in that order).
 * Decoding is strict and bounded, because a response is attacker-shaped input to us: no
 * indefinite lengths, tags, floats or negative ints; no trailing bytes; nesting depth ≤ 16;
 * every length is checked against the bytes actually present before anything is allocated.
 * A decoding failure throws CborError (the codec turns it into a coded EnclaveError).
 */

export type CborKey = string | number;
export type CborValue = number | boolean | null | string | Uint8Array | CborValue[] | CborMap;
export type CborMap = Map<CborKey, CborValue>;

export class CborError extends Error {
  override readonly name = 'CborError';
}

const MAX_DEPTH = 16;
const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

function head(major: number, n: number, out: number[]): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`CBOR length/uint out of range: ${n}`);
  const m = major << 5;
  if (n < 24) out.push(m | n);
  else if (n < 0x100) out.push(m | 24, n);
  else if (n < 0x10000) out.push(m | 25, n >>> 8, n & 0xff);
  else if (n < 0x100000000) out.push(m | 26, n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
  else {
    const hi = Math.floor(n / 0x100000000);
    const lo = n >>> 0;
    out.push(m | 27, 0, 0, (hi >>> 8) & 0xff, hi & 0xff, lo >>> 24, (lo >>> 16) & 0xff, (lo >>> 8) & 0xff, lo & 0xff);
  }
}

function encodeInto(v: CborValue, out: number[]): void {
  if (v === null) out.push(0xf6);
  else if (v === true) out.push(0xf5);
  else if (v === false) out.push(0xf4);
  else if (typeof v === 'number') head(0, v, out);
  else if (typeof v === 'string') {
    const b = utf8.encode(v);
    head(3, b.length, out);
    for (const x of b) out.push(x);
  } else if (v instanceof Uint8Array) {
    head(2, v.length, out);
    for (const x of v) out.push(x);
  } else if (Array.isArray(v)) {
    head(4, v.length, out);
    for (const x of v) encodeInto(x, out);
  } else if (v instanceof Map) {
    head(5, v.size, out);
    for (const [k, x] of v) {
      encodeInto(k, out);
      encodeInto(x, out);
    }
  } else throw new TypeError(`cannot CBOR-encode ${typeof v}`);
}

/** Encodes `v` deterministically (see the file header). */
export function encodeCbor(v: CborValue): Uint8Array {
  const out: number[] = [];
  encodeInto(v, out);
  return Uint8Array.from(out);
}

class Reader {
  pos = 0;
  constructor(readonly b: Uint8Array) {}

  take(n: number): Uint8Array {
    if (n > this.b.length - this.pos) throw new CborError(`truncated: need ${n} bytes at offset ${this.pos}, have ${this.b.length - this.pos}`);
    const s = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return s;
  }

  /** Reads an item head; returns [major, argument]. */
  head(): [number, number] {
    const ib = this.take(1)[0]!;
    const major = ib >> 5;
    const info = ib & 0x1f;
    if (major === 7) return [7, info];
    if (info < 24) return [major, info];
    const width = info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : 0;
    if (width === 0) throw new CborError(`unsupported additional info ${info} (indefinite length or reserved) at offset ${this.pos - 1}`);
    let n = 0;
    for (const x of this.take(width)) n = n * 256 + x;
    if (!Number.isSafeInteger(n)) throw new CborError(`integer beyond 2^53 at offset ${this.pos - width - 1}`);
    return [major, n];
  }

  item(depth: number): CborValue {
    if (depth > MAX_DEPTH) throw new CborError(`nesting deeper than ${MAX_DEPTH}`);
    const start = this.pos;
    const [major, n] = this.head();
    switch (major) {
      case 0: return n;
      case 2: return Uint8Array.from(this.take(n));
      case 3: return this.text(n);
      case 4: return this.array(n, depth);
      case 5: return this.map(n, depth);
      case 7:
        if (n === 20) return false;
        if (n === 21) return true;
        if (n === 22) return null;
        throw new CborError(`unsupported simple/float value ${n} at offset ${start}`);
      default:
        throw new CborError(`unsupported major type ${major} at offset ${start}`);
    }
  }

  text(n: number): string {
    try {
      return utf8Strict.decode(this.take(n));
    } catch (e) {
      if (e instanceof CborError) throw e;
      throw new CborError(`invalid UTF-8 in text string ending at offset ${this.pos}`);
    }
  }

  array(n: number, depth: number): CborValue[] {
    // every item takes at least one byte: refuse lengths the input cannot hold before allocating
    if (n > this.b.length - this.pos) throw new CborError(`array of ${n} items cannot fit in the remaining ${this.b.length - this.pos} bytes`);
    const out: CborValue[] = [];
    for (let i = 0; i < n; i++) out.push(this.item(depth + 1));
    return out;
  }

  map(n: number, depth: number): CborMap {
    if (2 * n > this.b.length - this.pos) throw new CborError(`map of ${n} entries cannot fit in the remaining ${this.b.length - this.pos} bytes`);
    const out: CborMap = new Map();
    for (let i = 0; i < n; i++) {
      const at = this.pos;
      const k = this.item(depth + 1);
      if (typeof k !== 'string' && typeof k !== 'number') throw new CborError(`map key at offset ${at} is not a text string or uint`);
      if (out.has(k)) throw new CborError(`duplicate map key ${JSON.stringify(k)} at offset ${at}`);
      out.set(k, this.item(depth + 1));
    }
    return out;
  }
}

/** Decodes exactly one CBOR item filling all of `bytes`; throws CborError otherwise. */
export function decodeCbor(bytes: Uint8Array): CborValue {
  const r = new Reader(bytes);
  const v = r.item(0);
  if (r.pos !== bytes.length) throw new CborError(`${bytes.length - r.pos} trailing bytes after the CBOR item`);
  return v;
}
