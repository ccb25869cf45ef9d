/**
 * `keycast kms-policy --log … --publisher / --certificate-identity`: the key policy lets only the
 * releases of the publishers the studio pins decrypt — by key, or keylessly by identity (the same
 * identity policy as verify release) — even when the log admitted releases from others; those are
 * listed as excluded with the code and the field that differs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initializeCA } from '@sigstore/mock';
import { createLog } from '../log-server/index.ts';
import { runEnclaveCommand } from './enclave-command.ts';
import { listenLog, newPublisher, releaseBundle, releaseFields, type Publisher } from './log-fixtures.ts';

const ORIGIN = 'releases.keycast.test/kms-publishers';
const ISSUER = 'https://token.actions.githubusercontent.com';
const IDENTITY = 'https://github.com/keycast/enclave-app/.github/workflows/release.yml@refs/tags/v3';

const run = runEnclaveCommand;

/** A keyless release bundle: an ephemeral key certified by `ca` for IDENTITY at `ref`. */
async function keylessRelease(ca: Awaited<ReturnType<typeof initializeCA>>, seed: string, ref: string) {
  const eph = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const signer: Publisher = {
    privateKey: eph.privateKey,
    publicPem: '',
    hint: createHash('sha256')
      .update(eph.publicKey.export({ type: 'spki', format: 'der' }))
      .digest('hex'),
  };
  const cert = await ca.issueCertificate({
    publicKey: eph.publicKey.export({ type: 'spki', format: 'der' }),
    subjectAltName: IDENTITY.replace('refs/tags/v3', ref),
    extensions: [
      { oid: '1.3.6.1.4.1.57264.1.8', value: ISSUER },
      { oid: '1.3.6.1.4.1.57264.1.14', value: ref },
    ],
  });
  const der = Buffer.from(cert.buffer, cert.byteOffset, cert.byteLength);
  const b = JSON.parse(releaseBundle(signer, seed));
  b.verificationMaterial = { certificate: { rawBytes: der.toString('base64') }, tlogEntries: [] };
  return { bundle: JSON.stringify(b), certPem: new X509Certificate(der).toString() };
}

test('kms-policy counts only the pinned publishers’ releases, by key or by keyless identity', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'keycast-kms-publishers-'));
  createLog(join(dir, 'log'), ORIGIN);
  const ca = await initializeCA(generateKeyPairSync('ec', { namedCurve: 'P-256' }));
  const caPem = new X509Certificate(Buffer.from(ca.rootCertificate.buffer)).toString();
  const b64 = (pem: string) => new X509Certificate(pem).raw.toString('base64');
  writeFileSync(
    join(dir, 'root.json'),
    JSON.stringify({
      mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
      certificateAuthorities: [
        { certChain: { certificates: [{ rawBytes: b64(caPem) }] }, validFor: { start: '2000-01-01T00:00:00Z' } },
      ],
      tlogs: [],
      ctlogs: [],
      timestampAuthorities: [],
    }),
  );
  const ours = newPublisher();
  const theirs = newPublisher();
  const tagged = await keylessRelease(ca, 'keyless-tag', 'refs/tags/v3');
  const branch = await keylessRelease(ca, 'keyless-branch', 'refs/heads/main');
  // the log operator admits all four signers (certificates pinned as signers: the old keyless path)
  const { log, url } = await listenLog(
    t,
    join(dir, 'log'),
    [ours.publicPem, theirs.publicPem, tagged.certPem, branch.certPem],
    dir,
  );
  for (const body of [releaseBundle(ours, 'ours'), releaseBundle(theirs, 'theirs'), tagged.bundle, branch.bundle]) {
    const r = await fetch(`${url}/add-entry`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    assert.equal(r.status, 200, await r.text());
  }
  writeFileSync(join(dir, 'ours.pem'), ours.publicPem);
  const base = [
    'kms-policy',
    '--log',
    url,
    '--log-key',
    log.key.vkey,
    '--enclave-role',
    'arn:aws:iam::111122223333:role/keycast-enclave',
    '--admin',
    'arn:aws:iam::111122223333:role/key-admin',
    '--json',
  ];

  const all = JSON.parse((await run(base)).out);
  assert.equal(all.pcr0s.length, 4, 'without pins: every admitted release');

  const byKey = JSON.parse((await run([...base, '--publisher', join(dir, 'ours.pem')])).out);
  assert.deepEqual(byKey.pcr0s, [releaseFields('ours').pcr0]);
  assert.equal(byKey.releases[1].excluded.code, 'SIGNER_NOT_ALLOWED');

  const id = [
    '--certificate-identity',
    IDENTITY,
    '--certificate-oidc-issuer',
    ISSUER,
    '--trusted-root',
    join(dir, 'root.json'),
  ];
  const byId = await run([...base, ...id, '--certificate-github-workflow-ref', 'refs/tags/v3']);
  assert.equal(byId.code, 0, byId.out);
  const j = JSON.parse(byId.out);
  assert.deepEqual(j.pcr0s, [releaseFields('keyless-tag').pcr0]);
  assert.deepEqual(j.releases[3].excluded, { code: 'IDENTITY_MISMATCH', field: 'certificate-identity' });
  assert.equal(j.releases[0].excluded.code, 'SIGNER_NOT_ALLOWED', 'a key release is not a keyless identity');

  const both = JSON.parse((await run([...base, ...id, '--publisher', join(dir, 'ours.pem')])).out);
  assert.deepEqual(both.pcr0s, [releaseFields('ours').pcr0, releaseFields('keyless-tag').pcr0].sort());

  // usage: identity flags without an issuer, and pins with --pcr0
  await assert.rejects(
    run([...base, '--certificate-identity', IDENTITY]),
    (e: unknown) => (e as { code?: string }).code === 'USAGE',
  );
});
