/**
 * End to end on loopback through the real CLI: a SQLite log with a witness, `keycast enclave run
 * --nsm sim` (simulated NSM, pinned config), and `keycast host run` feeding it proofs from the
 * log. An unlogged image answers 503 with the refusal's code; publishing opens the gate within a
 * refresh; revoking shuts it within one re-check; bad input at both APIs is a coded 4xx while both
 * keep serving; nothing secret appears in any output.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { cosignatureVerifierKey, formatEnclaveConfig, noteVerifier, type EnclaveConfig } from '#verifier';
import { createTestPki, exportTestPki } from '../enclave/index.ts';
import { ROOT, newPublisher, releaseBundle, releaseFields, revocationBundle, serveKeycast, serveLog } from './log-fixtures.ts';
import { createHash } from 'node:crypto';

const KEYCAST = resolve(ROOT, 'bin/keycast.mjs');
const ORIGIN = 'e2e.keycast.test/log';

function keycast(...args: string[]): string {
  const r = spawnSync(process.execPath, [KEYCAST, ...args], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

const sha384 = (s: string) => createHash('sha384').update(s).digest('hex');

async function until<T>(what: string, f: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

export interface E2eWorld {
  tmp: string;
  children: ChildProcess[];
  outputs: () => string;
}

test('enclave + host on loopback with the real log: 503 until logged, open when published, shut on revocation', async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'keycast-enclave-e2e-'));
  const children: Array<{ child: ChildProcess; stderr: () => string }> = [];
  const answers: string[] = [];
  t.after(() => {
    for (const c of children) if (c.child.exitCode === null) c.child.kill('SIGKILL');
    rmSync(tmp, { recursive: true, force: true });
  });

  const logVkey = keycast('log', 'init', '--data', join(tmp, 'log'), '--origin', ORIGIN);
  const witness = await serveKeycast(['witness', 'serve', '--data', join(tmp, 'w'), '--listen', '127.0.0.1:0', '--log', logVkey, '--name', 'w1.e2e.keycast.test']);
  children.push(witness);
  const witnessVkey = keycast('witness', 'vkey', '--data', join(tmp, 'w'));
  const pub = newPublisher();
  writeFileSync(join(tmp, 'signer.pem'), pub.publicPem);
  const log = await serveLog(join(tmp, 'log'), ['--trust-signer', join(tmp, 'signer.pem'), '--witness', `${witnessVkey}=${witness.url}`, '--admission-workers', '0']);
  children.push(log);
  noteVerifier(logVkey);

  // the image: PCRs of the release fixture 'e2e', config pinned in it
  const seed = 'e2e';
  const f = releaseFields(seed);
  writeFileSync(join(tmp, 'pcrs.json'), JSON.stringify({ pcr0: f.pcr0, pcr1: sha384(`pcr1-${seed}`), pcr2: sha384(`pcr2-${seed}`) }));
  const pki = createTestPki();
  writeFileSync(join(tmp, 'pki.json'), JSON.stringify(exportTestPki(pki, { keys: 'issuing' })), { mode: 0o600 });
  const config: EnclaveConfig = {
    version: 1, log: { origin: ORIGIN, vkey: logVkey }, witnesses: { vkeys: [witnessVkey], threshold: 1 }, maxCheckpointAgeSeconds: 600,
    publishers: [pub.publicPem], kms: { keyArn: 'arn:aws:kms:us-east-1:111122223333:key/00000000-0000-4000-8000-000000000000', region: 'us-east-1' },
  };
  writeFileSync(join(tmp, 'enclave.json'), formatEnclaveConfig(config));
  assert.ok(cosignatureVerifierKey);

  const enclave = await serveKeycast(['enclave', 'run', '--nsm', 'sim', '--pki', join(tmp, 'pki.json'), '--pcrs', join(tmp, 'pcrs.json'), '--config', join(tmp, 'enclave.json'), '--listen', '127.0.0.1:0', '--recheck', '1']);
  children.push(enclave);
  const host = await serveKeycast(['host', 'run', '--enclave', enclave.url, '--log', log.url, '--listen', '127.0.0.1:0', '--store', join(tmp, 'store'), '--refresh', '1']);
  children.push(host);
  const status = async () => {
    const r = await fetch(`${host.url}/v1/status`);
    const text = await r.text();
    answers.push(text);
    return { code: r.status, body: JSON.parse(text) as { enclave: { gate: { open: boolean; refusal: { code: string } | null; release: { index: number } | null } } } };
  };

  // unlogged image: 503 with the code
  const s0 = await status();
  assert.equal(s0.code, 503);
  assert.equal(s0.body.enclave.gate.refusal?.code, 'PROOF_MISSING');
  const att0 = await fetch(`${host.url}/v1/attestation?nonce=${'11'.repeat(16)}`);
  assert.equal(att0.status, 503);
  assert.equal(((await att0.json()) as { code: string }).code, 'GATE_CLOSED');

  // publish → the gate opens within a refresh
  const r = await fetch(`${log.url}/add-entry`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: releaseBundle(pub, seed) });
  assert.equal(r.status, 200, await r.text());
  const index = ((await (await fetch(`${log.url}/lookup/pcr0/${f.pcr0}`)).json()) as { index: number }).index;
  const open = await until('the gate to open', async () => {
    const s = await status();
    return s.code === 200 ? s : undefined;
  });
  assert.equal(open.body.enclave.gate.release?.index, index);

  // bad input at the host API: coded 4xx, still serving
  for (const [path, code, want] of [
    ['/v1/attestation', 400, 'REQUEST_MALFORMED'], ['/v1/attestation?nonce=zz', 400, 'REQUEST_MALFORMED'],
    [`/v1/attestation?nonce=${'ab'.repeat(600)}`, 400, 'REQUEST_MALFORMED'], ['/v1/nope', 404, 'NOT_FOUND'],
  ] as const) {
    const a = await fetch(`${host.url}${path}`);
    assert.equal(a.status, code, path);
    assert.equal(((await a.json()) as { code: string }).code, want);
  }
  const bad = await fetch(`${enclave.url}/v1/gate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"version":1}' });
  assert.equal(bad.status, 400);
  const wrongType = await fetch(`${enclave.url}/v1/gate`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' });
  assert.equal(wrongType.status, 415);
  assert.equal((await status()).code, 200, 'bad input left the gate open');

  // revoke → shut within one re-check
  const rv = await fetch(`${log.url}/add-entry`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: revocationBundle(pub, index, f.pcr0) });
  assert.equal(rv.status, 200, await rv.text());
  const shut = await until('the gate to shut', async () => {
    const s = await status();
    return s.code === 503 ? s : undefined;
  }, 5_000);
  assert.equal(shut.body.enclave.gate.refusal?.code, 'RELEASE_REVOKED');
});
