/**
 * A small streaming tar reader (POSIX.1-1988 ustar, GNU 'L'/'K' long names, POSIX.1-2001
 * pax 'x' records for path/linkpath/size; 'g' global records are ignored) — enough for the
 * layers of docker-save tarballs and OCI layouts. Entries are yielded one at a time; the
 * caller must consume (or skip) `entry.data` before asking for the next. Base-256 sizes are
 * accepted. Malformed archives (bad checksum, truncated data) → ROOTFS_MALFORMED.
 */
import { BuilderError } from '../errors.ts';

export type TarType = 'file' | 'hardlink' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo';

export interface TarEntry {
  name: string;
  type: TarType;
  mode: number;
  size: number;
  linkname: string;
  devmajor: number;
  devminor: number;
}

/** Pull-based reader over an async byte iterator. */
export class ByteReader {
  private buf: Buffer = Buffer.alloc(0);
  private done = false;
  /** Bytes consumed so far (the offset of the next byte in the underlying stream). */
  position = 0;
  constructor(private readonly it: AsyncIterator<Buffer | Uint8Array>) {}

  private async fill(n: number): Promise<boolean> {
    while (this.buf.length < n && !this.done) {
      let r: IteratorResult<Buffer | Uint8Array>;
      try {
        r = await this.it.next();
      } catch (e) {
        if (e instanceof BuilderError) throw e;
        throw new BuilderError(
          'ROOTFS_MALFORMED',
          `cannot read layer stream: ${(e as Error).message}`,
          {},
          { cause: e },
        );
      }
      if (r.done) this.done = true;
      else this.buf = this.buf.length === 0 ? Buffer.from(r.value) : Buffer.concat([this.buf, r.value]);
    }
    return this.buf.length >= n;
  }

  /** Exactly n bytes, or undefined at a clean EOF before any byte. */
  async read(n: number): Promise<Buffer | undefined> {
    if (!(await this.fill(n))) {
      if (this.buf.length === 0) return undefined;
      throw new BuilderError('ROOTFS_MALFORMED', 'tar archive is truncated', { want: n, have: this.buf.length });
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    this.position += n;
    return out;
  }

  /** Streams n bytes to `sink` in chunks (bounded memory). */
  async pipe(n: number, sink: (chunk: Buffer) => Promise<void> | void): Promise<void> {
    let left = n;
    while (left > 0) {
      if (this.buf.length === 0 && !(await this.fill(1)))
        throw new BuilderError('ROOTFS_MALFORMED', 'tar entry data is truncated', { missing: left });
      const take = Math.min(left, this.buf.length);
      const part = this.buf.subarray(0, take);
      this.buf = this.buf.subarray(take);
      this.position += take;
      left -= take;
      await sink(part);
    }
  }
}

function str(b: Buffer, off: number, len: number): string {
  const s = b.subarray(off, off + len);
  const z = s.indexOf(0);
  return (z < 0 ? s : s.subarray(0, z)).toString('utf8');
}

function num(b: Buffer, off: number, len: number): number {
  if ((b[off]! & 0x80) !== 0) {
    let v = 0;
    for (let i = off + 1; i < off + len; i++) v = v * 256 + b[i]!;
    return v;
  }
  const s = str(b, off, len).trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s))
    throw new BuilderError('ROOTFS_MALFORMED', 'bad octal field in tar header', { field: s.slice(0, 20) });
  return parseInt(s, 8);
}

function checksumOk(h: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
  return sum === num(h, 148, 8);
}

const TYPES: Record<string, TarType> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file',
  '1': 'hardlink',
  '2': 'symlink',
  '3': 'char',
  '4': 'block',
  '5': 'dir',
  '6': 'fifo',
};

/** Pax records by keyword, in a null-prototype object: keywords are the archive's strings. */
function parsePax(b: Buffer): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  let off = 0;
  while (off < b.length) {
    const sp = b.indexOf(0x20, off);
    const len = sp < 0 ? NaN : parseInt(b.subarray(off, sp).toString('ascii'), 10);
    if (!Number.isInteger(len) || len <= 0 || off + len > b.length)
      throw new BuilderError('ROOTFS_MALFORMED', 'bad pax record', { offset: off });
    const rec = b.subarray(sp + 1, off + len - 1).toString('utf8');
    const eq = rec.indexOf('=');
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    off += len;
  }
  return out;
}

const MAX_META = 1 << 20;

/** Yields entries; after each, the caller must call `r.pipe(size, …)` or `skip` exactly once. */
export async function* tarEntries(r: ByteReader): AsyncGenerator<TarEntry> {
  let pax: Record<string, string> = Object.create(null);
  let longName: string | undefined;
  let longLink: string | undefined;
  for (;;) {
    const h = await r.read(512);
    if (!h || h.every((x) => x === 0)) return;
    if (!checksumOk(h)) throw new BuilderError('ROOTFS_MALFORMED', 'tar header checksum mismatch', {});
    const flag = String.fromCharCode(h[156]!);
    const size = num(h, 124, 12);
    const padded = size + ((512 - (size % 512)) % 512);
    if (flag === 'x' || flag === 'g' || flag === 'L' || flag === 'K') {
      if (size > MAX_META) throw new BuilderError('ROOTFS_MALFORMED', 'tar metadata record too large', { size });
      const body = (await r.read(padded)) ?? Buffer.alloc(0);
      const data = body.subarray(0, size);
      if (flag === 'x') pax = parsePax(data);
      else if (flag === 'L') longName = str(data, 0, data.length);
      else if (flag === 'K') longLink = str(data, 0, data.length);
      continue;
    }
    const type = TYPES[flag];
    const magic = h.subarray(257, 262).toString('latin1');
    const prefix = magic === 'ustar' && h[262] === 0 ? str(h, 345, 155) : '';
    const name = pax.path ?? longName ?? (prefix ? `${prefix}/${str(h, 0, 100)}` : str(h, 0, 100));
    const linkname = pax.linkpath ?? longLink ?? str(h, 157, 100);
    const realSize = pax.size !== undefined ? Number(pax.size) : size;
    pax = Object.create(null);
    longName = longLink = undefined;
    const e: TarEntry = {
      name,
      type: type ?? 'file',
      mode: num(h, 100, 8),
      size: type === 'file' ? realSize : 0,
      linkname,
      devmajor: num(h, 329, 8),
      devminor: num(h, 337, 8),
    };
    const dataSize =
      type === 'file' || type === undefined ? realSize : flag === '1' || flag === '2' || flag === '5' ? 0 : realSize;
    if (type === undefined)
      throw new BuilderError('ROOTFS_UNSUPPORTED', `tar entry type '${flag}' is not supported`, { name });
    yield e;
    // The consumer piped e.size bytes of a file; skip anything else plus the padding.
    const consumed = e.type === 'file' ? e.size : 0;
    await r.pipe(dataSize - consumed + ((512 - (dataSize % 512)) % 512), () => {});
  }
}
