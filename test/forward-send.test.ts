/**
 * `keycast forward` (the studio's side) against a loopback host that runs the forwarding core
 * in-process — honestly, or lying: a tampered output, outputs swapped between recipients, a
 * receipt from another enclave's key, no answer at all. Only an honest answer is written; every
 * lie is RECEIPT_INVALID (or a coded I/O error for silence) and nothing appears under --out.
 * KDMs must carry the KDM signer chain the attestation binds (else KDM_SIGNATURE). Also:
 * recipients as one PEM bundle, --format raw, --format raw-hpke to X25519 receivers, an --out
 * that already exists, and --batch: several requests with a receipt each, all or nothing written.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, generateKeyPairSync, constants, privateDecrypt, randomBytes } from 'node:crypto';
import {
  checkDelivery,
  openReceipt,
  parseDeliveryProof,
  openRawHpkeDelivery,
  parseIdentityBinding,
  verifyAttestationDocument,
} from '#verifier';
import {
  certificatePem,
  certificateThumbprint,
  kdmChainSha256,
  formatIdentityBinding,
  formatVerifiedEnclave,
  signRules,
  toBase64,
  toHex,
  verifiedEnclaveRecord,
} from '#verifier/build';
import { parseKdmLoggedProof } from '#verifier';
import {
  MemoryTree,
  buildTransparencyLogEntry,
  cplIdDigest,
  deliveryEntryLeaf,
  formatCheckpoint,
  generateNoteKey,
  noteSigner,
  proveInclusion,
  receiptKeyBase64,
  signDeliveryEntry,
  signNote,
} from '#verifier/build';
import {
  SimulatedNsm,
  createProjectorPki,
  createTestPki,
  forward,
  openForwardRequest,
  wipe,
  type ForwardOutput,
} from '../enclave/index.ts';
import { ctx, keySpellings, rules, sealed, world, type World } from './forward-fixtures.ts';
import { runKeycast } from '../cli/index.ts';
import { CPL } from './forward-fixtures.ts';

/** `keycast ARGS` in this process (cli/main.ts, as the binary runs it), its output captured. */
const keycast = runKeycast;

type Mode =
  | 'honest'
  | 'tamper'
  | 'swap'
  | 'silent'
  | 'gate-closed'
  // a transparent enclave's host (issue 19): the answer carries `delivery`, honest or forged
  | 'logged'
  | 'logged-other-signer'
  | 'logged-other-root'
  | 'logged-foreign-log';

/** The log a transparent enclave's deliveries go to (its key is --log-key), and one nobody pins. */
const LOG = generateNoteKey('forward-send.keycast.test/log');
const FOREIGN_LOG = generateNoteKey('forward-send.keycast.test/log');
const logTree = new MemoryTree();
logTree.append(new TextEncoder().encode('a release entry'));

/** The `delivery` field of a forward answer as a host would make it, honest or forged as `m` says. */
function deliveryFor(
  w: World,
  o: { requestDigest: string; rules: { digest: string; signerSpkiSha256: string } },
  receipt: string,
  count: number,
  m: Mode,
) {
  const signer = m === 'logged-other-signer' ? generateKeyPairSync('ed25519').privateKey : w.enclave.keys.receiptKey;
  const root = JSON.parse(Buffer.from((JSON.parse(receipt) as { payload: string }).payload, 'base64').toString()).root;
  const envelope = signDeliveryEntry(
    {
      type: 'keycast-delivery/v1',
      pcr0: toHex(w.enclave.pcr0),
      releaseIndex: 0,
      receiptKey: receiptKeyBase64(signer),
      rulesDigest: o.rules.digest,
      rulesSigner: o.rules.signerSpkiSha256,
      cplIdDigest: cplIdDigest(CPL),
      count,
      root: m === 'logged-other-root' ? 'ab'.repeat(32) : root,
      requestDigest: o.requestDigest,
      time: new Date().toISOString(),
      manifest: { sha256: '00'.repeat(32), size: 1 },
    },
    signer,
  );
  const leaf = deliveryEntryLeaf(envelope);
  const index = logTree.append(leaf);
  const size = logTree.size;
  const key = m === 'logged-foreign-log' ? FOREIGN_LOG : LOG;
  return {
    index,
    transparencyLogEntry: buildTransparencyLogEntry({
      index,
      origin: 'forward-send.keycast.test/log',
      logPublicKey: new Uint8Array(32).fill(1),
      leaf,
      proof: proveInclusion(index, size, logTree.hashReader()),
      checkpointNote: signNote(
        formatCheckpoint({
          origin: 'forward-send.keycast.test/log',
          size,
          rootHash: logTree.root(size),
          extensions: [],
        }),
        [noteSigner(key.skey)],
      ),
      rootHash: logTree.root(size),
      treeSize: size,
    }),
  };
}

