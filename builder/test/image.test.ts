/**
 * Container-image rootfs inputs: docker-save tarballs and OCI layouts flatten with OCI
 * whiteouts (file and opaque), hard links and symlinks, and give the same customer ramdisk
 * as the equivalent directory. Hostile layers (.. paths, writing through a symlinked parent,
 * tampered blobs, corrupt tar headers) are refused with codes and leave no scratch data.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  linkSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from '../src/build.ts';
import { parseLock, type RootfsType } from '../src/lock.ts';
import { isBuilderError } from '../src/errors.ts';
import { dockerSave, ociLayout, tarOf } from './tar-fixture.ts';

const V = resolve(import.meta.dirname, '../../testdata/nitro/eif');

const LOWER = tarOf([
  { name: 'etc/', type: '5' },
  { name: 'etc/keep', data: 'keep' },
  { name: 'etc/gone', data: 'gone' },
  { name: 'opt/', type: '5' },
  { name: 'opt/old', data: 'old' },
  { name: 'usr/bin/', type: '5' },
  { name: 'usr/bin/tool', data: '#!/bin/sh\n', mode: 0o755 },
]);
const UPPER = tarOf([
  { name: 'etc/.wh.gone' },
  { name: 'opt/.wh..wh..opq' },
  { name: 'opt/new', data: 'new' },
  { name: 'usr/bin/alias', type: '1', link: 'usr/bin/tool' },
  { name: 'link', type: '2', link: 'usr/bin/tool' },
]);

function lock(path: string, type: RootfsType) {
  const z = '0'.repeat(64);
  return parseLock(
    JSON.stringify({
      version: 1,
      arch: 'x86_64',
      format: 'canonical',
      inputs: {
        kernel: { path: join(V, 'kernel.fake'), sha256: z },
        init: { path: join(V, 'init.fake'), sha256: z },
        rootfs: { path, sha256: z, type },
      },
      cmdline: 'console=ttyS0',
      argv: ['/usr/bin/tool'],
      env: [],
      image: { name: 'img', version: '1' },
    }),
  );
}

function flattenedDir(dir: string): string {
  const r = join(dir, 'flat');
  mkdirSync(join(r, 'etc'), { recursive: true });
  mkdirSync(join(r, 'opt'));
  mkdirSync(join(r, 'usr', 'bin'), { recursive: true });
  writeFileSync(join(r, 'etc', 'keep'), 'keep');
  writeFileSync(join(r, 'opt', 'new'), 'new');
  writeFileSync(join(r, 'usr', 'bin', 'tool'), '#!/bin/sh\n', { mode: 0o755 });
  // the hard link pair, as in the image
  linkSync(join(r, 'usr', 'bin', 'tool'), join(r, 'usr', 'bin', 'alias'));
  symlinkSync('usr/bin/tool', join(r, 'link'));
  return r;
}

test('docker-save and OCI layouts flatten like the equivalent directory (whiteouts, opaque dirs, links)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kc-img-'));
  try {
    writeFileSync(join(dir, 'image.tar'), dockerSave([LOWER, UPPER]));
    ociLayout(join(dir, 'oci'), [LOWER, UPPER]);
    const flat = flattenedDir(dir);
    const fromDir = await build({ lock: lock(flat, 'dir'), lockDir: dir, outDir: join(dir, 'o1'), verify: false });
    const fromTar = await build({
      lock: lock(join(dir, 'image.tar'), 'docker-save'),
      lockDir: dir,
      outDir: join(dir, 'o2'),
      verify: false,
    });
    const fromOci = await build({
      lock: lock(join(dir, 'oci'), 'oci'),
      lockDir: dir,
      outDir: join(dir, 'o3'),
      verify: false,
    });
    assert.equal(fromTar.pcr2, fromDir.pcr2);
    assert.equal(fromOci.pcr2, fromDir.pcr2);
    assert.deepEqual(readFileSync(fromTar.eifPath), readFileSync(fromOci.eifPath));
    for (const o of ['o2', 'o3'])
      assert.deepEqual(
        readdirSync(join(dir, o)).filter((n) => n.startsWith('.rootfs')),
        [],
        'scratch removed',
      );
    // the lock pins the tarball by its SHA-256; a different tarball is refused
    const pinned = parseLock(readFileSync(join(dir, 'o2', 'builder.lock.json'), 'utf8'));
    writeFileSync(join(dir, 'image2.tar'), dockerSave([LOWER]));
    pinned.inputs.rootfs.path = join(dir, 'image2.tar');
    await assert.rejects(build({ lock: pinned, lockDir: dir, outDir: join(dir, 'o4'), verify: true }), (e) =>
      isBuilderError(e, 'INPUT_DIGEST_MISMATCH'),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('hostile layers are refused: .. paths, writes through symlinked parents, tampered blobs, bad checksums', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kc-img-'));
  try {
    const cases: Array<[string, Buffer, string]> = [
      ['dotdot', tarOf([{ name: '../evil', data: 'x' }]), 'PATH_UNSAFE'],
      [
        'symlink parent',
        tarOf([
          { name: 'etc', type: '2', link: '/' },
          { name: 'etc/passwd', data: 'x' },
        ]),
        'PATH_UNSAFE',
      ],
      ['hardlink outside', tarOf([{ name: 'h', type: '1', link: '../../etc/passwd' }]), 'PATH_UNSAFE'],
    ];
    for (const [name, layer, code] of cases) {
      writeFileSync(join(dir, `${name}.tar`), dockerSave([layer]));
      await assert.rejects(
        build({
          lock: lock(join(dir, `${name}.tar`), 'docker-save'),
          lockDir: dir,
          outDir: join(dir, `o-${name}`),
          verify: false,
        }),
        (e) => isBuilderError(e, code as 'PATH_UNSAFE'),
        name,
      );
    }
    const corrupt = dockerSave([LOWER]);
    corrupt[600] = corrupt[600]! ^ 0xff; // inside the layer's first header
    writeFileSync(join(dir, 'corrupt.tar'), corrupt);
    await assert.rejects(
      build({
        lock: lock(join(dir, 'corrupt.tar'), 'docker-save'),
        lockDir: dir,
        outDir: join(dir, 'o-c'),
        verify: false,
      }),
      (e) => isBuilderError(e, 'ROOTFS_MALFORMED'),
    );
    const [d] = ociLayout(join(dir, 'oci'), [LOWER]);
    const blob = join(dir, 'oci', 'blobs', 'sha256', d!);
    const b = readFileSync(blob);
    b[b.length - 5] = b[b.length - 5]! ^ 1;
    writeFileSync(blob, b);
    await assert.rejects(
      build({ lock: lock(join(dir, 'oci'), 'oci'), lockDir: dir, outDir: join(dir, 'o-oci'), verify: false }),
      (e) => isBuilderError(e) && ['INPUT_DIGEST_MISMATCH', 'ROOTFS_MALFORMED'].includes(e.code),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
