/**
 * `keycast rules endorse` + `keycast forward --dkdm` against a loopback host running the
 * enclave's request opener in-process (openForwardRequest with the identity's decryption key):
 * the KDMs written open at each projector to exactly the DKDM's keys; a DKDM under rules its
 * signer did not endorse is exit 5 DKDM_RULES_NOT_ENDORSED (the code the enclave decided), and
 * nothing is written. Also: --sealed and --dkdm together are a usage error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { decryptKdm, parseIdentityBinding, parseKdm, verifyAttestationDocument, type ForwardRules } from '#verifier';
import {
  buildKdm,
  certificatePem,
  formatIdentityBinding,
  formatVerifiedEnclave,
  kdmChainSha256,
  kdmSigner,
  signRules,
  toBase64,
  toHex,
  verifiedEnclaveRecord,
} from '#verifier/build';
import { createHash, randomBytes } from 'node:crypto';
import {
  SimulatedNsm,
  createSignerChain,
  createTestPki,
  forward,
  generateIdentity,
  openForwardRequest,
  wipe,
  type ForwardOutput,
} from '../enclave/index.ts';
import { CPL, DAY, ctx, kdmT, rules as baseRules, world, type World } from './forward-fixtures.ts';
import { runKeycast } from '../cli/index.ts';

/** `keycast ARGS` in this process (cli/main.ts, as the binary runs it), its output captured. */
const keycast = runKeycast;

const identity = generateIdentity({ release: 'test' });
const mastering = createSignerChain({ name: 'studio.mastering' });

function host(w: World): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      try {
        const opened = await openForwardRequest(JSON.parse(Buffer.concat(chunks).toString('utf8')), {
          ...ctx(w),
          now: new Date(),
          dkdm: { identity, publishers: [] },
        });
        const outputs: Array<Omit<ForwardOutput, 'bytes'> & { bytes: string }> = [];
        const r = await forward(opened, w.enclave.keys, (o) =>
          outputs.push({ ...o, bytes: Buffer.from(o.bytes).toString('base64') }),
        );
        wipe(opened);
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ requestDigest: opened.requestDigest, receipt: r.receipt, outputs }));
      } catch (e) {
        const err = e as { toJSON?: () => unknown };
        res
          .writeHead(422, { 'content-type': 'application/json' })
          .end(JSON.stringify(err.toJSON?.() ?? { code: 'INTERNAL' }));
      }
    });
  });
  return new Promise((ok) =>
    server.listen(0, '127.0.0.1', () =>
      ok({ url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, server }),
    ),
  );
}

/** The simulated NSM's test PKI: its root stands in for AWS's (--trust-root). */
const NSM_PKI = createTestPki();
const ROOT_PEM = join(mkdtempSync(join(tmpdir(), 'dkdm-forward-root-')), 'root.pem');
writeFileSync(ROOT_PEM, NSM_PKI.rootPem);
const sha384 = (s: string) => createHash('sha384').update(s).digest('hex');

/** The verified-enclave record (v2: with its attestation) a studio holds for this enclave. */
async function record(w: World): Promise<string> {
  const binding = {
    hpkeX25519: w.enclave.hpke.publicKey,
    receiptsEd25519: new Uint8Array(w.enclave.receipt.publicKey.export({ type: 'spki', format: 'der' }).subarray(-32)),
    kdmChainSha256: kdmChainSha256(w.enclave.signerChain.chain),
  };
  const userData = formatIdentityBinding(binding);
  const nsm = new SimulatedNsm({
    pki: NSM_PKI,
    pcrs: { pcr0: toHex(w.enclave.pcr0), pcr1: sha384('pcr1'), pcr2: sha384('pcr2') },
  });
  const nonce = new Uint8Array(randomBytes(32));
  const doc = await nsm.attestation({ nonce, publicKey: w.enclave.hpke.publicKey, userData });
  const att = verifyAttestationDocument(doc, { trustedRoots: [NSM_PKI.rootDer] });
  return formatVerifiedEnclave(
    verifiedEnclaveRecord(
      {
        host: 'http://127.0.0.1',
        moduleId: att.moduleId,
        timestamp: new Date(att.timestamp).toISOString(),
        pcr0: toHex(w.enclave.pcr0),
        releaseIndex: 0,
        origin: 'test/log',
        treeSize: 1,
        publicKey: toBase64(w.enclave.hpke.publicKey),
        userData: toBase64(userData),
        nonce: toHex(nonce),
        rootSha256: att.rootSha256,
        attestation: toBase64(doc),
      },
      parseIdentityBinding(userData, w.enclave.hpke.publicKey),
    ),
  );
}

