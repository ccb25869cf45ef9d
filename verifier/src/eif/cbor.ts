/**
 * The small slice of CBOR (RFC 8949) that EIF signature sections use, as serde_cbor 0.11
 * writes it: unsigned ints, negative ints, byte/text strings, arrays and text-keyed maps, all
 * with definite lengths and shortest-form heads. The decoder is strict (no indefinite lengths,
 * no tags, no floats, shortest form only, bounded depth) and throws EIF_MALFORMED.
 */
import { VerifierError } from '../errors.ts';

export type CborValue = number | string | Uint8Array | CborValue[] | CborMap;
/** A map as ordered entries: key order is part of the bytes. */
export interface CborMap { map: Array<[string | number, CborValue]> }

function head(major: number, n: number): number[] {
  const m = major << 5;
  if (n < 24) return [m | n];
  if (n < 0x100) return [m | 24, n];
  if (n < 0x10000) return [m | 25, n >> 8, n & 0xff];
  if (n <= 0xffffffff) return [m | 26, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
  throw new RangeError('cbor: length beyond 2^32 not supported');
}

function enc(v: CborValue, out: number[]): void {
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw new RangeError('cbor: integers only');
    out.push(...(v >= 0 ? head(0, v) : head(1, -1 - v)));
  } else if (typeof v === 'string') {
    const b = Buffer.from(v, 'utf8');
    out.push(...head(3, b.length), ...b);
  } else if (v instanceof Uint8Array) {
    out.push(...head(2, v.length));
    for (const x of v) out.push(x);
  } else if (Array.isArray(v)) {
    out.push(...head(4, v.length));
    for (const x of v) enc(x, out);
  } else {
    out.push(...head(5, v.map.length));
    for (const [k, x] of v.map) { enc(k, out); enc(x, out); }
  }
}

export function cborEncode(v: CborValue): Uint8Array {
  const out: number[] = [];
  enc(v, out);
  return new Uint8Array(out);
}

/** A byte string as serde encodes a plain `Vec<u8>`: an array of uints. */
export function uintArray(b: Uint8Array): number[] {
  return Array.from(b);
}

const MAX_DEPTH = 16;

class Reader {
  pos = 0;
  constructor(private readonly b: Uint8Array) {}
  fail(msg: string): never {
    throw new VerifierError('EIF_MALFORMED', `signature CBOR: ${msg}`, { offset: this.pos });
  }
  byte(): number {
    if (this.pos >= this.b.length) this.fail('truncated');
    return this.b[this.pos++]!;
  }
  arg(info: number): number {
    if (info < 24) return info;
    const n = info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : 0;
    if (n === 0) this.fail('indefinite or reserved length');
    let v = 0;
    for (let i = 0; i < n; i++) v = v * 256 + this.byte();
    if (!Number.isSafeInteger(v)) this.fail('integer too large');
    const min = n === 1 ? 24 : n === 2 ? 0x100 : n === 4 ? 0x10000 : 0x100000000;
    if (v < min) this.fail('non-shortest integer');
    return v;
  }
  take(n: number): Uint8Array {
    if (n > this.b.length - this.pos) this.fail('truncated');
    const s = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return s;
  }
  value(depth: number): CborValue {
    if (depth > MAX_DEPTH) this.fail('nested too deeply');
    const ib = this.byte();
    const major = ib >> 5;
    const n = this.arg(ib & 31);
    switch (major) {
      case 0: return n;
      case 1: return -1 - n;
      case 2: return this.take(n);
      case 3: {
        try { return new TextDecoder('utf-8', { fatal: true }).decode(this.take(n)); } catch { return this.fail('text is not UTF-8'); }
      }
      case 4: {
        if (n > this.b.length - this.pos) this.fail('array longer than input');
        const a: CborValue[] = [];
        for (let i = 0; i < n; i++) a.push(this.value(depth + 1));
        return a;
      }
      case 5: {
        if (n > this.b.length - this.pos) this.fail('map longer than input');
        const m: CborMap = { map: [] };
        for (let i = 0; i < n; i++) {
          const k = this.value(depth + 1);
          if (typeof k !== 'string' && typeof k !== 'number') this.fail('map key is not text or int');
          m.map.push([k, this.value(depth + 1)]);
        }
        return m;
      }
      default: return this.fail(`unsupported major type ${major}`);
    }
  }
}

/** Decodes exactly one CBOR item filling all of `b`. */
export function cborDecode(b: Uint8Array): CborValue {
  const r = new Reader(b);
  const v = r.value(0);
  if (r.pos !== b.length) r.fail('trailing bytes');
  return v;
}

export function mapGet(m: CborValue, key: string | number): CborValue | undefined {
  if (typeof m !== 'object' || m instanceof Uint8Array || Array.isArray(m)) return undefined;
  return m.map.find(([k]) => k === key)?.[1];
}

/** Reads a serde `Vec<u8>` (array of uints < 256) back into bytes, or undefined. */
export function bytesFromUintArray(v: CborValue | undefined): Uint8Array | undefined {
  if (!Array.isArray(v)) return undefined;
  const out = new Uint8Array(v.length);
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    if (typeof x !== 'number' || x < 0 || x > 255) return undefined;
    out[i] = x;
  }
  return out;
}
