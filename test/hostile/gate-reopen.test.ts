/**
 * Attack (issue 16, "a shut door reopens"): the host keeps the proof bundle from before a
 * revocation. When the log revokes the release, the host hands the enclave the newer bundle (the
 * door shuts with RELEASE_REVOKED), then resubmits the pre-revocation bundle, hoping the gate
 * still holds the older tree and opens again for the rest of the cosignatures' freshness.
 *
 * Real parts on loopback: a SQLite log with a witness, dev-kms, `keycast enclave run --nsm sim`
 * (its own process). The test is the hostile host: it talks to the enclave's API directly with
 * bundles it fetched from the log. Expected: the held tree advanced to the refused checkpoint,
 * the old bundle is 409 BUNDLE_REPLAYED, the gate is latched shut with RELEASE_REVOKED, status
 * names no release, and /v1/forward and /v1/attestation stay 503 GATE_CLOSED — also after
 * several re-checks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LogClient, fetchProofBundle, type ProofBundle } from '#verifier';
import { formatProofBundle, fromHex } from '#verifier/build';
import { revocationBundle } from '../log-fixtures.ts';
import { start, until, type Proc } from '../enclave-e2e-helpers.ts';
import { startStack } from '../enclave-stack.ts';

interface Answer {
  status: number;
  body: {
    code?: string;
    evidence?: { refusal?: string };
    gate?: {
      open: boolean;
      latched: boolean;
      heldSize: number | null;
      release: unknown;
      refusal: { code: string } | null;
    };
  };
}

test('a hostile host resubmits the pre-revocation bundle after a refused newer one: the door stays shut', {
  timeout: 180_000,
}, async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'keycast-hostile-reopen-'));
  const procs: Proc[] = [];
  t.after(() => {
    for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    rmSync(tmp, { recursive: true, force: true });
  });
  const run = async (args: string[], env?: Record<string, string>) => {
    const p = await start(args, env);
    procs.push(p);
    return p;
  };
  const { log, kms, logVkey, pub, f, enclaveOnly, publish } = await startStack(tmp, run, [], 'hostile-reopen');
  // no honest host: the test is the host
  const enclave = await enclaveOnly(kms.url);
  const call = async (path: string, init?: RequestInit): Promise<Answer> => {
    const r = await fetch(`${enclave.url}${path}`, init);
    return { status: r.status, body: (await r.json()) as Answer['body'] };
  };
  const gate = (b: ProofBundle) =>
    call('/v1/gate', { method: 'POST', headers: { 'content-type': 'application/json' }, body: formatProofBundle(b) });
  const client = new LogClient({ url: log.url, logKey: logVkey, fetch: globalThis.fetch });

  // the honest part: the release is logged, the door opens on its proof
  const index = await publish();
  const before = (await fetchProofBundle(client, fromHex(f.pcr0), null))!;
  const open = await gate(before);
  assert.equal(open.status, 200, JSON.stringify(open.body));
  const heldBefore = open.body.gate!.heldSize!;

  // the log revokes the release; the host must show it (or the door shuts on staleness anyway)
  const rv = await fetch(`${log.url}/add-entry`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: revocationBundle(pub, index, f.pcr0),
  });
  assert.equal(rv.status, 200, await rv.text());
  const after = await until('a witnessed bundle showing the revocation', async () => {
    const b = await fetchProofBundle(client, fromHex(f.pcr0), heldBefore);
    return b?.status.includes('\nrevoked ') ? b : undefined;
  });
  const refused = await gate(after);
  assert.equal(refused.status, 503);
  assert.equal(refused.body.evidence?.refusal, 'RELEASE_REVOKED');

  // the attack: resubmit the bundle from before the revocation, several times, across re-checks
  for (let i = 0; i < 3; i++) {
    const again = await gate(before);
    assert.equal(again.status, 409, `attempt ${i}: ${JSON.stringify(again.body)}`);
    assert.equal(again.body.code, 'BUNDLE_REPLAYED');
    await new Promise((r) => setTimeout(r, 1100));
  }
  // and a re-fetched bundle at the revoked tree: still revoked, and the latch holds whatever it says
  const current = (await fetchProofBundle(client, fromHex(f.pcr0), refused.body.gate?.heldSize ?? null))!;
  assert.equal((await gate(current)).status, 503);

  const s = await call('/v1/status');
  assert.equal(s.status, 503);
  assert.equal(s.body.gate!.open, false);
  assert.equal(s.body.gate!.latched, true);
  assert.equal(s.body.gate!.release, null, 'a latched gate shows no release as serving');
  assert.equal(s.body.gate!.refusal?.code, 'RELEASE_REVOKED');
  assert.ok(s.body.gate!.heldSize! > heldBefore, 'the held tree advanced to the refused checkpoint');
  const fw = await call('/v1/forward', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  assert.equal(fw.status, 503);
  assert.equal(fw.body.code, 'GATE_CLOSED');
  assert.equal(fw.body.evidence?.refusal, 'RELEASE_REVOKED');
  const att = await call(`/v1/attestation?nonce=${'ab'.repeat(16)}`);
  assert.equal(att.status, 503);
  assert.equal(att.body.code, 'GATE_CLOSED');
});