/** A host whose answer is the core's, then changed as `mode()` says; `seen` gets each request's recipient count. */
function host(w: World, mode: () => Mode, seen: number[] = []): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      try {
        seen.push((JSON.parse(Buffer.concat(chunks).toString('utf8')) as { recipients: unknown[] }).recipients.length);
      } catch {
        seen.push(-1);
      }
      const m = mode();
      if (m === 'silent') return; // never answers
      if (m === 'gate-closed')
        // what a host relays when the enclave's gate shut (a revocation): 503 with the enclave's code and evidence
        return res.writeHead(503, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            error: 'EnclaveError',
            code: 'GATE_CLOSED',
            message: 'the gate is closed: release 0 is revoked',
            evidence: { refusal: { code: 'RELEASE_REVOKED', message: 'revoked by entry 3' } },
          }),
        );
      try {
        const opened = await openForwardRequest(JSON.parse(Buffer.concat(chunks).toString('utf8')), {
          ...ctx(w),
          now: new Date(),
        });
        const outputs: Array<{ index: number; thumbprint: string; subject: string; format: string; bytes: string }> =
          [];
        const emit = (o: ForwardOutput) =>
          outputs.push({
            index: o.index,
            thumbprint: o.thumbprint,
            subject: o.subject,
            format: o.format,
            bytes: Buffer.from(o.bytes).toString('base64'),
          });
        const r = await forward(opened, w.enclave.keys, emit);
        wipe(opened);
        if (m === 'tamper') {
          const b = Buffer.from(outputs[0]!.bytes, 'base64');
          b[b.length - 5]! ^= 1;
          outputs[0]!.bytes = b.toString('base64');
        }
        if (m === 'swap') [outputs[0]!.bytes, outputs[1]!.bytes] = [outputs[1]!.bytes, outputs[0]!.bytes];
        const delivery = m.startsWith('logged')
          ? { delivery: deliveryFor(w, opened, r.receipt, outputs.length, m) }
          : {};
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ requestDigest: opened.requestDigest, receipt: r.receipt, outputs, ...delivery }));
      } catch (e) {
        const err = e as { code?: string; message?: string; toJSON?: () => unknown };
        res
          .writeHead(403, { 'content-type': 'application/json' })
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
const ROOT_PEM = join(mkdtempSync(join(tmpdir(), 'forward-send-root-')), 'root.pem');
writeFileSync(ROOT_PEM, NSM_PKI.rootPem);
const sha384 = (s: string) => createHash('sha384').update(s).digest('hex');

/** The trust flags `keycast forward` requires: the test root and this enclave's PCR0. */
const trust = (w: World) => ['--trust-root', ROOT_PEM, '--expect-pcr0', toHex(w.enclave.pcr0)];

/**
 * The verified-enclave record a studio would hold for this enclave (receipt key `receipts`): made
 * from a real (simulated) attestation document binding these keys, as keycast verify enclave
 * writes it, so keycast forward can verify it again.
 */
async function record(
  w: World,
  receipts: Uint8Array,
  kdmChain = kdmChainSha256(w.enclave.signerChain.chain),
): Promise<string> {
  const binding = { hpkeX25519: w.enclave.hpke.publicKey, receiptsEd25519: receipts, kdmChainSha256: kdmChain };
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

test("keycast forward: an honest answer is written; a lying host or another enclave's receipt is refused and nothing is written", {
  timeout: 180_000,
}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'forward-send-'));
  const w = await world(3, 1);
  let mode: Mode = 'honest';
  const h = await host(w, () => mode);
  t.after(() => {
    h.server.close();
    h.server.closeAllConnections();
    rmSync(dir, { recursive: true, force: true });
  });
  const f = (n: string) => join(dir, n);
  writeFileSync(
    f('enclave.json'),
    await record(w, new Uint8Array(w.enclave.receipt.publicKey.export({ type: 'spki', format: 'der' }).subarray(-32))),
  );
  const stranger = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'der' }).subarray(-32);
  writeFileSync(f('other-enclave.json'), await record(w, new Uint8Array(stranger)));
  writeFileSync(
    f('other-chain.json'),
    await record(
      w,
      new Uint8Array(w.enclave.receipt.publicKey.export({ type: 'spki', format: 'der' }).subarray(-32)),
      new Uint8Array(32).fill(9),
    ),
  );
  writeFileSync(f('sealed.json'), await sealed(w));
  writeFileSync(f('rules.dsse'), signRules(rules(w), w.studio.privateKey));
  // one PEM bundle: the maker CA (sent as intermediate) and the three projectors
  writeFileSync(
    f('bundle.pem'),
    [w.pki.intermediate, ...w.pki.projectors.map((p) => p.certificate)].map((c) => certificatePem(c.der)).join(''),
  );
  const send = (out: string, extra: string[] = [], enclave = 'enclave.json') =>
    keycast([
      'forward',
      ...trust(w),
      '--host',
      h.url,
      '--enclave',
      f(enclave),
      '--sealed',
      f('sealed.json'),
      '--rules',
      f('rules.dsse'),
      '--recipients',
      f('bundle.pem'),
      '--out',
      f(out),
      '--json',
      ...extra,
    ]);
  const code = (r: { stdout: string }) => (JSON.parse(r.stdout) as { code: string }).code;

  for (const [m, out] of [
    ['tamper', 'o-tamper'],
    ['swap', 'o-swap'],
  ] as const) {
    mode = m;
    const r = await send(out);
    assert.deepEqual([r.code, code(r)], [1, 'RECEIPT_INVALID'], `${m}: ${r.stdout}`);
    assert.equal(existsSync(f(out)), false, `${m}: nothing written`);
  }
  mode = 'honest';
  const foreign = await send('o-foreign', [], 'other-enclave.json');
  assert.deepEqual(
    [foreign.code, code(foreign)],
    [1, 'RECEIPT_INVALID'],
    "a receipt not signed by the verified enclave's key",
  );
  assert.equal(existsSync(f('o-foreign')), false);

  const chain = await send('o-chain', [], 'other-chain.json');
  assert.deepEqual(
    [chain.code, code(chain)],
    [1, 'KDM_SIGNATURE'],
    'KDMs signed with another chain than the attested one',
  );
  assert.equal(existsSync(f('o-chain')), false);
  const kdms = await send('o-kdm');
  assert.equal(kdms.code, 0, kdms.stderr + kdms.stdout);
  assert.match(kdms.stderr, /every KDM carries the attested KDM signer chain/);

  mode = 'silent';
  const silent = await send('o-silent', ['--timeout', '1']);
  assert.equal(silent.code, 6, silent.stdout);
  assert.equal(existsSync(f('o-silent')), false);

  // a host's 503 refusal is the enclave's refusal (exit 5, its code and evidence), not "the host did not answer"
  mode = 'gate-closed';
  const shut = await send('o-shut');
  const shutJson = JSON.parse(shut.stdout) as { error: string; code: string; evidence: Record<string, unknown> };
  assert.equal(shut.code, 5, shut.stdout + shut.stderr);
  // the enclave's own code, end to end, with where it came from as context
  assert.deepEqual([shutJson.error, shutJson.code], ['EnclaveError', 'GATE_CLOSED']);
  assert.equal(shutJson.evidence.status, 503);
  assert.equal(shutJson.evidence.url, new URL('/v1/forward', h.url).href);
  assert.deepEqual(shutJson.evidence.enclaveEvidence, {
    refusal: { code: 'RELEASE_REVOKED', message: 'revoked by entry 3' },
  });
  assert.equal(existsSync(f('o-shut')), false);
  // in text mode the refusal prints its evidence too
  const shutText = await keycast([
    'forward',
    ...trust(w),
    '--host',
    h.url,
    '--enclave',
    f('enclave.json'),
    '--sealed',
    f('sealed.json'),
    '--rules',
    f('rules.dsse'),
    '--recipients',
    f('bundle.pem'),
    '--out',
    f('o-shut-text'),
  ]);
  assert.equal(shutText.code, 5);
  assert.match(shutText.stderr, /GATE_CLOSED: the enclave refused the request: /);
  assert.match(shutText.stderr, /evidence:[\s\S]*"RELEASE_REVOKED"/);
  // a host that is down is named as what could not be reached (not "the log")
  const closed = createServer();
  await new Promise<void>((ok) => closed.listen(0, '127.0.0.1', ok));
  const downUrl = `http://127.0.0.1:${(closed.address() as { port: number }).port}`;
  await new Promise((ok) => closed.close(ok));
  const down = await keycast([
    'forward',
    ...trust(w),
    '--host',
    downUrl,
    '--enclave',
    f('enclave.json'),
    '--sealed',
    f('sealed.json'),
    '--rules',
    f('rules.dsse'),
    '--recipients',
    f('bundle.pem'),
    '--out',
    f('o-down'),
  ]);
  assert.equal(down.code, 6, down.stderr);
  assert.match(down.stderr, /the host at http:\/\/127\.0\.0\.1:\d+\/v1\/forward did not answer: cannot reach the host/);
  assert.doesNotMatch(down.stderr, /the log/);

  // honest, raw format: one RSA-OAEP document per projector, decrypting with its key
  mode = 'honest';
  const ok = await send('o-raw', ['--format', 'raw']);
  assert.equal(ok.code, 0, ok.stderr + ok.stdout);
  assert.match(ok.stderr, /forwarding 3 recipient\(s\) \(1 intermediate CA\(s\), raw-rsa-oaep\)/);
  const files = readdirSync(f('o-raw')).sort();
  assert.deepEqual(files.filter((n) => n.endsWith('.raw.json')).length, 3);
  assert.ok(files.includes('receipt.json') && files.includes('index.json') && files.includes('proofs'));
  const index = JSON.parse(readFileSync(join(f('o-raw'), 'index.json'), 'utf8')) as {
    requestDigest: string;
    batches: Array<{ receipt: string; requestDigest: string; recipients: number }>;
    recipients: Array<{ file: string; receipt: string }>;
  };
  // one batch: today's layout, and every entry names the one receipt
  assert.deepEqual(
    index.batches.map((b) => [b.receipt, b.requestDigest, b.recipients]),
    [['receipt.json', index.requestDigest, 3]],
  );
  assert.ok(index.recipients.every((r) => r.receipt === 'receipt.json'));
  assert.equal(existsSync(join(f('o-raw'), 'receipts')), false);
  assert.equal((JSON.parse(ok.stdout) as { batches: number }).batches, 1);
  for (const [i, r] of index.recipients.entries()) {
    const doc = JSON.parse(readFileSync(join(f('o-raw'), r.file), 'utf8')) as { keys: Array<{ ciphertext: string }> };
    const block = privateDecrypt(
      { key: w.pki.projectors[i]!.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
      Buffer.from(doc.keys[0]!.ciphertext, 'base64'),
    );
    assert.ok(block.includes(Buffer.from(w.contentKeys[0]!.key)), 'projector i decrypts its own document');
  }
  const all = [
    ok.stdout,
    ok.stderr,
    ...readdirSync(f('o-raw'))
      .filter((n) => n !== 'proofs')
      .map((n) => readFileSync(join(f('o-raw'), n), 'latin1')),
  ].join('\n');
  assert.ok(!keySpellings(w).some((s) => all.includes(s)), 'no content key in the outputs');

  // keycast raw open on a raw-rsa-oaep document: the projector's RSA key and certificate open it
  // (no request digest needed); another projector's, or an X25519 key, cannot
  for (const i of [0, 1]) {
    writeFileSync(f(`p${i}.key`), w.pki.projectors[i]!.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    writeFileSync(f(`p${i}.pem`), certificatePem(w.pki.projectors[i]!.certificate.der));
  }
  const rawDoc = join(f('o-raw'), index.recipients[0]!.file);
  const opened = await keycast(['raw', 'open', rawDoc, '--key', f('p0.key'), '--cert', f('p0.pem'), '--json']);
  assert.equal(opened.code, 0, opened.stderr + opened.stdout);
  const view = JSON.parse(opened.stdout) as { format: string; keys: Array<{ key: string }> };
  assert.equal(view.format, 'raw-rsa-oaep');
  assert.deepEqual(
    view.keys.map((k) => k.key),
    w.contentKeys.map((k) => Buffer.from(k.key).toString('hex')),
  );
  const other = await keycast(['raw', 'open', rawDoc, '--key', f('p1.key'), '--cert', f('p1.pem'), '--json']);
  assert.equal(other.code, 1, other.stdout + other.stderr);
  assert.equal((JSON.parse(other.stdout) as { code: string }).code, 'RAW_DELIVERY_BINDING');
  assert.ok(!keySpellings(w).some((k) => (other.stdout + other.stderr).includes(k)), 'a refusal prints no key');
  writeFileSync(f('x.key'), generateKeyPairSync('x25519').privateKey.export({ type: 'pkcs8', format: 'pem' }));
  assert.equal((await keycast(['raw', 'open', rawDoc, '--key', f('x.key'), '--cert', f('p0.pem')])).code, 2);

  // an --out that exists is a usage error, before anything is sent
  mkdirSync(f('exists'));
  assert.equal((await send('exists')).code, 2);
});

