/**
 * nix/: what can be checked offline. Every .nix file parses (Debian's nix-bin; skipped when
 * absent), flake.lock pins nixpkgs by a full rev and a narHash, and the fixture the flake's
 * `checks.fixture-pcrs` builds gives the PCRs pinned in nix/fixture/expected.json when
 * built here through the CLI from nix/fixture/builder.lock.json.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const REPO = resolve(import.meta.dirname, '../..');
const NIX = join(REPO, 'nix');

test('every .nix file parses', (t) => {
  if (spawnSync('nix-instantiate', ['--version']).status !== 0)
    return t.skip('nix-instantiate (Debian nix-bin) not installed');
  const files = readdirSync(NIX).filter((f) => f.endsWith('.nix'));
  assert.ok(files.includes('flake.nix') && files.includes('keycast.nix'));
  for (const f of files) {
    const r = spawnSync('nix-instantiate', ['--parse', join(NIX, f)], { encoding: 'utf8' });
    assert.equal(r.status, 0, `${f}: ${r.stderr}`);
  }
  const bad = spawnSync('nix-instantiate', ['--parse', '-E', '{ a = ; }'], { encoding: 'utf8' });
  assert.notEqual(bad.status, 0, 'the parser must reject broken Nix');
});

test('flake.lock pins nixpkgs by full rev and narHash', () => {
  const lock = JSON.parse(readFileSync(join(NIX, 'flake.lock'), 'utf8'));
  assert.equal(lock.version, 7);
  const n = lock.nodes.nixpkgs.locked;
  assert.match(n.rev, /^[0-9a-f]{40}$/);
  assert.match(n.narHash, /^sha256-[A-Za-z0-9+/]{43}=$/);
  assert.equal(lock.nodes.root.inputs.nixpkgs, 'nixpkgs');
});

test('the flake fixture builds to the pinned PCRs and EIF hash', () => {
  const want = JSON.parse(readFileSync(join(NIX, 'fixture', 'expected.json'), 'utf8'));
  const out = mkdtempSync(join(tmpdir(), 'kc-nixfix-'));
  try {
    const r = spawnSync(
      process.execPath,
      [
        join(REPO, 'bin', 'keycast.mjs'),
        'build',
        '--lock',
        join(NIX, 'fixture', 'builder.lock.json'),
        '--out',
        out,
        '--json',
      ],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    const got = JSON.parse(r.stdout);
    assert.deepEqual(
      [got.measurements.PCR0, got.measurements.PCR1, got.measurements.PCR2, got.sha256, got.size],
      [want.pcr0, want.pcr1, want.pcr2, want.eifSha256, want.size],
    );
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
