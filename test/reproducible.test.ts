/**
 * Reproducibility: the same pinned inputs built twice by the real CLI (child
 * processes) under different TZ, locale, umask, working directory, uid (setpriv when
 * available, else only input ownership), environment, input mtimes, input ownership and
 * directory creation order give byte-identical EIFs — and the second build runs from the
 * first one's lock, so the tree digest is proven equally stable.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
  existsSync,
  lchownSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';

const REPO = resolve(import.meta.dirname, '..');
const V = resolve(REPO, 'testdata/nitro/eif');
const CLI = join(REPO, 'bin', 'keycast.mjs');

const FILES: Array<[string, string, number]> = [
  ['app/main.js', 'console.log("hi")\n', 0o644],
  ['app/run', '#!/bin/sh\nexec node /app/main.js\n', 0o755],
  ['etc/conf', 'k=v\n', 0o600],
  ['Z-upper', 'Z', 0o644],
  ['a-lower', 'a', 0o664],
  ['app/lib/x.js', 'x', 0o444],
];

function makeRootfs(root: string, reverse: boolean, uid: number, mtime: number): void {
  const list = reverse ? [...FILES].reverse() : FILES;
  for (const [p, data, mode] of list) {
    mkdirSync(join(root, p, '..'), { recursive: true });
    writeFileSync(join(root, p), data);
    chmodSync(join(root, p), reverse ? (mode & 0o111 ? 0o700 : 0o600) : mode); // only the x bit should matter
  }
  execFileSync('ln', ['-s', 'app/run', join(root, 'start')]);
  for (const p of ['app', 'app/lib', 'etc', ...FILES.map((f) => f[0])]) {
    chownSync(join(root, p), uid, uid);
    utimesSync(join(root, p), mtime, mtime);
  }
  lchownSync(join(root, 'start'), uid, uid);
}

const q = (s: string): string => `'${s.replaceAll("'", "'\\''")}'`;

/**
 * Runs the CLI. With a uid, the build runs as that user in a private mount namespace where the
 * repository and the Node binary's folder are bind-mounted under `mounts` (a 0755 directory), so the
 * other user can reach them wherever the clone lives (a clone in /root or under a 0700 mktemp
 * directory is not reachable by another uid through its own path).
 */
function run(
  args: string[],
  o: { cwd: string; env: NodeJS.ProcessEnv; umask: string; uid?: number; mounts?: string },
): void {
  const argv = args.map(q).join(' ');
  let cmd: string[];
  if (o.uid !== undefined && o.mounts !== undefined) {
    const repo = join(o.mounts, 'repo');
    const nodeDir = join(o.mounts, 'node');
    mkdirSync(repo, { recursive: true });
    mkdirSync(nodeDir, { recursive: true });
    const node = join(nodeDir, basename(process.execPath));
    const inner = `umask ${o.umask}; exec ${q(node)} ${q(join(repo, 'bin', 'keycast.mjs'))} ${argv}`;
    const script = [
      `mount --bind ${q(REPO)} ${q(repo)}`,
      `mount --bind ${q(dirname(process.execPath))} ${q(nodeDir)}`,
      `exec setpriv --reuid=${o.uid} --regid=${o.uid} --clear-groups sh -c ${q(inner)}`,
    ].join(' && ');
    cmd = ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', script];
  } else {
    cmd = ['sh', '-c', `umask ${o.umask}; exec ${q(process.execPath)} ${q(CLI)} ${argv}`];
  }
  const r = spawnSync(cmd[0]!, cmd.slice(1), { cwd: o.cwd, env: o.env, encoding: 'utf8' });
  assert.equal(r.status, 0, `build failed: ${r.stderr}`);
}

function haveSetpriv(): boolean {
  return (
    process.getuid?.() === 0 &&
    spawnSync('setpriv', ['--version']).status === 0 &&
    spawnSync('unshare', ['--mount', '--propagation', 'private', 'true']).status === 0
  );
}