test('keycast forward --format raw-hpke: one HPKE document per X25519 receiver, each opening to the keys sent', {
  timeout: 120_000,
}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'forward-send-hpke-'));
  const w = await world(1);
  const rx = createProjectorPki({ count: 2, maker: 'RX-MAKER', keyType: 'x25519', now: w.now });
  const h = await host(w, () => 'honest');
  t.after(() => {
    h.server.close();
    h.server.closeAllConnections();
    rmSync(dir, { recursive: true, force: true });
  });
  const f = (n: string) => join(dir, n);
  writeFileSync(
    f('enclave.json'),
    await record(w, new Uint8Array(w.enclave.receipt.publicKey.export({ type: 'spki', format: 'der' }).subarray(-32))),
  );
  const rxRules = rules(w, {
    recipients: {
      thumbprints: [],
      roots: [Buffer.from(rx.root.der).toString('base64')],
      excluded: [],
      roles: ['SM', 'RX'],
    },
  });
  writeFileSync(f('rules.dsse'), signRules(rxRules, w.studio.privateKey));
  writeFileSync(f('sealed.json'), await sealed(w, { rules: rxRules }));
  writeFileSync(
    f('bundle.pem'),
    [rx.intermediate, ...rx.projectors.map((p) => p.certificate)].map((c) => certificatePem(c.der)).join(''),
  );
  const send = (out: string, format: string) =>
    keycast([
      'forward',
      ...trust(w),
      ...['--host', h.url, '--enclave', f('enclave.json'), '--sealed', f('sealed.json'), '--rules', f('rules.dsse')],
      ...['--recipients', f('bundle.pem'), '--out', f(out), '--format', format, '--json'],
    ]);
  assert.equal((await send('o-bogus', 'raw-aes')).code, 2, 'an unknown format is a usage error');
  assert.equal(existsSync(f('o-bogus')), false);
  const ok = await send('o-hpke', 'raw-hpke');
  assert.equal(ok.code, 0, ok.stderr + ok.stdout);
  assert.match(ok.stderr, /forwarding 2 recipient\(s\) \(1 intermediate CA\(s\), raw-hpke\)/);
  const index = JSON.parse(readFileSync(join(f('o-hpke'), 'index.json'), 'utf8')) as {
    requestDigest: string;
    format: string;
    recipients: Array<{ file: string; thumbprint: string }>;
  };
  assert.equal(index.format, 'raw-hpke');
  assert.equal(index.recipients.length, 2);
  for (const [i, r] of index.recipients.entries()) {
    const bytes = new Uint8Array(readFileSync(join(f('o-hpke'), r.file)));
    assert.ok(!keySpellings(w).some((k) => Buffer.from(bytes).toString('latin1').includes(k)));
    const opened = await openRawHpkeDelivery(bytes, rx.projectors[i]!.privateKey, {
      recipient: r.thumbprint,
      cplId: rxRules.film.cplId,
      requestDigest: index.requestDigest,
    });
    assert.deepEqual(
      opened.keys.map((k) => Buffer.from(k.key).toString('hex')),
      w.contentKeys.map((k) => Buffer.from(k.key).toString('hex')),
    );
  }
  // keycast raw open: the receiver's side, from its key and certificate files
  for (const [i, p] of rx.projectors.entries()) {
    writeFileSync(f(`rx${i}.key`), p.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    writeFileSync(f(`rx${i}.pem`), certificatePem(p.certificate.der));
  }
  const rawOpen = (file: string, i: number, digest = index.requestDigest, extra: string[] = []) =>
    keycast(
      ['raw', 'open', join(f('o-hpke'), file), '--key', f(`rx${i}.key`), '--cert', f(`rx${i}.pem`)].concat([
        '--request-digest',
        digest,
        '--json',
        ...extra,
      ]),
    );
  const first = index.recipients[0]!.file;
  const opened = await rawOpen(first, 0, index.requestDigest, ['--cpl', rxRules.film.cplId]);
  assert.equal(opened.code, 0, opened.stderr + opened.stdout);
  assert.deepEqual(
    (JSON.parse(opened.stdout) as { keys: Array<{ key: string }> }).keys.map((k) => k.key),
    w.contentKeys.map((k) => Buffer.from(k.key).toString('hex')),
  );
  for (const r of [
    await rawOpen(first, 1), // another receiver's key and certificate
    await rawOpen(first, 0, 'ee'.repeat(32)), // presented as the answer to another request
    await rawOpen(first, 0, index.requestDigest, ['--cpl', 'urn:uuid:00000000-0000-4000-8000-000000000000']),
  ]) {
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.equal((JSON.parse(r.stdout) as { code: string }).code, 'RAW_DELIVERY_BINDING');
    assert.ok(!keySpellings(w).some((k) => (r.stdout + r.stderr).includes(k)), 'a refusal prints no key');
  }

  // the RSA projectors of a KDM-only PKI are refused in a raw-hpke request: exit 5, nothing written
  writeFileSync(f('rsa.pem'), certificatePem(w.pki.projectors[0]!.certificate.der));
  writeFileSync(f('ca.pem'), certificatePem(w.pki.intermediate.der));
  const rsaRules = rules(w, {
    recipients: {
      thumbprints: [],
      roots: [w.pki.root, rx.root].map((c) => Buffer.from(c.der).toString('base64')),
      excluded: [],
      roles: ['SM', 'RX'],
    },
  });
  writeFileSync(f('rules-rsa.dsse'), signRules(rsaRules, w.studio.privateKey));
  writeFileSync(f('sealed-rsa.json'), await sealed(w, { rules: rsaRules }));
  const refused = await keycast([
    'forward',
    ...trust(w),
    ...[
      '--host',
      h.url,
      '--enclave',
      f('enclave.json'),
      '--sealed',
      f('sealed-rsa.json'),
      '--rules',
      f('rules-rsa.dsse'),
    ],
    ...['--recipients', f('rsa.pem'), '--intermediate', f('ca.pem'), '--out', f('o-rsa')],
    ...['--format', 'raw-hpke', '--json'],
  ]);
  assert.equal(refused.code, 5, refused.stdout + refused.stderr);
  assert.equal(JSON.parse(refused.stdout).code, 'FORWARD_RECIPIENT_NOT_ALLOWED');
  assert.equal(existsSync(f('o-rsa')), false);
});

