/**
 * diff-eif, the PCR-mismatch debugger: names the differing PCRs, sections and files with
 * the kind of change, recognises pure cpio-encoding differences, and runs through the CLI
 * (exit 0 identical / 1 different; describe-eif exit 1 on a CRC mismatch).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { build } from '../src/build.ts';
import { diffEif } from '../src/diff.ts';
import { parseLock } from '../src/lock.ts';

const REPO = resolve(import.meta.dirname, '../..');
const V = resolve(REPO, 'testdata/nitro/eif');

function lockFor(root: string, format: 'linuxkit' | 'canonical') {
  const z = '0'.repeat(64);
  return parseLock(
    JSON.stringify({
      version: 1,
      arch: 'x86_64',
      format,
      inputs: {
        kernel: { path: join(V, 'kernel.fake'), sha256: z },
        init: { path: join(V, 'init.fake'), sha256: z },
        rootfs: { path: root, sha256: z, type: 'dir' },
      },
      cmdline: 'console=ttyS0',
      argv: ['/bin/a'],
      env: [],
      image: { name: 'd', version: '1' },
    }),
  );
}

test('diff-eif names the file and the kind of change, and encoding-only differences', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kc-diff-'));
  try {
    const mk = (name: string, content: string, mode: number) => {
      const r = join(dir, name);
      mkdirSync(join(r, 'bin'), { recursive: true });
      writeFileSync(join(r, 'bin', 'a'), 'same');
      writeFileSync(join(r, 'bin', 'b'), content);
      chmodSync(join(r, 'bin', 'b'), mode);
      return r;
    };
    const a = await build({
      lock: lockFor(mk('ra', 'one', 0o644), 'canonical'),
      lockDir: dir,
      outDir: join(dir, 'a'),
      verify: false,
    });
    const b = await build({
      lock: lockFor(mk('rb', 'two', 0o755), 'canonical'),
      lockDir: dir,
      outDir: join(dir, 'b'),
      verify: false,
    });
    const c = await build({
      lock: lockFor(join(dir, 'ra'), 'linuxkit'),
      lockDir: dir,
      outDir: join(dir, 'c'),
      verify: false,
    });
    const d = diffEif(readFileSync(a.eifPath), readFileSync(b.eifPath));
    assert.equal(d.identical, false);
    assert.equal(d.pcrs.pcr1!.same, true);
    assert.equal(d.pcrs.pcr2!.same, false);
    const fb = d.files.find((f) => f.path === 'rootfs/bin/b')!;
    assert.deepEqual(fb.changes, ['mode', 'content']);
    assert.equal(d.files.length, 1);
    const e = diffEif(readFileSync(a.eifPath), readFileSync(c.eifPath));
    assert.ok(
      e.files.every((f) => f.changes.every((k) => k === 'mtime' || k === 'nlink')),
      JSON.stringify(e.files),
    );
    assert.ok(e.ramdiskEncoding.some((x) => /hex case/.test(x.note)));
    assert.equal(diffEif(readFileSync(a.eifPath), readFileSync(a.eifPath)).identical, true);
    const cli = (args: string[]) =>
      spawnSync(process.execPath, [join(REPO, 'bin', 'keycast.mjs'), ...args], { encoding: 'utf8' });
    const r = cli(['diff-eif', a.eifPath, b.eifPath]);
    assert.equal(r.status, 1);
    assert.match(r.stdout, /rootfs\/bin\/b: mode, content/);
    assert.equal(cli(['diff-eif', a.eifPath, a.eifPath]).status, 0);
    const j = JSON.parse(cli(['diff-eif', a.eifPath, b.eifPath, '--json']).stdout);
    assert.equal(j.pcrs.pcr2.same, false);
    // describe-eif through the CLI: good file 0, CRC mismatch 1, truncated file coded error
    assert.equal(cli(['describe-eif', a.eifPath]).status, 0);
    const bytes = readFileSync(a.eifPath);
    bytes[700] = bytes[700]! ^ 1;
    writeFileSync(join(dir, 'bad.eif'), bytes);
    const bad = cli(['describe-eif', join(dir, 'bad.eif')]);
    assert.equal(bad.status, 1);
    assert.equal(JSON.parse(bad.stdout).CheckCRC, false);
    writeFileSync(join(dir, 'short.eif'), bytes.subarray(0, 1000));
    const short = cli(['describe-eif', join(dir, 'short.eif'), '--json']);
    assert.equal(short.status, 1);
    assert.match(short.stderr + short.stdout, /EIF_MALFORMED/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
