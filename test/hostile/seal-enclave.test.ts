/**
 * Issue 16 item 5, from the attacker's side: whoever hands the studio its "verified enclave" —
 * the host, or another AWS customer with a genuine attestation for an image of their own — must
 * not get a film's keys sealed to them. The studio runs the real `keycast seal` and `keycast
 * forward` processes; the attacker controls the files it is given: a hand-written record with
 * "verified": true, a v1 record, a genuine document from an unlogged enclave inside a record that
 * claims the studio's release, a document with no PCR policy, a record too old. Each is refused
 * with its code and nothing is written (or sent); the honest record still seals.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { parseIdentityBinding, verifyAttestationDocument } from '#verifier';
import {
  formatIdentityBinding,
  formatVerifiedEnclave,
  signRules,
  toBase64,
  toHex,
  verifiedEnclaveRecord,
} from '#verifier/build';
import { SimulatedNsm, createTestPki } from '../../enclave/index.ts';
import { CPL, KEY_IDS, rules, type World } from '../forward-fixtures.ts';
import { runKeycast } from '../../cli/index.ts';

/** `keycast ARGS` in this process (cli/main.ts, as the binary runs it), its output captured. */
const keycast = runKeycast;
const sha384 = (s: string) => createHash('sha384').update(s).digest('hex');

