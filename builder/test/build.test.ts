/**
 * The builder end to end on the synthetic inputs: the streaming writer reproduces the AWS
 * reference EIF byte for byte; the bootstrap ramdisk gives the reference PCR1; locks pin
 * every input and refuse tampering with file, expected and actual digests (and no image is
 * left behind); normalisation makes owner/mtime/mode noise irrelevant; signing adds PCR8.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  chmodSync,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { describeEif, parseEif, readCpio, S_IFMT, S_IFLNK, decodeMetadata, encodeMetadata } from '#verifier/build';
import { writeEifStreaming } from '../src/eif-stream.ts';
import { build, type BuildOptions } from '../src/build.ts';
import { parseLock, formatLock, type BuildLock } from '../src/lock.ts';
import { isBuilderError } from '../src/errors.ts';

const V = resolve(import.meta.dirname, '../../testdata/nitro/eif');
const sidecar = (n: string) => JSON.parse(readFileSync(join(V, n), 'utf8'));
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'kc-build-'));
}

function rootfs(dir: string): string {
  const r = join(dir, 'root');
  mkdirSync(join(r, 'bin'), { recursive: true });
  writeFileSync(join(r, 'bin', 'app'), '#!/bin/sh\necho app\n', { mode: 0o755 });
  writeFileSync(join(r, 'data.txt'), 'hello');
  linkSync(join(r, 'data.txt'), join(r, 'bin', 'data-link'));
  symlinkSync('/bin/app', join(r, 'entry'));
  return r;
}

function lockFor(dir: string, root: string, format: 'linuxkit' | 'canonical' = 'linuxkit'): BuildLock {
  const z = '0'.repeat(64);
  return parseLock(
    JSON.stringify({
      version: 1,
      arch: 'x86_64',
      format,
      inputs: {
        kernel: { path: join(V, 'kernel.fake'), sha256: z },
        init: { path: join(V, 'init.fake'), sha256: z },
        nsm: { path: join(V, 'nsm.ko.fake'), sha256: z },
        rootfs: { path: root, sha256: z, type: 'dir' },
      },
      cmdline: readFileSync(join(V, 'cmdline-x86_64.txt'), 'utf8').trim(),
      argv: ['/bin/app'],
      env: ['A=1'],
      image: { name: 'test', version: '1' },
    }),
  );
}

const opts = (lock: BuildLock, outDir: string, verify: boolean): BuildOptions => ({
  lock,
  lockDir: outDir,
  outDir,
  verify,
});

test('streaming writer reproduces synthetic-x86_64.eif byte for byte', async () => {
  const s = sidecar('synthetic-x86_64.json');
  const dir = tmp();
  try {
    const r1 = readFileSync(join(V, 'ramdisk1.gnu.cpio'));
    const md = encodeMetadata(decodeMetadata(new Uint8Array(Buffer.from(s.metadata_json_exact))));
    const out = join(dir, 'x.eif');
    const res = await writeEifStreaming(out, {
      arch: 'x86_64',
      kernelPath: join(V, 'kernel.fake'),
      kernelSize: 3000,
      cmdline: new Uint8Array(readFileSync(join(V, 'cmdline-x86_64.txt'))),
      metadata: md,
      ramdisk0: new Uint8Array(readFileSync(join(V, 'ramdisk0.linuxkit.cpio'))),
      writeRamdisk1: async (sink) => {
        for (let i = 0; i < r1.length; i += 100) await sink.write(r1.subarray(i, i + 100));
      },
    });
    assert.equal(sha256(readFileSync(out)), s.sha256);
    assert.equal(res.pcrs.pcr0, s.expected_measurements.PCR0);
    assert.equal(res.pcrs.pcr2, s.expected_measurements.PCR2);
    assert.equal(existsSync(`${out}.partial`), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('build: bootstrap PCR1 equals the reference; customer ramdisk has rootfs, cmd, env, init dirs, links', async () => {
  const dir = tmp();
  try {
    const r = await build(opts(lockFor(dir, rootfs(dir)), join(dir, 'out'), false));
    assert.equal(r.pcr1, sidecar('synthetic-x86_64.json').expected_measurements.PCR1);
    const eif = parseEif(readFileSync(r.eifPath));
    const files = new Map(readCpio(eif.ramdisks[1]!).entries.map((e) => [e.name, e]));
    assert.equal(Buffer.from(files.get('cmd')!.data).toString(), '/bin/app\n');
    assert.equal(Buffer.from(files.get('env')!.data).toString(), 'A=1\n');
    for (const d of ['dev', 'run', 'sys', 'var', 'proc', 'tmp']) assert.ok(files.has(`rootfs/${d}`), d);
    assert.equal(files.get('rootfs/entry')!.mode & S_IFMT, S_IFLNK);
    assert.equal(Buffer.from(files.get('rootfs/entry')!.data).toString(), '/bin/app');
    // linuxkit spells the second hard link as a relative symlink to the first (bytewise order).
    assert.equal(Buffer.from(files.get('rootfs/data.txt')!.data).toString(), 'bin/data-link');
    assert.equal(files.get('rootfs/bin/app')!.mode & 0o777, 0o755);
    const measurements = JSON.parse(readFileSync(join(dir, 'out', 'measurements.json'), 'utf8'));
    assert.equal(measurements.sha256, sha256(readFileSync(r.eifPath)));
    assert.equal(measurements.measurements.pcr0, describeEif(readFileSync(r.eifPath)).Measurements.PCR0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the written lock rebuilds the same bytes; owner, mtime and mode noise do not matter', async () => {
  const dir = tmp();
  try {
    const root = rootfs(dir);
    const a = await build(opts(lockFor(dir, root, 'canonical'), join(dir, 'a'), false));
    utimesSync(join(root, 'data.txt'), 12345, 67890);
    chmodSync(join(root, 'bin', 'app'), 0o700); // still executable → still 0755
    chmodSync(join(root, 'data.txt'), 0o600);
    execFileSync('chown', ['-h', '1234:4321', join(root, 'entry'), join(root, 'bin')]);
    const lock = parseLock(readFileSync(join(dir, 'a', 'builder.lock.json'), 'utf8'));
    const b = await build({ lock, lockDir: join(dir, 'a'), outDir: join(dir, 'b'), verify: true });
    assert.equal(b.sha256, a.sha256);
    assert.deepEqual(readFileSync(a.eifPath), readFileSync(b.eifPath));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a tampered input is refused with file, expected and actual digest; a tampered rootfs leaves no image', async () => {
  const dir = tmp();
  try {
    const root = rootfs(dir);
    await build(opts(lockFor(dir, root), join(dir, 'a'), false));
    const lock = parseLock(readFileSync(join(dir, 'a', 'builder.lock.json'), 'utf8'));
    const fake = join(dir, 'kernel.bad');
    writeFileSync(fake, 'not the kernel');
    const bad = { ...lock, inputs: { ...lock.inputs, kernel: { ...lock.inputs.kernel, path: fake } } };
    await assert.rejects(build({ lock: bad, lockDir: dir, outDir: join(dir, 'b'), verify: true }), (e) => {
      assert.ok(isBuilderError(e, 'INPUT_DIGEST_MISMATCH'));
      assert.equal(e.evidence.input, 'kernel');
      assert.equal(e.evidence.expected, lock.inputs.kernel.sha256);
      assert.equal(e.evidence.actual, sha256(readFileSync(fake)));
      return true;
    });
    writeFileSync(join(root, 'data.txt'), 'HELLO');
    await assert.rejects(
      build({ lock, lockDir: join(dir, 'a'), outDir: join(dir, 'c'), verify: true }),
      (e) => isBuilderError(e, 'INPUT_DIGEST_MISMATCH') && e.evidence.input === 'rootfs',
    );
    assert.equal(existsSync(join(dir, 'c', 'enclave.eif')), false);
    await assert.rejects(
      build({
        lock: { ...lock, inputs: { ...lock.inputs, init: { ...lock.inputs.init, path: join(dir, 'nope') } } },
        lockDir: dir,
        outDir: join(dir, 'd'),
        verify: true,
      }),
      (e) => isBuilderError(e, 'INPUT_MISSING'),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('malformed locks are LOCK_MALFORMED naming the field', () => {
  const good = JSON.parse(formatLock(lockFor('/x', '/x/root')));
  const bad: Array<[string, (l: any) => void]> = [
    [
      'version',
      (l) => {
        l.version = 2;
      },
    ],
    [
      'arch',
      (l) => {
        l.arch = 'mips';
      },
    ],
    [
      'format',
      (l) => {
        l.format = 'zip';
      },
    ],
    [
      'inputs.kernel.sha256',
      (l) => {
        l.inputs.kernel.sha256 = 'ABC';
      },
    ],
    [
      'argv[0]',
      (l) => {
        l.argv = ['a\nb'];
      },
    ],
    [
      'env[0]',
      (l) => {
        l.env = ['NOEQUALS'];
      },
    ],
    [
      'lock.extra',
      (l) => {
        l.extra = 1;
      },
    ],
    [
      'inputs.rootfs.type',
      (l) => {
        l.inputs.rootfs.type = 'zip';
      },
    ],
  ];
  for (const [field, mutate] of bad) {
    const l = structuredClone(good);
    mutate(l);
    assert.throws(
      () => parseLock(JSON.stringify(l)),
      (e) => isBuilderError(e, 'LOCK_MALFORMED') && String(e.evidence.field).startsWith(field),
      field,
    );
  }
  assert.throws(
    () => parseLock('{'),
    (e) => isBuilderError(e, 'LOCK_MALFORMED'),
  );
  assert.deepEqual(parseLock(formatLock(good)), good);
});

test('signed build: PCR8 present, signature checks, PCR0 unchanged', async (t) => {
  const dir = tmp();
  try {
    try {
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:secp384r1',
          '-nodes',
          '-keyout',
          join(dir, 'k.pem'),
          '-out',
          join(dir, 'c.pem'),
          '-days',
          '30',
          '-subj',
          '/CN=kc',
        ],
        { stdio: 'ignore' },
      );
    } catch {
      return t.skip('openssl not available');
    }
    const root = rootfs(dir);
    const plain = await build(opts(lockFor(dir, root), join(dir, 'p'), false));
    const signed = await build({
      ...opts(lockFor(dir, root), join(dir, 's'), false),
      signing: { certificatePath: join(dir, 'c.pem'), keyPath: join(dir, 'k.pem') },
    });
    assert.equal(signed.pcr0, plain.pcr0);
    assert.match(signed.pcr8 ?? '', /^[0-9a-f]{96}$/);
    const d = describeEif(readFileSync(signed.eifPath));
    assert.equal(d.SignatureCheck, true);
    assert.equal(d.Measurements.PCR8, signed.pcr8);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