test('keycast forward --batch: several requests, one receipt each; a lie or refusal in the last batch writes nothing', {
  timeout: 180_000,
}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'forward-send-batch-'));
  const w = await world(7, 1);
  const seen: number[] = [];
  let lieAt = 0; // the request (from 1) whose answer is tampered with; 0: none
  const h = await host(w, () => (seen.length === lieAt ? 'tamper' : 'honest'), seen);
  t.after(() => {
    h.server.close();
    h.server.closeAllConnections();
    rmSync(dir, { recursive: true, force: true });
  });
  const f = (...n: string[]) => join(dir, ...n);
  const receiptKey = w.enclave.receipt.publicKey;
  writeFileSync(
    f('enclave.json'),
    await record(w, new Uint8Array(receiptKey.export({ type: 'spki', format: 'der' }).subarray(-32))),
  );
  writeFileSync(f('receipt-key.pem'), receiptKey.export({ type: 'spki', format: 'pem' }));
  writeFileSync(f('sealed.json'), await sealed(w));
  writeFileSync(f('rules.dsse'), signRules(rules(w), w.studio.privateKey));
  // the 7th projector excluded: the enclave refuses it, as recipient 0 of the last batch
  const last = certificateThumbprint(w.pki.projectors[6]!.certificate);
  const excluding = rules(w, { recipients: { ...rules(w).recipients, excluded: [last] } });
  writeFileSync(f('rules-excluding.dsse'), signRules(excluding, w.studio.privateKey));
  writeFileSync(f('sealed-excluding.json'), await sealed(w, { rules: excluding }));
  const pems = (order: number[]) =>
    [w.pki.intermediate, ...order.map((i) => w.pki.projectors[i]!.certificate)]
      .map((c) => certificatePem(c.der))
      .join('');
  writeFileSync(f('bundle.pem'), pems([0, 1, 2, 3, 4, 5, 6]));
  writeFileSync(f('twice.pem'), pems([0, 1, 2, 3, 0]));
  const send = (out: string, extra: string[], o: { rules?: string; recipients?: string; sealed?: string } = {}) =>
    keycast([
      'forward',
      ...trust(w),
      ...['--host', h.url, '--enclave', f('enclave.json'), '--sealed', f(o.sealed ?? 'sealed.json')],
      ...['--rules', f(o.rules ?? 'rules.dsse'), '--recipients', f(o.recipients ?? 'bundle.pem')],
      ...['--out', f(out), '--json', ...extra],
    ]);
  const leftovers = () => readdirSync(dir).filter((n) => n.includes('.partial-'));

  // bad --batch values are usage errors, before anything is sent
  for (const b of ['0', 'abc', '-3', '100001']) {
    const r = await send('o-usage', ['--batch', b]);
    assert.equal(r.code, 2, `--batch ${b}: ${r.stdout}${r.stderr}`);
  }
  // a certificate listed twice (across batches: the enclave could not see it) is refused whole
  const twice = await send('o-twice', ['--batch', '3'], { recipients: 'twice.pem' });
  assert.equal(twice.code, 2, twice.stdout + twice.stderr);
  assert.match(twice.stdout + twice.stderr, /recipient 4 .* same certificate as recipient 0/);
  assert.deepEqual(seen, [], 'nothing was sent');
  assert.equal(existsSync(f('o-usage')) || existsSync(f('o-twice')), false);

  // 7 recipients, --batch 3: requests of 3, 3 and 1, each with its own verified receipt
  const ok = await send('o', ['--batch', '3']);
  assert.equal(ok.code, 0, ok.stderr + ok.stdout);
  assert.deepEqual(seen, [3, 3, 1]);
  assert.match(ok.stderr, /in 3 batches of at most 3/);
  assert.match(ok.stderr, /batch 3\/3 \(recipients 6–6\): every KDM carries the attested KDM signer chain/);
  assert.match(ok.stderr, /batch 2\/3: 3 recipient\(s\), receipt verified/);
  const sum = JSON.parse(ok.stdout) as {
    recipients: number;
    batches: number;
    receipts: Array<{ receipt: string; requestDigest: string; recipients: number; root: string }>;
  };
  assert.deepEqual([sum.recipients, sum.batches], [7, 3]);
  assert.deepEqual(
    sum.receipts.map((r) => [r.receipt, r.recipients]),
    [
      ['receipts/0001.json', 3],
      ['receipts/0002.json', 3],
      ['receipts/0003.json', 1],
    ],
  );
  assert.equal(existsSync(f('o', 'receipt.json')), false);
  const index = JSON.parse(readFileSync(f('o', 'index.json'), 'utf8')) as {
    requestDigest?: string;
    batches: Array<{ receipt: string; requestDigest: string; recipients: number; root: string }>;
    recipients: Array<{ index: number; thumbprint: string; file: string; proof: string; receipt: string }>;
  };
  assert.equal(index.requestDigest, undefined, 'several batches: the digests are in batches');
  assert.deepEqual(
    index.batches,
    sum.receipts.map((b) => ({
      receipt: b.receipt,
      requestDigest: b.requestDigest,
      recipients: b.recipients,
      root: b.root,
    })),
  );
  assert.equal(new Set(index.batches.map((b) => b.requestDigest)).size, 3);
  assert.deepEqual(
    index.recipients.map((r) => [r.index, r.thumbprint, r.receipt]),
    w.pki.projectors.map((p, i) => [
      i,
      certificateThumbprint(p.certificate),
      `receipts/000${Math.floor(i / 3) + 1}.json`,
    ]),
  );
  const receipts = new Map(
    index.batches.map((b) => [
      b.receipt,
      openReceipt(readFileSync(f('o', b.receipt)), new Uint8Array(receiptKey.export({ type: 'spki', format: 'der' }))),
    ]),
  );
  for (const r of index.recipients) {
    const proof = parseDeliveryProof(readFileSync(f('o', r.proof)));
    const bytes = new Uint8Array(readFileSync(f('o', r.file)));
    checkDelivery(receipts.get(r.receipt)!, proof, bytes); // throws unless it is in its receipt
    assert.equal(proof.index, r.index % 3, 'a proof counts within its batch');
    // and not in another batch's receipt
    const other = index.batches.find((b) => b.receipt !== r.receipt)!.receipt;
    assert.throws(() => checkDelivery(receipts.get(other)!, proof, bytes), { code: 'RECEIPT_INVALID' });
  }
  // the studio's CLI proves the last recipient's delivery from index.json's receipt field
  const seventh = index.recipients[6]!;
  const rv = await keycast([
    'receipt',
    'verify',
    f('o', seventh.receipt),
    '--receipt-key',
    f('receipt-key.pem'),
    '--delivery',
    f('o', seventh.file),
    '--proof',
    f('o', seventh.proof),
  ]);
  assert.equal(rv.code, 0, rv.stdout + rv.stderr);
  assert.match(rv.stdout, /1 kdm deliveries/);
  assert.match(rv.stdout, /is in the receipt/);

  // the last batch's answer is tampered with: the first two were fine, yet nothing is written
  seen.length = 0;
  lieAt = 3;
  const lie = await send('o-lie', ['--batch', '3']);
  assert.deepEqual([lie.code, (JSON.parse(lie.stdout) as { code: string }).code], [1, 'RECEIPT_INVALID'], lie.stderr);
  assert.deepEqual(seen, [3, 3, 1]);
  assert.match(lie.stdout, /batch 3\/3/);
  assert.equal(existsSync(f('o-lie')), false);
  assert.deepEqual(leftovers(), []);
  lieAt = 0;

  // the enclave refuses the last batch, naming its recipient 0: reported as recipient 6 of the list
  seen.length = 0;
  const refused = await send('o-refused', ['--batch', '3'], {
    rules: 'rules-excluding.dsse',
    sealed: 'sealed-excluding.json',
  });
  assert.equal(refused.code, 5, refused.stdout + refused.stderr);
  assert.deepEqual(seen, [3, 3, 1]);
  const rj = JSON.parse(refused.stdout) as {
    code: string;
    evidence: {
      recipient: { index: number; thumbprint: string };
      batch: { number: number; of: number; first: number };
      enclaveEvidence: { index: number };
    };
  };
  assert.equal(rj.code, 'FORWARD_RECIPIENT_NOT_ALLOWED');
  assert.deepEqual([rj.evidence.recipient.index, rj.evidence.recipient.thumbprint], [6, last]);
  assert.deepEqual([rj.evidence.batch.number, rj.evidence.batch.of, rj.evidence.batch.first], [3, 3, 6]);
  assert.equal(rj.evidence.enclaveEvidence.index, 0, "the enclave's own words count within the batch");
  assert.match(refused.stderr, /refused FORWARD_RECIPIENT_NOT_ALLOWED for recipient 6 \(/);
  assert.equal(existsSync(f('o-refused')), false);
  assert.deepEqual(leftovers(), []);
  assert.ok(!keySpellings(w).some((k) => (refused.stdout + refused.stderr + lie.stdout + lie.stderr).includes(k)));
});

