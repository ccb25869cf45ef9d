/**
 * `keycast kdm logged` (issue 19): a projector's owner proves a KDM it received is on the record —
 * the KDM's digest and its recipient's thumbprint lead to a logged delivery entry's root, the entry
 * is included under the log's signed checkpoint, and its enclave registered an attested identity
 * for a logged release. From the attacker's side: another screen's KDM, another certificate, a
 * proof pointing at another entry, an entry the log wrote for an unregistered key, an attestation
 * outside the trust root, a log key that is not the log's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  buildKdmBytes,
  certificatePem,
  certificateThumbprint,
  deliveryEntryLeaf,
  formatKdmLoggedProof,
  generateNoteKey,
  hashLeaf,
  kdmSigner,
} from '#verifier';
import { createProjectorPki, createSignerChain } from '../enclave/index.ts';
import { run } from './cli-capture.ts';
import {
  CPL,
  auditPublicKey,
  identityAddEntryBody,
  makeDelivery,
  newEnclave,
  startDeliveryLog,
} from './delivery-fixtures.ts';

const kdmT = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', '+00:00');

test('kdm logged: a received KDM is proved on the record; every substitution is refused', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'keycast-kdmlogged-'));
  const log = await startDeliveryLog();
  t.after(async () => {
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const rel = await log.release('a');
  const enclave = newEnclave(log.pki, rel.pcr0, rel.index);
  const id = await log.post(identityAddEntryBody(enclave.attest()));
  assert.equal(id.status, 200);

  const now = Date.now();
  const screens = createProjectorPki({ count: 3, keyPool: 1 });
  const chain = createSignerChain({ name: 'keycast.test' });
  const signer = kdmSigner(chain.chain, chain.privateKey);
  const kdms = screens.projectors.map((p) =>
    buildKdmBytes({
      cplId: CPL,
      title: 'Logged Film',
      keys: [
        { id: 'urn:uuid:aaaaaaaa-2222-4333-8444-555555555555', type: 'MDIK', key: new Uint8Array(randomBytes(16)) },
      ],
      notBefore: kdmT(now),
      notAfter: kdmT(now + 86_400_000),
      issueDate: kdmT(now),
      recipient: p.certificate,
      signer,
    }),
  );
  const d = await makeDelivery(enclave, {
    auditKey: auditPublicKey(generateKeyPairSync('x25519').privateKey),
    rules: '{}',
    rulesDigest: 'cd'.repeat(32),
    rulesSigner: 'ef'.repeat(32),
    recipients: screens.projectors.map((p) => ({
      thumbprint: certificateThumbprint(p.certificate),
      subject: p.certificate.subject,
    })),
    outputs: kdms.map((k) => new Uint8Array(k)),
  });
  const posted = await log.post(d.body);
  assert.equal(posted.status, 200);
  const entryIndex = posted.json.index as number;

  const file = (name: string, body: string | Uint8Array) => {
    const p = join(dir, name);
    writeFileSync(p, body);
    return p;
  };
  const kdm1 = file('screen1.kdm.xml', kdms[1]!);
  const kdm2 = file('screen2.kdm.xml', kdms[2]!);
  const proof1 = file('screen1.kdm.xml.logged.json', formatKdmLoggedProof(entryIndex, d.tree.prove(1)));
  const cert1 = file('screen1.pem', certificatePem(screens.projectors[1]!.certificate.der));
  const cert2 = file('screen2.pem', certificatePem(screens.projectors[2]!.certificate.der));
  const root = file('nitro-test-root.pem', log.pki.rootPem);
  const logged = (kdm: string, proof: string, extra: string[] = []) =>
    run([
      'kdm',
      'logged',
      kdm,
      '--proof',
      proof,
      '--log',
      log.url,
      '--log-key',
      log.vkey,
      '--trust-root',
      root,
      '--json',
      ...extra,
    ]);

  const ok = await logged(kdm1, proof1, ['--certificate', cert1]);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  const view = JSON.parse(ok.stdout);
  assert.equal(view.entryIndex, entryIndex);
  assert.equal(view.thumbprint, certificateThumbprint(screens.projectors[1]!.certificate));
  assert.equal(view.recipientChecked, true);
  assert.equal(view.enclave.identity, id.json.index);
  assert.equal(view.enclave.pcr0, enclave.pcr0);
  // nothing about the other screens
  for (const p of [screens.projectors[0]!, screens.projectors[2]!])
    assert.ok(!ok.stdout.includes(certificateThumbprint(p.certificate)) && !ok.stdout.includes(p.certificate.subject));
  // without --certificate: proved for the thumbprint the proof names, which it prints
  assert.equal((await logged(kdm1, proof1)).code, 0);

  const code = (r: { code: number; stdout: string }) => [r.code, JSON.parse(r.stdout).code];
  // another screen's KDM with this proof; this KDM with another certificate
  assert.deepEqual(code(await logged(kdm2, proof1)), [1, 'RECEIPT_INVALID']);
  assert.deepEqual(code(await logged(kdm1, proof1, ['--certificate', cert2])), [1, 'RECEIPT_INVALID']);
  // the proof pointed at the identity entry, at an entry beyond the tree
  const atIdentity = file('p-id.json', formatKdmLoggedProof(id.json.index, d.tree.prove(1)));
  assert.deepEqual(code(await logged(kdm1, atIdentity)), [1, 'DELIVERY_NOT_LOGGED']);
  const beyond = file('p-beyond.json', formatKdmLoggedProof(entryIndex + 50, d.tree.prove(1)));
  assert.deepEqual(code(await logged(kdm1, beyond)), [1, 'DELIVERY_NOT_LOGGED']);
  // the identity's attestation checked under the default AWS root: the simulator's is not it
  const noRoot = await run([
    'kdm',
    'logged',
    kdm1,
    '--proof',
    proof1,
    '--log',
    log.url,
    '--log-key',
    log.vkey,
    '--json',
  ]);
  assert.deepEqual(code(noRoot), [1, 'ROOT_UNTRUSTED']);
  // a log key that is not this log's
  const other = generateNoteKey('log.keycast.test/deliveries');
  const wrongKey = await run([
    'kdm',
    'logged',
    kdm1,
    '--proof',
    proof1,
    '--log',
    log.url,
    '--log-key',
    other.vkey,
    '--trust-root',
    root,
    '--json',
  ]);
  assert.equal(wrongKey.code, 1);

  // an entry the operator wrote without admission, for a key no identity registered
  const stranger = newEnclave(log.pki, enclave.pcr0, enclave.releaseIndex);
  const sneaked = await makeDelivery(stranger, {
    auditKey: auditPublicKey(generateKeyPairSync('x25519').privateKey),
    rules: '{}',
    rulesDigest: 'cd'.repeat(32),
    rulesSigner: 'ef'.repeat(32),
    recipients: [{ thumbprint: certificateThumbprint(screens.projectors[1]!.certificate), subject: 'x' }],
    outputs: [new Uint8Array(kdms[1]!)],
  });
  const leaf = deliveryEntryLeaf(sneaked.envelope);
  const r = await log.log.sequencer.submit({ leaf, kind: 'delivery', pcr0: enclave.pcr0 }, hashLeaf(leaf));
  const sneakProof = file('p-sneak.json', formatKdmLoggedProof(r.index, sneaked.tree.prove(0)));
  assert.deepEqual(code(await logged(kdm1, sneakProof)), [1, 'DELIVERY_NOT_LOGGED']);
});
