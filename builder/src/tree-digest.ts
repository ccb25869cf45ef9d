/**
 * The rootfs tree digest that pins a directory input in builder.lock.json:
 *   SHA-256 over one line per entry, sorted bytewise by path:
 *     "<type> <perm octal> <size> <content sha256 | symlink target | rdev major:minor | -> <path>\n"
 *   (NUL-free paths; hard links after the first in a group hash as "link <first path>").
 * Only the normalised attributes (rootfs/tree.ts) are covered, so the digest is exactly as
 * stable as the ramdisk: mtimes, owners and umask never change it. The builder computes it
 * while streaming the ramdisk (file digests come from that single read).
 */
import { createHash } from 'node:crypto';
import type { RootfsEntry } from './rootfs/tree.ts';

export function treeDigest(tree: readonly RootfsEntry[], fileSha256: (e: RootfsEntry) => string | undefined): string {
  const h = createHash('sha256');
  const firstOfGroup = new Map<string, string>();
  for (const e of tree) {
    let what: string;
    if (e.linkGroup && firstOfGroup.has(e.linkGroup)) what = `link ${firstOfGroup.get(e.linkGroup)}`;
    else if (e.type === 'file') what = fileSha256(e) ?? 'missing';
    else if (e.type === 'symlink') what = e.target ?? '';
    else if (e.rdev) what = `${e.rdev[0]}:${e.rdev[1]}`;
    else what = '-';
    if (e.linkGroup && !firstOfGroup.has(e.linkGroup)) firstOfGroup.set(e.linkGroup, e.name);
    h.update(`${e.type} ${e.perm.toString(8)} ${e.size} ${what} ${e.name}\n`);
  }
  return h.digest('hex');
}
