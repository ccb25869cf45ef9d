/**
 * SVR4 "newc" cpio (magic 070701), the initramfs format the Linux kernel unpacks
 * (Documentation/driver-api/early-userspace/buffer-format.rst), in the two dialects that
 * matter for Nitro PCRs (one of each, with sidecars: testdata/nitro/eif/ramdisk*.cpio):
 *
 * | dialect    | writer it matches                     | hex   | ino            | dev | dir nlink   | mtime       |
 * |------------|---------------------------------------|-------|----------------|-----|-------------|-------------|
 * | linuxkit   | linuxkit 1.5.2 gocpio (nitro-cli)     | lower | 721,722,… +trl | 3/1 | 2           | 1492533000  |
 * | canonical  | GNU cpio -R +0:+0 --reproducible      | UPPER | 0,1,…; trl 0   | 0/0 | 2 + subdirs | 1           |
 *
 * Both: header (13 fields × 8 hex digits after the magic) ‖ name ‖ NUL, padded to 4; data
 * padded to 4; trailer "TRAILER!!!" (mode 0, mtime 0, nlink 1); archive zero-padded to a
 * multiple of 512. Pure encoders only; the builder streams the data between headers.
 */
export type CpioDialect = 'linuxkit' | 'canonical';

export const CPIO_MAGIC = '070701';
export const CPIO_HEADER_SIZE = 110;
export const CPIO_TRAILER_NAME = 'TRAILER!!!';
export const CPIO_BLOCK = 512;

export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;
export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;
export const S_IFIFO = 0o010000;

export interface DialectRules {
  upper: boolean;
  firstIno: number;
  dev: [number, number];
  mtime: number;
  /** Trailer ino: 'next' continues the count (linuxkit), a number is used as is. */
  trailerIno: 'next' | number;
  /** Directory nlink: fixed 2, or 2 + number of subdirectories. */
  dirNlink: 'two' | 'subdirs';
}

export const DIALECTS: Record<CpioDialect, DialectRules> = {
  linuxkit: { upper: false, firstIno: 721, dev: [3, 1], mtime: 1492533000, trailerIno: 'next', dirNlink: 'two' },
  canonical: { upper: true, firstIno: 0, dev: [0, 0], mtime: 1, trailerIno: 0, dirNlink: 'subdirs' },
};

/** One archive member's header fields. `mode` includes the file type bits. */
export interface NewcHeader {
  name: string;
  ino: number;
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  mtime: number;
  size: number;
  devMajor: number;
  devMinor: number;
  rdevMajor: number;
  rdevMinor: number;
}

export function pad4(n: number): number {
  return (4 - (n % 4)) % 4;
}

function hex8(n: number, upper: boolean): string {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff)
    throw new RangeError(`cpio: field value ${n} does not fit 32 bits`);
  const s = n.toString(16).padStart(8, '0');
  return upper ? s.toUpperCase() : s;
}

/** Header ‖ name ‖ NUL ‖ padding to 4 (the data and its padding follow). */
export function encodeNewcHeader(h: NewcHeader, upper: boolean): Uint8Array {
  const name = Buffer.from(h.name, 'utf8');
  if (name.includes(0)) throw new RangeError('cpio: NUL in name');
  const fields = [
    h.ino,
    h.mode,
    h.uid,
    h.gid,
    h.nlink,
    h.mtime,
    h.size,
    h.devMajor,
    h.devMinor,
    h.rdevMajor,
    h.rdevMinor,
    name.length + 1,
    0,
  ];
  const head = Buffer.from(CPIO_MAGIC + fields.map((f) => hex8(f, upper)).join(''), 'ascii');
  const total = CPIO_HEADER_SIZE + name.length + 1;
  const out = new Uint8Array(total + pad4(total));
  out.set(head, 0);
  out.set(name, CPIO_HEADER_SIZE);
  return out;
}

/** The trailer record for a dialect, given the ino the next entry would have had. */
export function trailerHeader(d: CpioDialect, nextIno: number): Uint8Array {
  const r = DIALECTS[d];
  const ino = r.trailerIno === 'next' ? nextIno : r.trailerIno;
  const dev = r.trailerIno === 'next' ? r.dev : [0, 0];
  return encodeNewcHeader(
    {
      name: CPIO_TRAILER_NAME,
      ino,
      mode: 0,
      uid: 0,
      gid: 0,
      nlink: 1,
      mtime: 0,
      size: 0,
      devMajor: dev[0]!,
      devMinor: dev[1]!,
      rdevMajor: 0,
      rdevMinor: 0,
    },
    r.upper,
  );
}

/** Zero bytes that bring an archive of `length` bytes to a multiple of 512. */
export function finalPadding(length: number): number {
  return (CPIO_BLOCK - (length % CPIO_BLOCK)) % CPIO_BLOCK;
}
