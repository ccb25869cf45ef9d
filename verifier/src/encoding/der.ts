/**
 * A small strict DER reader and writer (ITU-T X.690 §8 and §10, the subset X.509 needs).
 *
 * Reader contract: single-byte tags only (low tag numbers), definite lengths in their shortest
 * form, content inside the buffer. Anything else throws DerError, which callers turn into a
 * coded VerifierError with their own context (which certificate, which field). Pure and sync.
 *
 * Writer: builds TLVs with minimal lengths; it is used by the X.509 certificate builder.
 */

/** Thrown by the reader on any non-DER input; `at` is the byte offset. Internal to x509/. */
export class DerError extends Error {
  override readonly name = 'DerError';
  constructor(
    message: string,
    readonly at: number,
  ) {
    super(`${message} (at byte ${at})`);
  }
}

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** One TLV: `bytes` is the whole encoding, `content` the value octets (both views). */
export interface Tlv {
  tag: number;
  bytes: Uint8Array;
  content: Uint8Array;
  /** offset of the tag byte in the buffer read */
  start: number;
  /** offset just past the content */
  end: number;
}

const MAX_LENGTH_OCTETS = 3; // nothing X.509 here exceeds 16 MiB

/** Reads the TLV at `off` of `buf`. */
export function readTlv(buf: Uint8Array, off: number): Tlv {
  if (off >= buf.length) throw new DerError('truncated: expected a tag', off);
  const tag = buf[off]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError('multi-byte tags are not supported', off);
  let p = off + 1;
  if (p >= buf.length) throw new DerError('truncated: expected a length', p);
  const first = buf[p++]!;
  let len = first;
  if (first === 0x80) throw new DerError('indefinite length is not DER', p - 1);
  if (first > 0x80) {
    const n = first & 0x7f;
    if (n > MAX_LENGTH_OCTETS) throw new DerError('length too large', p - 1);
    if (p + n > buf.length) throw new DerError('truncated length', p);
    if (buf[p] === 0) throw new DerError('length not minimal', p);
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p++]!;
    if (len < 0x80) throw new DerError('length not minimal', p - n);
  }
  const end = p + len;
  if (end > buf.length) throw new DerError(`content overruns the buffer (${len} bytes)`, p);
  return { tag, bytes: buf.subarray(off, end), content: buf.subarray(p, end), start: off, end };
}

/** Reads exactly one TLV spanning the whole of `buf` with the expected tag. */
export function readOnly(buf: Uint8Array, tag: number): Tlv {
  const t = expect(readTlv(buf, 0), tag);
  if (t.end !== buf.length) throw new DerError('trailing bytes after the value', t.end);
  return t;
}

/** Throws unless `t.tag === tag`. */
export function expect(t: Tlv, tag: number): Tlv {
  if (t.tag !== tag) throw new DerError(`expected tag 0x${tag.toString(16)}, got 0x${t.tag.toString(16)}`, t.start);
  return t;
}

/** The children of a constructed value, in order. */
export function children(t: Tlv): Tlv[] {
  if ((t.tag & 0x20) === 0) throw new DerError('not a constructed value', t.start);
  const out: Tlv[] = [];
  let off = 0;
  while (off < t.content.length) {
    const c = readTlv(t.content, off);
    out.push(c);
    off = c.end;
  }
  return out;
}

/** A DER BOOLEAN: 0x00 or 0xff only. */
export function readBoolean(t: Tlv): boolean {
  expect(t, TAG.BOOLEAN);
  if (t.content.length !== 1 || (t.content[0] !== 0 && t.content[0] !== 0xff))
    throw new DerError('BOOLEAN must be 00 or ff', t.start);
  return t.content[0] === 0xff;
}

/** A minimal two's-complement INTEGER as a bigint. */
export function readInteger(t: Tlv): bigint {
  expect(t, TAG.INTEGER);
  const c = t.content;
  if (c.length === 0) throw new DerError('empty INTEGER', t.start);
  if (c.length > 1 && ((c[0] === 0 && (c[1]! & 0x80) === 0) || (c[0] === 0xff && (c[1]! & 0x80) !== 0)))
    throw new DerError('INTEGER not minimal', t.start);
  let v = 0n;
  for (const b of c) v = (v << 8n) | BigInt(b);
  if (c[0]! & 0x80) v -= 1n << BigInt(8 * c.length);
  return v;
}

/** A dotted OID string. */
export function readOid(t: Tlv): string {
  expect(t, TAG.OID);
  const c = t.content;
  if (c.length === 0 || (c[c.length - 1]! & 0x80) !== 0) throw new DerError('bad OID', t.start);
  const arcs: number[] = [];
  let v = 0;
  for (let i = 0; i < c.length; i++) {
    if (v === 0 && c[i] === 0x80) throw new DerError('OID arc not minimal', t.start);
    v = v * 128 + (c[i]! & 0x7f);
    if (v > Number.MAX_SAFE_INTEGER / 128) throw new DerError('OID arc too large', t.start);
    if ((c[i]! & 0x80) === 0) {
      arcs.push(v);
      v = 0;
    }
  }
  const first = arcs[0]!;
  const head = first < 40 ? [0, first] : first < 80 ? [1, first - 40] : [2, first - 80];
  return [...head, ...arcs.slice(1)].join('.');
}