test('seal and forward take only an enclave they can verify again, under a PCR policy', {
  timeout: 120_000,
}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'keycast-hostile-seal-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const f = (n: string) => join(dir, n);
  const pki = createTestPki();
  writeFileSync(f('root.pem'), pki.rootPem);
  const release = sha384('the studio-approved release');
  const honestNsm = new SimulatedNsm({ pki, pcrs: { pcr0: release, pcr1: sha384('1'), pcr2: sha384('2') } });
  // another AWS customer's enclave: a genuine document, for an image nobody logged
  const rogueNsm = new SimulatedNsm({ pki, pcrs: { pcr0: sha384('rogue'), pcr1: sha384('r1'), pcr2: sha384('r2') } });
  const hpke = new Uint8Array(randomBytes(32));
  const receipts = new Uint8Array(
    generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'der' }).subarray(-32),
  );
  const userData = formatIdentityBinding({ hpkeX25519: hpke, receiptsEd25519: receipts });

  /** A record as verify enclave writes it, from `nsm`'s document; `claim` overrides fields afterwards (the lie). */
  const record = async (nsm: SimulatedNsm, claim: Record<string, unknown> = {}) => {
    const nonce = new Uint8Array(randomBytes(32));
    const doc = await nsm.attestation({ nonce, publicKey: hpke, userData });
    const att = verifyAttestationDocument(doc, { trustedRoots: [pki.rootDer] });
    const r = verifiedEnclaveRecord(
      {
        host: 'http://127.0.0.1:1',
        moduleId: att.moduleId,
        timestamp: new Date(att.timestamp).toISOString(),
        pcr0: toHex(att.pcrs.get(0)!),
        releaseIndex: 0,
        origin: 'log.example/keycast',
        treeSize: 1,
        publicKey: toBase64(hpke),
        userData: toBase64(userData),
        nonce: toHex(nonce),
        rootSha256: att.rootSha256,
        attestation: toBase64(doc),
      },
      parseIdentityBinding(userData, hpke),
    );
    return { text: formatVerifiedEnclave({ ...r, ...claim } as typeof r), doc };
  };

  const studio = generateKeyPairSync('ed25519');
  writeFileSync(f('studio.pub'), studio.publicKey.export({ type: 'spki', format: 'pem' }));
  const w = { now: new Date(), pki: { root: { der: new Uint8Array(0) } } } as unknown as World;
  writeFileSync(
    f('rules.dsse'),
    signRules(
      rules(w, { recipients: { ...rules(w).recipients, roots: [], thumbprints: ['2jmj7l5rSw0yVb/vlWAYkK/YBwk='] } }),
      studio.privateKey,
    ),
  );
  writeFileSync(
    f('keys.json'),
    JSON.stringify({
      cplId: CPL,
      keys: KEY_IDS.map((id, i) => ({ id, type: i ? 'MDAK' : 'MDIK', key: randomBytes(16).toString('hex') })),
    }),
  );
  const seal = (enclave: string, policy: string[] = ['--expect-pcr0', release], extra: string[] = []) =>
    keycast([
      'seal',
      ...[
        '--enclave',
        f(enclave),
        '--keys',
        f('keys.json'),
        '--rules',
        f('rules.dsse'),
        '--rules-key',
        f('studio.pub'),
      ],
      ...['--trust-root', f('root.pem'), ...policy, '--out', f(`sealed-${enclave}`), '--json', ...extra],
    ]);
  const refused = async (enclave: string, code: string, policy?: string[], extra?: string[]) => {
    const r = await seal(enclave, policy, extra);
    assert.deepEqual(
      [r.code, (JSON.parse(r.stdout || '{}') as { code?: string }).code],
      [1, code],
      r.stderr + r.stdout,
    );
    assert.equal(existsSync(f(`sealed-${enclave}`)), false, 'nothing sealed');
  };

  // a hand-written record: "verified": true and the attacker's own HPKE key, no document
  const honest = await record(honestNsm);
  const { attestation: _a, ...noDoc } = JSON.parse(honest.text);
  writeFileSync(f('hand-written.json'), JSON.stringify(noDoc));
  await refused('hand-written.json', 'RECORD_UNVERIFIABLE');
  // the record format before it carried its document
  writeFileSync(f('v1.json'), JSON.stringify({ ...noDoc, type: 'keycast-verified-enclave/v1' }));
  await refused('v1.json', 'RECORD_UNVERIFIABLE');
  // a genuine document from the rogue enclave, in a record that claims the studio's release
  writeFileSync(f('relabelled.json'), (await record(rogueNsm, { pcr0: release })).text);
  await refused('relabelled.json', 'RECORD_UNVERIFIABLE');
  // the same rogue record told the truth: its PCR0 is not the one the studio expects
  writeFileSync(f('rogue.json'), (await record(rogueNsm)).text);
  await refused('rogue.json', 'PCR_MISMATCH');
  // a genuine document with no PCR policy at all: seal does not run (any AWS customer can make one)
  writeFileSync(f('rogue.cbor'), (await record(rogueNsm)).doc);
  const noPolicy = await seal('rogue.cbor', []);
  assert.equal(noPolicy.code, 2, noPolicy.stderr);
  assert.match(noPolicy.stderr + noPolicy.stdout, /no PCR policy/);
  // a record older than --max-age
  writeFileSync(f('honest.json'), honest.text);
  await new Promise((r) => setTimeout(r, 2100));
  await refused('honest.json', 'ATTESTATION_AGE', undefined, ['--max-age', '1']);
  // the honest record, fresh enough, under the expected PCR0: sealed
  const ok = await seal('honest.json');
  assert.equal(ok.code, 0, ok.stderr + ok.stdout);
  assert.equal((JSON.parse(ok.stdout) as { pcr0: string }).pcr0, release);

  // keycast forward: a hand-written record is refused before anything goes to the host
  let hits = 0;
  const server = createServer((_req, res) => {
    hits++;
    res.writeHead(500).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  writeFileSync(f('bundle.pem'), '');
  const fwd = await keycast([
    'forward',
    ...[
      '--host',
      `http://127.0.0.1:${(server.address() as { port: number }).port}`,
      '--enclave',
      f('hand-written.json'),
    ],
    ...['--sealed', f('sealed-honest.json'), '--rules', f('rules.dsse'), '--recipients', f('bundle.pem')],
    ...['--trust-root', f('root.pem'), '--expect-pcr0', release, '--out', f('kdms'), '--json'],
  ]);
  assert.deepEqual(
    [fwd.code, (JSON.parse(fwd.stdout || '{}') as { code?: string }).code],
    [1, 'RECORD_UNVERIFIABLE'],
    fwd.stderr + fwd.stdout,
  );
  assert.equal(hits, 0, 'nothing was sent');
  assert.equal(existsSync(f('kdms')), false);
});