test('two builds under different TZ, locale, umask, cwd, uid, env, mtimes, owners and order are byte-identical', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kc-repro-'));
  chmodSync(dir, 0o755);
  try {
    const rootA = join(dir, 'rootA');
    const rootB = join(dir, 'rootB');
    const otherUid = haveSetpriv() ? 1000 : undefined;
    makeRootfs(rootA, false, 0, 1_700_000_000);
    // B is owned by the (other) builder uid, so its 0600/0700 files stay readable to it.
    makeRootfs(rootB, true, otherUid ?? 4242, 86_400);
    // The boot inputs are copied beside the rootfs: the lock names them by path, and the second builder
    // (another uid) must reach them however the clone's own folders are protected.
    const boot = join(dir, 'boot');
    mkdirSync(boot);
    for (const f of ['kernel.fake', 'init.fake', 'nsm.ko.fake', 'cmdline-x86_64.txt']) {
      copyFileSync(join(V, f), join(boot, f));
    }
    const inputs = [
      '--kernel',
      join(boot, 'kernel.fake'),
      '--init',
      join(boot, 'init.fake'),
      '--nsm',
      join(boot, 'nsm.ko.fake'),
      '--cmdline-file',
      join(boot, 'cmdline-x86_64.txt'),
    ];
    const base = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir };
    run(
      [
        'build',
        '--out',
        join(dir, 'outA'),
        ...inputs,
        '--rootfs',
        rootA,
        '--arg',
        '/app/run',
        '--env',
        'MODE=prod',
        '--format',
        'canonical',
      ],
      { cwd: '/', umask: '022', env: { ...base, TZ: 'UTC', LANG: 'C', LC_ALL: 'C' } },
    );
    const outB = join(dir, 'outB');
    mkdirSync(outB);
    if (otherUid !== undefined) chownSync(outB, otherUid, otherUid);
    const cwdB = join(dir, 'elsewhere');
    mkdirSync(cwdB);
    run(['build', '--lock', join(dir, 'outA', 'builder.lock.json'), '--rootfs', rootB, '--out', outB], {
      cwd: cwdB,
      umask: '077',
      uid: otherUid,
      mounts: otherUid !== undefined ? join(dir, 'mounts') : undefined,
      env: {
        ...base,
        TZ: 'Pacific/Chatham',
        LANG: 'tr_TR.UTF-8',
        LC_ALL: 'tr_TR.UTF-8',
        SOURCE_DATE_EPOCH: '12345',
        KEYCAST_NOISE: 'x'.repeat(1000),
      },
    });
    // the second build really ran as the other uid (through the bind mounts, wherever the clone is)
    if (otherUid !== undefined) assert.equal(statSync(join(outB, 'enclave.eif')).uid, otherUid);
    const a = readFileSync(join(dir, 'outA', 'enclave.eif'));
    const b = readFileSync(join(outB, 'enclave.eif'));
    assert.ok(a.length > 548);
    assert.deepEqual(b, a);
    const ma = JSON.parse(readFileSync(join(dir, 'outA', 'measurements.json'), 'utf8'));
    const mb = JSON.parse(readFileSync(join(outB, 'measurements.json'), 'utf8'));
    assert.deepEqual(mb.measurements, ma.measurements);
    assert.equal(mb.sha256, ma.sha256);
    // a genuine change is caught: a different byte in the rootfs is refused by the lock
    writeFileSync(join(rootB, 'a-lower'), 'b');
    const r = spawnSync(
      process.execPath,
      [
        CLI,
        'build',
        '--lock',
        join(dir, 'outA', 'builder.lock.json'),
        '--rootfs',
        rootB,
        '--out',
        join(dir, 'outC'),
        '--json',
      ],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 4, r.stderr);
    assert.match(r.stderr + r.stdout, /INPUT_DIGEST_MISMATCH/);
    assert.equal(existsSync(join(dir, 'outC', 'enclave.eif')), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
