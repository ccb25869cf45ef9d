/**
 * Applies image layers (OCI image-spec layer.md "Representing Changes") onto a scratch
 * directory: entries in tar order; `.wh.NAME` deletes NAME from lower layers; `.wh..wh..opq`
 * empties its directory of lower-layer content. Safety: every path is normalised, `..` and
 * absolute paths are refused, and no parent may be a symlink (a layer cannot write through a
 * link to outside the scratch directory) → PATH_UNSAFE. Device nodes cannot be created
 * without privileges tools, so they are skipped and reported; everything else is kept.
 * Ownership and mtimes are not applied (the builder normalises them anyway).
 */
import { chmod, lstat, link, mkdir, open, readdir, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { BuilderError } from '../errors.ts';
import { safeComponent } from './tree.ts';
import { tarEntries, type ByteReader } from './tar.ts';

const OPAQUE = '.wh..wh..opq';

export function cleanPath(p: string): string[] {
  const parts = p.split('/').filter((c) => c !== '' && c !== '.');
  for (const c of parts)
    if (!safeComponent(c)) throw new BuilderError('PATH_UNSAFE', 'layer path escapes the rootfs', { path: p });
  return parts;
}

async function ensureParents(root: string, parts: string[]): Promise<string> {
  let dir = root;
  for (const c of parts.slice(0, -1)) {
    dir = join(dir, c);
    const st = await lstat(dir).catch(() => undefined);
    if (!st) await mkdir(dir, { mode: 0o755 });
    else if (st.isSymbolicLink() || !st.isDirectory())
      throw new BuilderError('PATH_UNSAFE', 'layer writes through a non-directory parent', { path: parts.join('/') });
  }
  return join(dir, parts[parts.length - 1]!);
}

export async function applyLayer(root: string, r: ByteReader, note: (m: string) => void): Promise<void> {
  const createdHere = new Set<string>();
  for await (const e of tarEntries(r)) {
    const parts = cleanPath(e.name);
    if (parts.length === 0) continue;
    const base = parts[parts.length - 1]!;
    if (base === OPAQUE || base.startsWith('.wh.')) {
      const dirParts = parts.slice(0, -1);
      const dir = join(root, ...dirParts);
      if (base === OPAQUE) {
        for (const n of await readdir(dir).catch(() => [] as string[])) {
          if (!createdHere.has([...dirParts, n].join('/'))) await rm(join(dir, n), { recursive: true, force: true });
        }
      } else await rm(join(dir, base.slice(4)), { recursive: true, force: true });
      continue;
    }
    const dest = await ensureParents(root, parts);
    createdHere.add(parts.join('/'));
    const existing = await lstat(dest).catch(() => undefined);
    if (existing && !(existing.isDirectory() && e.type === 'dir')) await rm(dest, { recursive: true, force: true });
    switch (e.type) {
      case 'dir':
        if (!existing?.isDirectory()) await mkdir(dest, { mode: 0o755 });
        await chmod(dest, (e.mode & 0o777) | 0o700);
        break;
      case 'file': {
        const fh = await open(dest, 'wx', 0o600);
        try {
          await r.pipe(e.size, async (c) => {
            await fh.write(c);
          });
        } finally {
          await fh.close();
        }
        await chmod(dest, e.mode & 0o777);
        break;
      }
      case 'symlink':
        await symlink(e.linkname, dest);
        break;
      case 'hardlink': {
        const target = join(root, ...cleanPath(e.linkname));
        const st = await lstat(target).catch(() => undefined);
        if (!st?.isFile())
          throw new BuilderError('ROOTFS_MALFORMED', 'hard link to a missing or non-regular file', {
            path: e.name,
            target: e.linkname,
          });
        await link(target, dest);
        break;
      }
      default:
        note(`skipped ${e.type} device ${e.name} (device nodes are created by the enclave's devtmpfs)`);
    }
  }
}
