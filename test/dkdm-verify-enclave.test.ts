/**
 * `keycast verify enclave --dkdm-certificate`: the KDM decryption certificate (the DKDM
 * recipient) is written, and recorded in enclave.json, only when the host serves exactly the
 * chains the attestation binds. A host serving another identity's chain, or an attestation that
 * binds no decryption certificate, writes nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { isVerifierError, parseVerifiedEnclave } from '#verifier';
import {
  RULES_TYPE,
  buildKdm,
  kdmSigner,
  signRules,
  enclaveCertificatesFromRecord,
  formatIdentityBinding,
  pemCertificates,
  toBase64,
} from '#verifier/build';
import { SimulatedNsm, createSignerChain, createTestPki, generateIdentity, publicIdentity } from '../enclave/index.ts';
import { createLog } from '../log-server/index.ts';
import { listenLog, newPublisher, releaseBundle, releaseFields } from './log-fixtures.ts';
import { runKeycast } from '../cli/index.ts';

const ORIGIN = 'releases.keycast.test/enclave';
const sha384 = (s: string) => createHash('sha384').update(s).digest('hex');

type Pub = ReturnType<typeof publicIdentity>;

/** A host serving the attestation (binding `bound`) and the chains of `served`. */
function host(
  nsm: SimulatedNsm,
  bound: Pub,
  served: Pub,
  bindDecryption = true,
): Promise<{ url: string; server: Server }> {
  const { kdmDecryptionSha256, ...older } = bound;
  const userData = formatIdentityBinding(bindDecryption ? bound : older);
  void kdmDecryptionSha256;
  const server = createServer(async (req, res) => {
    const u = new URL(req.url ?? '/', 'http://h');
    if (u.pathname === '/v1/certificates')
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          kdmSigner: served.certificates.kdmSigner.map(toBase64),
          kdmDecryption: served.certificates.kdmDecryption.map(toBase64),
        }),
      );
    const nonce = u.searchParams.get('nonce');
    if (u.pathname !== '/v1/attestation' || nonce === null) return void res.writeHead(404).end();
    const doc = await nsm.attestation({ nonce: Buffer.from(nonce, 'hex'), publicKey: bound.hpkeX25519, userData });
    res.writeHead(200, { 'content-type': 'application/cbor' }).end(Buffer.from(doc));
  });
  return new Promise((ok) =>
    server.listen(0, '127.0.0.1', () =>
      ok({ url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, server }),
    ),
  );
}

/** Runs keycast in this process; `out` is its --json output (the result, or the refusal with its code). */
async function run(args: string[]): Promise<{ code: number; out: { code?: string } & Record<string, unknown> }> {
  const r = await runKeycast(args);
  let out: Record<string, unknown> = {};
  try {
    out = JSON.parse(r.stdout);
  } catch {}
  return { code: r.code, out };
}