/** A BIT STRING's bytes and unused-bit count (unused bits must be zero, as DER requires). */
export function readBitString(t: Tlv): { bytes: Uint8Array; unused: number } {
  expect(t, TAG.BIT_STRING);
  const c = t.content;
  if (c.length === 0 || c[0]! > 7 || (c.length === 1 && c[0] !== 0)) throw new DerError('bad BIT STRING', t.start);
  const unused = c[0]!;
  const bytes = c.subarray(1);
  if (unused > 0 && (bytes[bytes.length - 1]! & ((1 << unused) - 1)) !== 0)
    throw new DerError('BIT STRING unused bits not zero', t.start);
  return { bytes, unused };
}

const TIME_RE = {
  [TAG.UTC_TIME]: /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/,
  [TAG.GENERALIZED_TIME]: /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/,
} as const;

/** UTCTime (YYMMDDHHMMSSZ, 1950-2049) or GeneralizedTime (YYYYMMDDHHMMSSZ), RFC 5280 §4.1.2.5. */
export function readTime(t: Tlv): Date {
  if (t.tag !== TAG.UTC_TIME && t.tag !== TAG.GENERALIZED_TIME) throw new DerError('expected a time', t.start);
  const s = String.fromCharCode(...t.content);
  const m = TIME_RE[t.tag].exec(s);
  if (!m) throw new DerError(`bad time ${JSON.stringify(s)}`, t.start);
  let year = Number(m[1]);
  if (t.tag === TAG.UTC_TIME) year += year < 50 ? 2000 : 1900;
  const [mo, d, h, mi, se] = [m[2], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number];
  const ms = Date.UTC(year, mo - 1, d, h, mi, se);
  const back = new Date(ms);
  if (back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || h > 23 || mi > 59 || se > 59)
    throw new DerError(`impossible time ${s}`, t.start);
  return back;
}

// ----- writer -----

function lengthBytes(n: number): number[] {
  if (n < 0x80) return [n];
  const out: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) out.unshift(v & 0xff);
  return [0x80 | out.length, ...out];
}

/** A TLV with the given tag around the concatenated parts. */
export function tlv(tag: number, ...parts: Uint8Array[]): Uint8Array {
  let len = 0;
  for (const p of parts) len += p.length;
  const head = [tag, ...lengthBytes(len)];
  const out = new Uint8Array(head.length + len);
  out.set(head, 0);
  let off = head.length;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

export const seq = (...parts: Uint8Array[]): Uint8Array => tlv(TAG.SEQUENCE, ...parts);

/** A non-negative INTEGER from big-endian magnitude bytes or a number/bigint. */
export function derInteger(v: Uint8Array | number | bigint): Uint8Array {
  let mag: number[];
  if (v instanceof Uint8Array) mag = [...v];
  else {
    let b = BigInt(v);
    if (b < 0n) throw new RangeError('derInteger: negative values are not supported');
    mag = [];
    do {
      mag.unshift(Number(b & 0xffn));
      b >>= 8n;
    } while (b > 0n);
  }
  while (mag.length > 1 && mag[0] === 0) mag.shift();
  if (mag.length === 0) mag = [0];
  if (mag[0]! & 0x80) mag.unshift(0);
  return tlv(TAG.INTEGER, Uint8Array.from(mag));
}

export function derOid(dotted: string): Uint8Array {
  const arcs = dotted.split('.').map((a) => {
    if (!/^\d+$/.test(a)) throw new RangeError(`derOid: bad OID ${dotted}`);
    return Number(a);
  });
  if (arcs.length < 2) throw new RangeError(`derOid: bad OID ${dotted}`);
  const out: number[] = [];
  for (const v of [arcs[0]! * 40 + arcs[1]!, ...arcs.slice(2)]) {
    const group: number[] = [v & 0x7f];
    for (let x = Math.floor(v / 128); x > 0; x = Math.floor(x / 128)) group.unshift(0x80 | (x & 0x7f));
    out.push(...group);
  }
  return tlv(TAG.OID, Uint8Array.from(out));
}

export const derBoolean = (b: boolean): Uint8Array => tlv(TAG.BOOLEAN, Uint8Array.of(b ? 0xff : 0));
export const derOctets = (b: Uint8Array): Uint8Array => tlv(TAG.OCTET_STRING, b);
export const derBits = (b: Uint8Array, unused = 0): Uint8Array => tlv(TAG.BIT_STRING, Uint8Array.of(unused), b);
export const derUtf8 = (s: string): Uint8Array => tlv(TAG.UTF8_STRING, new TextEncoder().encode(s));
export const derPrintable = (s: string): Uint8Array => tlv(TAG.PRINTABLE_STRING, new TextEncoder().encode(s));

/** UTCTime for 1950..2049 and GeneralizedTime otherwise (RFC 5280 §4.1.2.5); whole seconds only. */
export function derTime(d: Date): Uint8Array {
  const ms = d.getTime();
  if (!Number.isFinite(ms) || ms % 1000 !== 0) throw new RangeError('derTime: need a valid date with whole seconds');
  const y = d.getUTCFullYear();
  const two = (n: number) => String(n).padStart(2, '0');
  const rest = `${two(d.getUTCMonth() + 1)}${two(d.getUTCDate())}${two(d.getUTCHours())}${two(d.getUTCMinutes())}${two(d.getUTCSeconds())}Z`;
  if (y >= 1950 && y <= 2049) return tlv(TAG.UTC_TIME, new TextEncoder().encode(two(y % 100) + rest));
  if (y < 0 || y > 9999) throw new RangeError('derTime: year out of range');
  return tlv(TAG.GENERALIZED_TIME, new TextEncoder().encode(String(y).padStart(4, '0') + rest));
}
