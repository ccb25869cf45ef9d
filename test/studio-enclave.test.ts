/**
 * `keycast verify enclave` against the simulator behind a loopback host and a real log: an
 * enclave running a logged, active release passes and its bound keys (read from the identity
 * binding) are written as the verified-enclave record `keycast seal --enclave` reads; an unlogged
 * image, a replayed document (a host answering an old nonce) and a binding that contradicts
 * public_key are refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SimulatedNsm, createTestPki } from '../enclave/index.ts';
import { parseVerifiedEnclave } from '#verifier';
import { formatIdentityBinding, signRules } from '#verifier/build';
import { CPL, KEY_IDS, rules, type World } from './forward-fixtures.ts';
import { createLog } from '../log-server/index.ts';
import { listenLog, newPublisher, releaseBundle, releaseFields } from './log-fixtures.ts';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { runKeycast } from '../cli/index.ts';

const ORIGIN = 'releases.keycast.test/enclave';

/** `keycast ARGS` in this process (cli/main.ts, as the binary runs it), its output captured. */
const keycast = runKeycast;

const sha384 = (s: string) => createHash('sha384').update(s).digest('hex');
const HPKE = new Uint8Array(32).fill(0x11);
const RECEIPTS = new Uint8Array(32).fill(0x22);
const KDM_CHAIN = new Uint8Array(32).fill(0x33);
const BINDING = formatIdentityBinding({ hpkeX25519: HPKE, receiptsEd25519: RECEIPTS, kdmChainSha256: KDM_CHAIN });
/** A binding naming another HPKE key than the document's public_key. */
const CONTRADICTING = formatIdentityBinding({ hpkeX25519: new Uint8Array(32).fill(0x44), receiptsEd25519: RECEIPTS });

/** A host serving GET /v1/attestation from an NSM; `replay` answers every request with the first document. */
function host(nsm: SimulatedNsm, replay = false, userData = BINDING): Promise<{ url: string; server: Server }> {
  let first: Uint8Array | undefined;
  const server = createServer(async (req, res) => {
    const u = new URL(req.url ?? '/', 'http://h');
    const nonce = u.searchParams.get('nonce');
    if (u.pathname !== '/v1/attestation' || nonce === null) return void res.writeHead(404).end();
    const doc =
      replay && first ? first : await nsm.attestation({ nonce: Buffer.from(nonce, 'hex'), publicKey: HPKE, userData });
    first ??= doc;
    res.writeHead(200, { 'content-type': 'application/cbor' }).end(Buffer.from(doc));
  });
  return new Promise((ok) =>
    server.listen(0, '127.0.0.1', () =>
      ok({ url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, server }),
    ),
  );
}