test('keycast forward from a transparent enclave: the delivery is checked on the log before anything is written', {
  timeout: 180_000,
}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'forward-logged-'));
  const w = await world(3, 1);
  let mode: Mode = 'logged';
  const h = await host(w, () => mode);
  t.after(() => {
    h.server.close();
    h.server.closeAllConnections();
    rmSync(dir, { recursive: true, force: true });
  });
  const f = (n: string) => join(dir, n);
  writeFileSync(
    f('enclave.json'),
    await record(w, new Uint8Array(w.enclave.receipt.publicKey.export({ type: 'spki', format: 'der' }).subarray(-32))),
  );
  writeFileSync(f('sealed.json'), await sealed(w));
  writeFileSync(f('rules.dsse'), signRules(rules(w), w.studio.privateKey));
  writeFileSync(
    f('bundle.pem'),
    [w.pki.intermediate, ...w.pki.projectors.map((p) => p.certificate)].map((c) => certificatePem(c.der)).join(''),
  );
  const send = (out: string, extra: string[] = ['--log-key', LOG.vkey]) =>
    keycast([
      'forward',
      ...trust(w),
      '--host',
      h.url,
      '--enclave',
      f('enclave.json'),
      '--sealed',
      f('sealed.json'),
      '--rules',
      f('rules.dsse'),
      '--recipients',
      f('bundle.pem'),
      '--out',
      f(out),
      '--json',
      ...extra,
    ]);

  // honest: every output gets its .logged.json proof, naming the entry
  const ok = await send('o-logged');
  assert.equal(ok.code, 0, ok.stderr + ok.stdout);
  assert.match(ok.stderr, /the delivery is on the log at index \d+/);
  const index = JSON.parse(readFileSync(join(f('o-logged'), 'index.json'), 'utf8')) as {
    batches: Array<{ logIndex: number }>;
    recipients: Array<{ file: string; thumbprint: string; logged: string }>;
  };
  assert.equal(index.recipients.length, 3);
  for (const r of index.recipients) {
    const p = parseKdmLoggedProof(readFileSync(join(f('o-logged'), r.logged)));
    assert.equal(p.entryIndex, index.batches[0]!.logIndex);
    assert.equal(p.delivery.thumbprint, r.thumbprint);
    checkDelivery(
      { recipients: 3, root: rootOf(f('o-logged')) },
      p.delivery,
      readFileSync(join(f('o-logged'), r.file)),
    );
  }

  // forged deliveries: nothing written, DELIVERY_NOT_LOGGED (exit 1)
  for (const [m, why] of [
    ['logged-other-signer', 'an entry signed by another key than the enclave receipt key'],
    ['logged-other-root', "the enclave's entry for other deliveries"],
    ['logged-foreign-log', 'a checkpoint signed by a log key nobody pinned'],
  ] as const) {
    mode = m;
    const r = await send(`o-${m}`);
    assert.equal(r.code, 1, `${why}: ${r.stdout}`);
    assert.equal((JSON.parse(r.stdout) as { code: string }).code, 'DELIVERY_NOT_LOGGED', why);
    assert.equal(existsSync(f(`o-${m}`)), false, `${why}: nothing written`);
  }
  // an honest delivery cannot be checked without the log key: refused, nothing written
  mode = 'logged';
  const noKey = await send('o-nokey', []);
  assert.equal(noKey.code, 1, noKey.stdout);
  assert.match(noKey.stdout, /DELIVERY_NOT_LOGGED[\s\S]*--log-key/);
  assert.equal(existsSync(f('o-nokey')), false);
});

/** The root of the receipt keycast forward wrote in `dir`. */
function rootOf(dir: string): string {
  const env = JSON.parse(readFileSync(join(dir, 'receipt.json'), 'utf8')) as { payload: string };
  return (JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8')) as { root: string }).root;
}
