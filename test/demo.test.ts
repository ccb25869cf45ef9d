/**
 * End to end: `keycast demo --json` runs the whole story through the real CLI (build twice,
 * log + witness, sign/publish/verify with stock @sigstore/verify, simulated NSM attestation,
 * the enclave and its host: 503 until logged, gate open and identity sealed through dev-kms, a studio
 * forwarding a film's keys to 300 projectors (verify enclave --out, dev certs, rules sign, seal,
 * forward, kdm inspect, receipt verify; an excluded projector refused), a quiet spell of several
 * freshness windows with no release and one of three witnesses down (the door stays open), the same keys after a
 * restart, a modified image refused, revocation shuts the gate) and every check must pass.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const KEYCAST = fileURLToPath(new URL('../bin/keycast.mjs', import.meta.url));

test('npm run demo: every step of the story passes its check', { timeout: 300_000 }, () => {
  const r = spawnSync(process.execPath, [KEYCAST, 'demo', '--json'], { encoding: 'utf8', timeout: 290_000 });
  assert.equal(r.status, 0, `demo failed:\n${r.stdout}\n${r.stderr}`);
  const out = JSON.parse(r.stdout) as { ok: boolean; checks: Array<{ name: string; ok: boolean; detail: string }> };
  assert.equal(out.ok, true);
  const names = out.checks.map((c) => c.name);
  for (const must of [
    'reproducible',
    'published + sigstore',
    'rebuilt + endorsed',
    'test root not trusted by default',
    'studio verifies',
    'unwitnessed refused',
    'gate serves',
    'identity sealed',
    'enclave keys bound',
    'forwarded 300 KDMs',
    'delivery on the log',
    'studio opens manifest',
    'monitor lists delivery',
    'kdm logged',
    'projector decrypts',
    'delivery in receipt',
    'excluded refused',
    'forwarded from a DKDM',
    'quiet day open',
    'metrics',
    'restart same keys',
    'diff-eif explains',
    'unlogged refused',
    'gate refuses unlogged',
    'modified enclave refuses',
    'revoked refused',
    'gate refuses revoked',
  ]) {
    assert.ok(names.includes(must), `missing check ${must}`);
  }
  assert.deepEqual(
    out.checks.filter((c) => !c.ok),
    [],
  );
});
