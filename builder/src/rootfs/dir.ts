/**
 * Reads a rootfs directory into normalised entries (tree.ts) without reading file content:
 * lstat only, symlinks are recorded (never followed), sockets are refused
 * (ROOTFS_UNSUPPORTED), names that are not valid UTF-8 are refused (ROOTFS_MALFORMED) since
 * they would not round-trip. Directory listing order from the OS never matters: entries
 * are sorted bytewise. Memory: one small record per entry, no file data. The walk is
 * synchronous: a build is a sequential job, and a threadpool round trip per lstat costs
 * more than the whole syscall on a node_modules-sized tree.
 */
import { lstatSync, readdirSync, readlinkSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { BuilderError } from '../errors.ts';
import { compareUtf8 } from '#verifier/build';
import { normalPerm, type EntryType, type RootfsEntry } from './tree.ts';

function typeOf(st: Stats): EntryType | undefined {
  if (st.isDirectory()) return 'dir';
  if (st.isFile()) return 'file';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return 'char';
  if (st.isBlockDevice()) return 'block';
  if (st.isFIFO()) return 'fifo';
  return undefined;
}

/** Entries under `root` (the root itself excluded), sorted bytewise by path. */
export async function readRootfsDir(root: string): Promise<RootfsEntry[]> {
  let rootSt;
  try {
    rootSt = lstatSync(root);
  } catch (e) {
    throw new BuilderError('INPUT_MISSING', `rootfs directory not found: ${root}`, { path: root }, { cause: e });
  }
  if (!rootSt.isDirectory())
    throw new BuilderError('ROOTFS_UNSUPPORTED', 'rootfs path is not a directory', { path: root });
  const out: RootfsEntry[] = [];
  const links = new Map<string, number>();
  function walk(dir: string, prefix: string): void {
    const names = readdirSync(dir, { encoding: 'buffer' }).map((b) => {
      const s = b.toString('utf8');
      if (!Buffer.from(s, 'utf8').equals(b))
        throw new BuilderError('ROOTFS_MALFORMED', 'file name is not valid UTF-8', { dir, name: b.toString('hex') });
      return s;
    });
    for (const n of names) {
      const host = join(dir, n);
      const name = prefix ? `${prefix}/${n}` : n;
      const st = lstatSync(host);
      const type = typeOf(st);
      if (!type) throw new BuilderError('ROOTFS_UNSUPPORTED', 'sockets cannot go into a ramdisk', { path: name });
      const e: RootfsEntry = { name, type, perm: normalPerm(type, st.mode), size: type === 'file' ? st.size : 0 };
      if (type === 'file') {
        e.source = host;
        if (st.nlink > 1) {
          // Hard links are grouped by (dev, ino), read exactly (64-bit) only for these.
          const big = lstatSync(host, { bigint: true });
          const key = `${big.dev}:${big.ino}`;
          links.set(key, (links.get(key) ?? 0) + 1);
          e.linkGroup = key;
        }
      }
      if (type === 'symlink') e.target = readlinkSync(host);
      if (type === 'char' || type === 'block') {
        const rdev = lstatSync(host, { bigint: true }).rdev;
        e.rdev = [Number((rdev >> 8n) & 0xfffn), Number((rdev & 0xffn) | ((rdev >> 12n) & 0xfff00n))];
      }
      out.push(e);
      if (type === 'dir') walk(host, name);
    }
  }
  walk(root, '');
  // A hard-link group whose other links lie outside the rootfs is just a file here.
  for (const e of out) if (e.linkGroup && links.get(e.linkGroup) === 1) delete e.linkGroup;
  return out.sort((a, b) => compareUtf8(a.name, b.name));
}