test('verify enclave --dkdm-certificate writes only the bound decryption chain', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'keycast-dkdm-cert-'));
  const { vkey } = createLog(join(dir, 'log'), ORIGIN);
  const p = newPublisher();
  writeFileSync(join(dir, 'publisher.pem'), p.publicPem);
  const { url } = await listenLog(t, join(dir, 'log'), [p.publicPem], join(dir, 'log'));
  const r = await fetch(`${url}/add-entry`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: releaseBundle(p, 'live'),
  });
  assert.equal(r.status, 200);
  const pki = createTestPki();
  writeFileSync(join(dir, 'root.pem'), pki.rootPem);
  const nsm = new SimulatedNsm({
    pki,
    pcrs: { pcr0: releaseFields('live').pcr0, pcr1: sha384('pcr1-live'), pcr2: sha384('pcr2-live') },
  });
  const id = generateIdentity({ release: releaseFields('live').pcr0.slice(0, 16) });
  const pub = publicIdentity(id);
  const other = publicIdentity(generateIdentity({ release: 'other' }));
  const good = await host(nsm, pub, pub);
  const lying = await host(nsm, pub, other);
  const older = await host(nsm, pub, pub, false);
  t.after(() => {
    for (const h of [good, lying, older]) h.server.close();
  });
  const flags = (h: { url: string }, name: string) => [
    h.url,
    '--log',
    url,
    '--log-key',
    vkey,
    '--publisher',
    join(dir, 'publisher.pem'),
    '--trust-root',
    join(dir, 'root.pem'),
    '--state',
    join(dir, `state-${name}`),
    '--json',
    '--out',
    join(dir, `${name}.json`),
    '--dkdm-certificate',
    join(dir, `${name}.pem`),
  ];

  const ok = await run(['verify', 'enclave', ...flags(good, 'good')]);
  assert.equal(ok.code, 0, JSON.stringify(ok.out));
  const pem = pemCertificates(readFileSync(join(dir, 'good.pem'), 'utf8'));
  assert.deepEqual(
    pem.map((d) => Buffer.from(d).toString('base64')),
    id.dkdm.chain.map((c) => Buffer.from(c.der).toString('base64')),
    'leaf, intermediate, root',
  );
  const rec = parseVerifiedEnclave(readFileSync(join(dir, 'good.json')));
  assert.equal(rec.record.kdmDecryptionSha256, toBase64(pub.kdmDecryptionSha256));
  const certs = enclaveCertificatesFromRecord(rec.record, rec.binding, new Date());
  assert.equal(certs.decryptionChain[0]!.subject, id.dkdm.chain[0]!.subject);
  assert.equal(certs.signerChain.length, 3);
  // an edited record (another decryption chain) is refused when read
  const edited = { ...rec.record, kdmDecryptionChain: other.certificates.kdmDecryption.map(toBase64) };
  assert.throws(
    () => enclaveCertificatesFromRecord(edited, rec.binding, new Date()),
    (e) => isVerifierError(e, 'IDENTITY_BINDING'),
  );

  // keycast dkdm check, offline, against that record: a DKDM from the pinned mastering signer is
  // accepted; one for another certificate, from an unpinned signer, or for an unlisted release is not
  const mastering = createSignerChain({ name: 'studio.mastering' });
  const cplId = 'urn:uuid:11111111-2222-4333-8444-555555555555';
  const keyIds = ['urn:uuid:aaaaaaaa-2222-4333-8444-555555555555', 'urn:uuid:bbbbbbbb-2222-4333-8444-555555555555'];
  const t0 = Date.now();
  const kdmT = (ms: number) => `${new Date(Math.floor(ms / 1000) * 1000).toISOString().slice(0, 19)}+00:00`;
  const dkdm = (recipient = id.dkdm.chain[0]!, signer = mastering) =>
    buildKdm({
      cplId,
      title: 'Film',
      keys: keyIds.map((kid, i) => ({ id: kid, type: i ? 'MDAK' : 'MDIK', key: new Uint8Array(randomBytes(16)) })),
      notBefore: kdmT(t0 + 86_400_000),
      notAfter: kdmT(t0 + 100 * 86_400_000),
      issueDate: kdmT(t0),
      recipient,
      signer: kdmSigner(signer.chain, signer.privateKey),
    });
  const studio = generateKeyPairSync('ed25519');
  writeFileSync(join(dir, 'studio.pub'), studio.publicKey.export({ type: 'spki', format: 'pem' }));
  const rulesFile = (name: string, over: Record<string, unknown> = {}) => {
    const f = join(dir, `${name}.dsse`);
    writeFileSync(
      f,
      signRules(
        {
          type: RULES_TYPE,
          film: { cplId, title: 'Film' },
          contentKeyIds: keyIds,
          kdmWindow: { notBefore: kdmT(t0 + 2 * 86_400_000), notAfter: kdmT(t0 + 20 * 86_400_000) },
          forwardFrom: '2025-01-01T00:00:00Z',
          forwardUntil: '2099-01-01T00:00:00Z',
          recipients: { thumbprints: ['2jmj7l5rSw0yVb/vlWAYkK/YBwk='], roots: [], excluded: [], roles: ['SM'] },
          formats: ['kdm'],
          limits: { maxKdmValidityDays: 30, maxRecipients: 10 },
          dkdmSigners: [toBase64(mastering.chain[2]!.der)],
          releases: { pcr0s: [releaseFields('live').pcr0], publishers: [] },
          ...over,
        } as Parameters<typeof signRules>[0],
        studio.privateKey,
      ),
    );
    return f;
  };
  const check = (xml: string, rules: string) => {
    writeFileSync(join(dir, 'film.kdm.xml'), xml);
    return run([
      'dkdm',
      'check',
      join(dir, 'film.kdm.xml'),
      '--enclave',
      join(dir, 'good.json'),
      '--rules',
      rules,
      '--rules-key',
      join(dir, 'studio.pub'),
      '--json',
    ]);
  };
  const accepted = await check(dkdm(), rulesFile('rules'));
  assert.equal(accepted.code, 0, JSON.stringify(accepted.out));
  assert.equal((accepted.out as { recipient: string }).recipient, id.dkdm.chain[0]!.subject);
  const stranger = createSignerChain({ name: 'someone.else' });
  for (const [xml, rules, code] of [
    [dkdm(stranger.chain[0]!), rulesFile('rules'), 'DKDM_RECIPIENT'],
    [dkdm(undefined, stranger), rulesFile('rules'), 'DKDM_SIGNER_NOT_PINNED'],
    [
      dkdm(),
      rulesFile('other-release', { releases: { pcr0s: ['ab'.repeat(48)], publishers: [] } }),
      'DKDM_RELEASE_NOT_ALLOWED',
    ],
    [
      dkdm(),
      rulesFile('other-film', { film: { cplId: 'urn:uuid:99999999-2222-4333-8444-555555555555', title: 'F' } }),
      'DKDM_CPL_MISMATCH',
    ],
  ] as const) {
    const r = await check(xml, rules);
    assert.deepEqual([r.code, r.out.code], [1, code], JSON.stringify(r.out));
  }

  for (const [h, name] of [
    [lying, 'lying'],
    [older, 'older'],
  ] as const) {
    const bad = await run(['verify', 'enclave', ...flags(h, name)]);
    assert.deepEqual([bad.code, bad.out.code], [1, 'IDENTITY_BINDING'], `${name}: ${JSON.stringify(bad.out)}`);
    assert.ok(!existsSync(join(dir, `${name}.pem`)), `${name}: no certificate written`);
    assert.ok(!existsSync(join(dir, `${name}.json`)), `${name}: no record written`);
  }
});