test('keycast forward --dkdm: KDMs open to exactly the DKDM keys; unendorsed rules are DKDM_RULES_NOT_ENDORSED, nothing written', {
  timeout: 180_000,
}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dkdm-forward-'));
  const w = await world(2);
  const h = await host(w);
  t.after(() => {
    h.server.close();
    h.server.closeAllConnections();
    rmSync(dir, { recursive: true, force: true });
  });
  const f = (n: string) => join(dir, n);
  const now = w.now.getTime();
  writeFileSync(f('enclave.json'), await record(w));
  writeFileSync(
    f('film.kdm.xml'),
    buildKdm({
      cplId: CPL,
      title: 'The Keycast Test Film',
      keys: w.contentKeys,
      notBefore: kdmT(now),
      notAfter: kdmT(now + 60 * DAY),
      issueDate: kdmT(now),
      recipient: identity.dkdm.chain[0]!,
      signer: kdmSigner(mastering.chain, mastering.privateKey),
    }),
  );
  const r = (over: Partial<ForwardRules> = {}) =>
    baseRules(w, {
      dkdmSigners: [toBase64(mastering.chain[2]!.der)],
      releases: { pcr0s: [toHex(w.enclave.pcr0)], publishers: [] },
      ...over,
    } as Partial<ForwardRules>);
  writeFileSync(f('rules.dsse'), signRules(r(), w.studio.privateKey));
  writeFileSync(
    f('other.dsse'),
    signRules(r({ limits: { maxKdmValidityDays: 29, maxRecipients: 10 } }), w.studio.privateKey),
  );
  writeFileSync(f('studio.pub'), w.studio.pem);
  writeFileSync(f('mastering.key'), mastering.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  writeFileSync(
    f('bundle.pem'),
    [w.pki.intermediate, ...w.pki.projectors.map((p) => p.certificate)].map((c) => certificatePem(c.der)).join(''),
  );
  for (const [rules, out] of [
    ['rules.dsse', 'endorsement'],
    ['other.dsse', 'other-endorsement'],
  ] as const)
    assert.equal(
      (
        await keycast([
          'rules',
          'endorse',
          f(rules),
          '--rules-key',
          f('studio.pub'),
          '--key',
          f('mastering.key'),
          '--out',
          f(out),
        ])
      ).code,
      0,
    );
  const send = (out: string, endorsement: string, extra: string[] = []) =>
    keycast([
      'forward',
      '--host',
      h.url,
      '--enclave',
      f('enclave.json'),
      '--dkdm',
      f('film.kdm.xml'),
      '--rules-key',
      f('studio.pub'),
      '--rules-endorsement',
      f(endorsement),
      '--rules',
      f('rules.dsse'),
      '--recipients',
      f('bundle.pem'),
      '--out',
      f(out),
      '--trust-root',
      ROOT_PEM,
      '--expect-pcr0',
      toHex(w.enclave.pcr0),
      '--json',
      ...extra,
    ]);

  const ok = await send('kdms', 'endorsement');
  assert.equal(ok.code, 0, ok.stderr + ok.stdout);
  const files = readdirSync(f('kdms')).filter((n) => n.endsWith('.kdm.xml'));
  assert.equal(files.length, 2);
  for (const p of w.pki.projectors) {
    const file = files.find((n) => n.startsWith(Buffer.from(p.certificate.thumbprint).toString('hex')))!;
    const got = decryptKdm(parseKdm(readFileSync(join(f('kdms'), file))), p.privateKey);
    assert.deepEqual(
      got.map((k) => [k.id, k.type, toHex(k.key)]),
      w.contentKeys.map((k) => [k.id, k.type, toHex(k.key)]),
    );
  }
  const refused = await send('refused', 'other-endorsement');
  assert.equal(refused.code, 5, refused.stdout);
  const body = JSON.parse(refused.stdout) as { code: string; evidence: Record<string, unknown> };
  // the verifier's own code, decided in the enclave, unchanged on the studio's screen
  assert.equal(body.code, 'DKDM_RULES_NOT_ENDORSED');
  assert.equal(existsSync(f('refused')), false, 'nothing written');
  const both = await send('both', 'endorsement', ['--sealed', f('rules.dsse')]);
  assert.equal(both.code, 2);
});
