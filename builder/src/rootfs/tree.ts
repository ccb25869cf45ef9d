/**
 * The normalised rootfs tree the builder turns into a ramdisk. Normalisation removes every
 * host-dependent attribute (verifier/build/cpio/newc.ts lists what leaks into PCRs):
 * owner → 0:0, mtime → the dialect's constant, permissions → 0755 for directories and for
 * files with any execute bit, 0644 for other files, 0777 for symlinks (setuid/setgid/sticky
 * are dropped); order → bytewise by full path. Hard links are grouped by the source's
 * (dev, ino). Only the content, the type, the executable bit and link targets survive.
 */
export type EntryType = 'dir' | 'file' | 'symlink' | 'char' | 'block' | 'fifo';

export interface RootfsEntry {
  /** Path inside the rootfs, "/"-separated, no leading "/" (e.g. "usr/bin/node"). */
  name: string;
  type: EntryType;
  perm: number;
  size: number;
  /** Host path to read file content from (regular files). */
  source?: string;
  target?: string;
  linkGroup?: string;
  rdev?: [number, number];
}

export function normalPerm(type: EntryType, mode: number): number {
  if (type === 'dir') return 0o755;
  if (type === 'symlink') return 0o777;
  if (type === 'file') return (mode & 0o111) !== 0 ? 0o755 : 0o644;
  return 0o644;
}

/** A path component that cannot escape or confuse the archive. */
export function safeComponent(c: string): boolean {
  return c.length > 0 && c !== '.' && c !== '..' && !c.includes('/') && !c.includes('\0');
}