test('verify enclave: a logged release passes and its keys are written; unlogged and replayed are refused', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'keycast-enclave-'));
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
  const logged = new SimulatedNsm({
    pki,
    pcrs: { pcr0: releaseFields('live').pcr0, pcr1: sha384('pcr1-live'), pcr2: sha384('pcr2-live') },
  });
  const unlogged = new SimulatedNsm({ pki, pcrs: { pcr0: sha384('x'), pcr1: sha384('y'), pcr2: sha384('z') } });
  const good = await host(logged);
  const stale = await host(logged, true);
  const other = await host(unlogged);
  const lying = await host(logged, false, CONTRADICTING);
  t.after(() => {
    for (const h of [good, stale, other, lying]) h.server.close();
  });
  const flags = [
    '--log',
    url,
    '--log-key',
    vkey,
    '--publisher',
    join(dir, 'publisher.pem'),
    '--trust-root',
    join(dir, 'root.pem'),
    '--state',
    join(dir, 'state'),
    '--json',
  ];

  await fetch(`${stale.url}/v1/attestation?nonce=${'00'.repeat(32)}`); // the document the replaying host will keep serving
  const [ok, replayed, notLogged, noRoot, mismatched] = await Promise.all([
    keycast(['verify', 'enclave', good.url, ...flags, '--out', join(dir, 'enclave.json')]),
    keycast(['verify', 'enclave', stale.url, ...flags]),
    keycast(['verify', 'enclave', other.url, ...flags]),
    keycast([
      'verify',
      'enclave',
      good.url,
      ...flags.filter((f, i, a) => f !== '--trust-root' && a[i - 1] !== '--trust-root'),
    ]),
    keycast(['verify', 'enclave', lying.url, ...flags, '--out', join(dir, 'lying.json')]),
  ]);
  assert.equal(ok.code, 0, ok.stderr + ok.stdout);
  const out = JSON.parse(ok.stdout);
  assert.deepEqual([out.releaseIndex, out.status, out.pcr0], [0, 'active', releaseFields('live').pcr0]);
  assert.equal(out.publicKey, Buffer.from(HPKE).toString('base64'));
  assert.equal(out.userData, Buffer.from(BINDING).toString('base64'));
  assert.deepEqual(
    [out.hpkeX25519, out.receiptsEd25519, out.kdmChainSha256],
    [HPKE, RECEIPTS, KDM_CHAIN].map((b) => Buffer.from(b).toString('base64')),
  );
  assert.deepEqual(JSON.parse(readFileSync(join(dir, 'enclave.json'), 'utf8')), out);
  const rec = parseVerifiedEnclave(readFileSync(join(dir, 'enclave.json')));
  assert.deepEqual(
    [Buffer.from(rec.hpke), rec.receipt.export({ format: 'der', type: 'spki' }).subarray(-32)],
    [Buffer.from(HPKE), Buffer.from(RECEIPTS)],
  );
  assert.deepEqual([mismatched.code, JSON.parse(mismatched.stdout).code], [1, 'IDENTITY_BINDING']);
  assert.throws(() => readFileSync(join(dir, 'lying.json')), /ENOENT/, 'a refused binding writes nothing');

  // keycast seal reads the record; a record whose key fields were edited is refused
  const studio = generateKeyPairSync('ed25519');
  writeFileSync(join(dir, 'studio.pub'), studio.publicKey.export({ type: 'spki', format: 'pem' }));
  const w = { now: new Date(), pki: { root: { der: new Uint8Array(0) } } } as unknown as World;
  writeFileSync(
    join(dir, 'rules.dsse'),
    signRules(
      rules(w, { recipients: { ...rules(w).recipients, roots: [], thumbprints: ['2jmj7l5rSw0yVb/vlWAYkK/YBwk='] } }),
      studio.privateKey,
    ),
  );
  writeFileSync(
    join(dir, 'keys.json'),
    JSON.stringify({
      cplId: CPL,
      keys: [
        { id: KEY_IDS[0], type: 'MDIK', key: '11'.repeat(16) },
        { id: KEY_IDS[1], type: 'MDAK', key: '22'.repeat(16) },
      ],
    }),
  );
  const seal = (enclave: string) =>
    keycast([
      'seal',
      '--enclave',
      enclave,
      '--keys',
      join(dir, 'keys.json'),
      '--rules-key',
      join(dir, 'studio.pub'),
      '--rules',
      join(dir, 'rules.dsse'),
      '--trust-root',
      join(dir, 'root.pem'),
      '--expect-pcr0',
      releaseFields('live').pcr0,
      '--out',
      join(dir, 'sealed.json'),
      '--json',
    ]);
  const sealed = await seal(join(dir, 'enclave.json'));
  assert.equal(sealed.code, 0, sealed.stderr + sealed.stdout);
  assert.equal(JSON.parse(sealed.stdout).pcr0, releaseFields('live').pcr0);
  writeFileSync(
    join(dir, 'edited.json'),
    JSON.stringify({ ...out, hpkeX25519: Buffer.alloc(32, 0x55).toString('base64') }),
  );
  const edited = await seal(join(dir, 'edited.json'));
  assert.deepEqual([edited.code, JSON.parse(edited.stdout).code], [1, 'IDENTITY_BINDING']);
  assert.deepEqual([replayed.code, JSON.parse(replayed.stdout).code], [1, 'NONCE_MISMATCH']);
  assert.deepEqual([notLogged.code, JSON.parse(notLogged.stdout).code], [1, 'RELEASE_NOT_LOGGED']);
  assert.deepEqual(
    [noRoot.code, JSON.parse(noRoot.stdout).code],
    [1, 'ROOT_UNTRUSTED'],
    'the test PKI is not trusted by default',
  );
});
