/**
 * Strict newc cpio reader (magic 070701, either hex case) for diff-eif and tests. Stops at
 * TRAILER!!!; what follows must be zero padding. Member data are views into the input.
 * Refuses anything malformed (bad magic, non-hex fields, name without NUL, data past the
 * end, missing trailer, non-zero padding) with CPIO_MALFORMED and the offset.
 */
import { VerifierError } from '../../src/errors.ts';
import { CPIO_HEADER_SIZE, CPIO_MAGIC, CPIO_TRAILER_NAME, pad4, type NewcHeader } from './newc.ts';

export interface CpioEntry extends NewcHeader {
  /** The name exactly as stored (without its NUL); `name` is its UTF-8 decoding, lossy if not UTF-8. */
  nameBytes: Uint8Array;
  offset: number;
  /** True when the header's hex digits are upper case (GNU), false for lower (gocpio). */
  upperHex: boolean;
  check: number;
  data: Uint8Array;
}

const HEX = /^[0-9a-fA-F]{8}$/;
const MAX_NAME = 4096;

function bad(msg: string, offset: number): VerifierError {
  return new VerifierError('CPIO_MALFORMED', msg, { offset });
}

export function readCpio(b: Uint8Array): { entries: CpioEntry[]; trailer: CpioEntry; length: number } {
  const entries: CpioEntry[] = [];
  let off = 0;
  for (;;) {
    if (b.length - off < CPIO_HEADER_SIZE) throw bad('truncated cpio header (no TRAILER!!!)', off);
    const head = Buffer.from(b.subarray(off, off + CPIO_HEADER_SIZE)).toString('latin1');
    if (head.slice(0, 6) !== CPIO_MAGIC) throw bad('bad cpio magic (want 070701 newc)', off);
    const f: number[] = [];
    for (let i = 0; i < 13; i++) {
      const s = head.slice(6 + 8 * i, 14 + 8 * i);
      if (!HEX.test(s)) throw bad(`non-hex header field ${i}`, off);
      f.push(parseInt(s, 16));
    }
    const [ino, mode, uid, gid, nlink, mtime, size, devMajor, devMinor, rdevMajor, rdevMinor, namesize, check] = f as [
      number,
      number,
      number,
      number,
      number,
      number,
      number,
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    if (namesize < 1 || namesize > MAX_NAME) throw bad('bad namesize', off);
    const nameEnd = off + CPIO_HEADER_SIZE + namesize;
    if (nameEnd > b.length || b[nameEnd - 1] !== 0) throw bad('name not NUL-terminated within the archive', off);
    const nameBytes = b.subarray(off + CPIO_HEADER_SIZE, nameEnd - 1);
    if (nameBytes.includes(0)) throw bad('NUL inside name', off);
    const name = Buffer.from(nameBytes).toString('utf8');
    const dataStart = nameEnd + pad4(CPIO_HEADER_SIZE + namesize);
    if (dataStart + size > b.length) throw bad('member data runs past the end', off);
    const upperHex = /[A-F]/.test(head.slice(6)) || !/[a-f]/.test(head.slice(6));
    const e: CpioEntry = {
      name,
      nameBytes,
      ino,
      mode,
      uid,
      gid,
      nlink,
      mtime,
      size,
      devMajor,
      devMinor,
      rdevMajor,
      rdevMinor,
      check,
      offset: off,
      upperHex,
      data: b.subarray(dataStart, dataStart + size),
    };
    off = dataStart + size + pad4(size);
    if (name === CPIO_TRAILER_NAME) {
      if (off > b.length) off = b.length;
      for (let i = off; i < b.length; i++) if (b[i] !== 0) throw bad('non-zero bytes after the trailer', i);
      return { entries, trailer: e, length: b.length };
    }
    entries.push(e);
  }
}
