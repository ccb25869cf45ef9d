/**
 * newc cpio: both dialects reproduce their samples byte for byte from inputs
 * (ramdisk0.linuxkit.cpio.json, ramdisk1.gnu.cpio.json), the reader round-trips, hard links
 * are spelled per dialect, and malformed archives are CPIO_MALFORMED, never a crash.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { isVerifierError } from '../index.ts';
import { readCpio, S_IFMT, S_IFLNK, type CpioMember } from '../build.ts';
import { bootstrapFromInputs, customerFromInputs, sidecar, vec, writeCpio } from './eif-fixtures.ts';

const sha = (b: Uint8Array, alg = 'sha256') => createHash(alg).update(b).digest('hex');

test('linuxkit dialect reproduces ramdisk0.linuxkit.cpio (gocpio, as nitro-cli writes it)', () => {
  const s = sidecar('ramdisk0.linuxkit.cpio.json');
  const out = bootstrapFromInputs();
  assert.equal(sha(out), s.sha256);
  assert.equal(sha(out, 'sha384'), s.sha384);
  assert.deepEqual(Buffer.from(out), Buffer.from(vec('ramdisk0.linuxkit.cpio')));
});

test('canonical dialect reproduces ramdisk1.gnu.cpio (GNU cpio --reproducible)', () => {
  const s = sidecar('ramdisk1.gnu.cpio.json');
  const out = customerFromInputs();
  assert.equal(sha(out), s.sha256);
  assert.deepEqual(Buffer.from(out), Buffer.from(vec('ramdisk1.gnu.cpio')));
});

test('the reader returns every sidecar field', () => {
  for (const f of ['ramdisk0.linuxkit.cpio', 'ramdisk1.gnu.cpio']) {
    const s = sidecar(`${f}.json`);
    const r = readCpio(vec(f));
    const all = [...r.entries, r.trailer];
    assert.equal(all.length, s.entries.length);
    all.forEach((e, i) => {
      const w = s.entries[i];
      assert.equal(e.offset, w.off);
      assert.equal(e.name, w.name);
      assert.equal(e.ino, w.ino);
      assert.equal(e.mode.toString(8), w.mode);
      assert.equal(e.nlink, w.nlink);
      assert.equal(e.mtime, w.mtime);
      assert.deepEqual([e.devMajor, e.devMinor], w.dev);
      assert.equal(e.upperHex, w.hexcase === 'upper');
    });
  }
});

test('hard links: canonical shares the inode and puts data on the last link; linuxkit makes relative symlinks', () => {
  const data = new Uint8Array(Buffer.from('shared bytes'));
  const members: CpioMember[] = [
    { name: 'a', type: 'dir', perm: 0o755, size: 0 },
    { name: 'a/x', type: 'file', perm: 0o644, size: data.length, linkGroup: 'g' },
    { name: 'b', type: 'dir', perm: 0o755, size: 0 },
    { name: 'b/y', type: 'file', perm: 0o644, size: data.length, linkGroup: 'g' },
    { name: 'l', type: 'symlink', perm: 0o777, size: 0, target: 'a/x' },
  ];
  const content = new Map([
    ['a/x', data],
    ['b/y', data],
  ]);
  const c = readCpio(writeCpio(members, content, 'canonical')).entries;
  const [x, y] = [c.find((e) => e.name === 'a/x')!, c.find((e) => e.name === 'b/y')!];
  assert.equal(x.ino, y.ino);
  assert.equal(x.nlink, 2);
  assert.equal(x.size, 0);
  assert.deepEqual(Buffer.from(y.data), Buffer.from(data));
  assert.equal(c.find((e) => e.name === 'l')!.mode & S_IFMT, S_IFLNK);
  const l = readCpio(writeCpio(members, content, 'linuxkit')).entries;
  const ly = l.find((e) => e.name === 'b/y')!;
  assert.equal(ly.mode & S_IFMT, S_IFLNK);
  assert.equal(Buffer.from(ly.data).toString(), '../a/x');
  assert.deepEqual(Buffer.from(l.find((e) => e.name === 'a/x')!.data), Buffer.from(data));
});

test('writer → reader round trip over random trees', () => {
  const name = fc.stringMatching(/^[a-z0-9._-]{1,12}$/).filter((s) => s !== '.' && s !== '..' && s !== 'TRAILER!!!');
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.tuple(name, fc.uint8Array({ maxLength: 300 }), fc.boolean()), {
        selector: (t) => t[0],
        maxLength: 20,
      }),
      fc.constantFrom('linuxkit', 'canonical' as const),
      (files, d) => {
        const members: CpioMember[] = files.map(([n, b, x]) => ({
          name: n,
          type: 'file',
          perm: x ? 0o755 : 0o644,
          size: b.length,
        }));
        const content = new Map(files.map(([n, b]) => [n, b]));
        const r = readCpio(writeCpio(members, content, d as 'linuxkit' | 'canonical'));
        assert.equal(r.entries.length, files.length);
        for (const e of r.entries) {
          assert.deepEqual(Buffer.from(e.data), Buffer.from(content.get(e.name)!));
          assert.equal(e.uid, 0);
        }
        assert.equal(r.length % 512, 0);
      },
    ),
    { numRuns: 100 },
  );
});

test('truncated, corrupted or random archives are CPIO_MALFORMED, never a crash', () => {
  const good = vec('ramdisk1.gnu.cpio');
  for (const n of [0, 5, 109, 110, 130, 600, 1528, 1600])
    assert.throws(
      () => readCpio(good.subarray(0, n)),
      (e) => isVerifierError(e, 'CPIO_MALFORMED'),
      `cut at ${n}`,
    );
  fc.assert(
    fc.property(fc.integer({ min: 0, max: good.length - 1 }), fc.integer({ min: 1, max: 255 }), (at, x) => {
      const b = good.slice();
      b[at] = b[at]! ^ x;
      try {
        readCpio(b);
      } catch (e) {
        assert.ok(isVerifierError(e, 'CPIO_MALFORMED'), String(e));
      }
    }),
    { numRuns: 500 },
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), (b) => {
      try {
        readCpio(b);
      } catch (e) {
        assert.ok(isVerifierError(e, 'CPIO_MALFORMED'), String(e));
      }
    }),
    { numRuns: 300 },
  );
});
