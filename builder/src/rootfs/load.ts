/**
 * Rootfs input → normalised tree. A directory is read in place. An image (docker-save
 * tarball or OCI layout) is flattened into a scratch directory `<out>/.rootfs-<pid>` that
 * `cleanup` removes. `digest` is the pinned digest when it is not the tree digest:
 * the tarball's SHA-256 for docker-save, index.json's SHA-256 for OCI (its blobs are
 * content-addressed and checked as they stream).
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { BuilderError } from '../errors.ts';
import type { RootfsType } from '../lock.ts';
import { fileSha256 } from '../inputs.ts';
import { readRootfsDir } from './dir.ts';
import { extractDockerSave, extractOci } from './image.ts';
import type { RootfsEntry } from './tree.ts';

export interface LoadedRootfs {
  tree: RootfsEntry[];
  digest?: string;
  cleanup: () => Promise<void>;
}

export async function loadRootfs(
  path: string,
  type: RootfsType,
  outDir: string,
  note: (m: string) => void,
): Promise<LoadedRootfs> {
  if (type === 'dir') return { tree: await readRootfsDir(path), cleanup: async () => {} };
  const scratch = join(outDir, `.rootfs-${process.pid}`);
  await rm(scratch, { recursive: true, force: true });
  await mkdir(scratch, { recursive: true });
  const cleanup = () => rm(scratch, { recursive: true, force: true });
  try {
    let digest: string;
    if (type === 'docker-save') {
      digest = (await fileSha256(path)).sha256;
      await extractDockerSave(path, scratch, note);
    } else if (type === 'oci') {
      digest = (await fileSha256(join(path, 'index.json'))).sha256;
      await extractOci(path, scratch, note);
    } else throw new BuilderError('ROOTFS_UNSUPPORTED', `unknown rootfs type ${String(type)}`, { type });
    return { tree: await readRootfsDir(scratch), digest, cleanup };
  } catch (e) {
    await cleanup();
    throw e;
  }
}
