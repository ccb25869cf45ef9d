/**
 * `keycast verify attestation` end to end (the CLI as users run it) and the --log check:
 * a real document verifies at its own time, refusals exit 1 with the code as JSON, and with a
 * Keycast-log-shaped HTTP server (a C2SP tlog built from the verifier's own primitives) the
 * document's PCR0 must be a logged, unrevoked release under the pinned log key.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { noteVerifier, parseBundle, parseTrustedKey, verifyLoggedPcr0, isVerifierError } from '../index.ts';
import {
  MemoryTree,
  generateNoteKey,
  noteSigner,
  signNote,
  formatCheckpoint,
  proveInclusion,
  formatTlogProof,
  encodeLeaf,
  toBase64,
  toHex,
  utf8,
  cosignatureSigner,
  cosignatureVerifierKey,
} from '../build.ts';
import { makeTestPki, issueDocument, pcrs, NITRO } from './attestation-fixtures.ts';
import { makeBundle, newKey, releaseStatement, revocationStatement } from './release-fixtures.ts';

const BIN = resolve(import.meta.dirname, '../../bin/keycast.mjs');
const tmp = mkdtempSync(join(tmpdir(), 'keycast-att-'));

function keycast(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { timeout: 60_000, env: { ...process.env, XDG_STATE_HOME: join(tmp, 'state') } },
      (err, stdout, stderr) => done({ code: err ? (typeof err.code === 'number' ? err.code : 70) : 0, stdout, stderr }),
    );
  });
}

// ----- a tiny log holding a release of our simulated document's PCR0 -----
const NOW = Date.UTC(2026, 0, 1);
const pki = makeTestPki(NOW);
const PCRS = pcrs((i) => 0x40 + i);
const doc = issueDocument(pki, NOW, { pcrs: PCRS });
const pcr0 = toHex(PCRS.get(0)!);
const origin = 'log.keycast.test/releases';
const logKey = generateNoteKey(origin);
const signerKey = newKey();
const releaseLeaf = encodeLeaf(
  parseBundle(
    makeBundle(
      releaseStatement({ measurements: { pcr0, pcr1: toHex(PCRS.get(1)!), pcr2: toHex(PCRS.get(2)!) } }),
      signerKey,
    ),
  ),
  parseTrustedKey(signerKey.pem),
);
const otherLeaf = encodeLeaf(parseBundle(makeBundle(releaseStatement(), signerKey)), parseTrustedKey(signerKey.pem));
const revocationLeaf = encodeLeaf(
  parseBundle(makeBundle(revocationStatement(1, pcr0), signerKey)),
  parseTrustedKey(signerKey.pem),
);
const tree = new MemoryTree();
tree.append(utf8('filler'));
const INDEX = tree.append(releaseLeaf);
tree.append(otherLeaf);
tree.append(revocationLeaf);
const note = signNote(formatCheckpoint({ origin, size: tree.size, rootHash: tree.root(), extensions: [] }), [
  noteSigner(logKey.skey),
]);
const answer = (index: number, leaf: Uint8Array, status = 'active') => ({
  index,
  status,
  entry: toBase64(leaf),
  proof: formatTlogProof({ index, proof: proveInclusion(index, tree.size, tree.hashReader()), checkpoint: note }),
});
const opts = { logVerifier: noteVerifier(logKey.vkey), origin };

test('verifyLoggedPcr0: a logged release of this PCR0 passes; revoked, other-PCR0, mismatched and malformed answers are refused', () => {
  assert.equal(verifyLoggedPcr0(answer(INDEX, releaseLeaf), PCRS.get(0)!, opts).index, INDEX);
  assert.throws(
    () => verifyLoggedPcr0(answer(INDEX, releaseLeaf, 'revoked'), PCRS.get(0)!, opts),
    (e: unknown) => isVerifierError(e, 'RELEASE_REVOKED'),
  );
  assert.throws(
    () => verifyLoggedPcr0(answer(2, otherLeaf), PCRS.get(0)!, opts),
    (e: unknown) => isVerifierError(e, 'PCR_MISMATCH') && e.evidence.index === 2,
  );
  assert.throws(
    () => verifyLoggedPcr0(answer(3, revocationLeaf), PCRS.get(0)!, opts),
    (e: unknown) => isVerifierError(e, 'PCR_MISMATCH') && e.evidence.kind === 'revocation',
  );
  // the entry is not the leaf the proof is for
  assert.throws(
    () => verifyLoggedPcr0({ ...answer(INDEX, releaseLeaf), entry: toBase64(otherLeaf) }, PCRS.get(0)!, opts),
    (e: unknown) => isVerifierError(e),
  );
  assert.throws(
    () => verifyLoggedPcr0({ ...answer(INDEX, releaseLeaf), index: 2 }, PCRS.get(0)!, opts),
    (e: unknown) => isVerifierError(e, 'PROOF_INVALID'),
  );
  // a checkpoint under another key
  assert.throws(
    () =>
      verifyLoggedPcr0(answer(INDEX, releaseLeaf), PCRS.get(0)!, {
        logVerifier: noteVerifier(generateNoteKey(origin).vkey),
        origin,
      }),
    (e: unknown) => isVerifierError(e),
  );
  for (const bad of [
    null,
    [],
    { index: -1 },
    { ...answer(INDEX, releaseLeaf), status: 'fine' },
    { ...answer(INDEX, releaseLeaf), entry: '%%%' },
  ])
    assert.throws(
      () => verifyLoggedPcr0(bad, PCRS.get(0)!, opts),
      (e: unknown) => isVerifierError(e, 'MALFORMED'),
    );
});

function serve(status: string, checkpoint = note): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    if (req.url === '/checkpoint') res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end(checkpoint);
    else if (req.url === `/lookup/pcr0/${pcr0}`) {
      const a = answer(INDEX, releaseLeaf, status);
      a.proof = formatTlogProof({
        index: INDEX,
        proof: proveInclusion(INDEX, tree.size, tree.hashReader()),
        checkpoint,
      });
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(a));
    } else res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"NOT_FOUND"}');
  });
  return new Promise((ok) =>
    server.listen(0, '127.0.0.1', () =>
      ok({ server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}` }),
    ),
  );
}

const docFile = join(tmp, 'doc.cbor');
writeFileSync(docFile, doc.bytes);
const rootFile = join(tmp, 'root.pem');
writeFileSync(rootFile, new X509Certificate(pki.root.der).toString());
const base = ['verify', 'attestation', docFile, '--trust-root', rootFile, '--at', String(NOW + 60_000), '--json'];

test('CLI: a real document verifies at its own time (base64 file), and is refused as JSON when a PCR differs', async () => {
  const real = join(NITRO, 'attestation/marlin-aws-2024-12-13.cbor');
  const b64 = join(tmp, 'real.b64');
  const { readFileSync } = await import('node:fs');
  writeFileSync(b64, readFileSync(real).toString('base64') + '\n');
  const ok = await keycast(['verify', 'attestation', b64, '--at', 'document', '--any-pcr', '--json']);
  assert.equal(ok.code, 0, ok.stderr);
  const out = JSON.parse(ok.stdout);
  assert.equal(out.moduleId, 'i-0f1cd77d37fd8bcc9-enc018e7aa61e2040ff');
  assert.equal(
    out.pcrs['0'],
    '189038eccf28a3a098949e402f3b3d86a876f4915c5b02d546abb5d8c507ceb1755b8192d8cfca66e8f226160ca4c7a6',
  );
  const bad = await keycast([
    'verify',
    'attestation',
    real,
    '--at',
    'document',
    '--expect-pcr',
    `1=${'00'.repeat(48)}`,
    '--json',
  ]);
  assert.equal(bad.code, 1);
  assert.deepEqual([JSON.parse(bad.stdout).code, JSON.parse(bad.stdout).evidence.pcr], ['PCR_MISMATCH', 1]);
  assert.equal((await keycast(['verify', 'attestation', real, '--expect-pcr', '40=00'])).code, 2);
});

test('CLI --log: logged → 0, revoked → RELEASE_REVOKED, unknown → RELEASE_NOT_LOGGED, no test root → ROOT_UNTRUSTED', async () => {
  const active = await serve('active');
  const revoked = await serve('revoked');
  try {
    const ok = await keycast([...base, '--log', active.url, '--log-key', logKey.vkey]);
    assert.equal(ok.code, 0, ok.stderr + ok.stdout);
    assert.deepEqual(JSON.parse(ok.stdout).log, { index: INDEX, status: 'active', treeSize: 4, origin, cosigners: [] });
    const rev = await keycast([...base, '--log', revoked.url, '--log-key', logKey.vkey]);
    assert.deepEqual([rev.code, JSON.parse(rev.stdout).code], [1, 'RELEASE_REVOKED']);
    const other = issueDocument(pki, NOW); // default PCRs: not logged
    writeFileSync(join(tmp, 'other.cbor'), other.bytes);
    const missing = await keycast([
      'verify',
      'attestation',
      join(tmp, 'other.cbor'),
      '--trust-root',
      rootFile,
      '--at',
      String(NOW + 60_000),
      '--json',
      '--log',
      active.url,
      '--log-key',
      logKey.vkey,
    ]);
    assert.deepEqual([missing.code, JSON.parse(missing.stdout).code], [1, 'RELEASE_NOT_LOGGED']);
    const untrusted = await keycast([
      'verify',
      'attestation',
      docFile,
      '--at',
      String(NOW + 60_000),
      '--any-pcr',
      '--json',
    ]);
    assert.deepEqual([untrusted.code, JSON.parse(untrusted.stdout).code], [1, 'ROOT_UNTRUSTED']);
  } finally {
    active.server.close();
    revoked.server.close();
  }
});

test('CLI --log: an unreachable log or an HTTP failure is exit 3 with a coded LOG_* error; text output prints the code once', async () => {
  const { createServer: httpServer } = await import('node:http');
  const closed = httpServer();
  await new Promise<void>((ok) => closed.listen(0, '127.0.0.1', ok));
  const deadUrl = `http://127.0.0.1:${(closed.address() as { port: number }).port}`;
  await new Promise((ok) => closed.close(ok)); // nothing listens there now
  const failing = httpServer((_req, res) => res.writeHead(500).end('boom'));
  await new Promise<void>((ok) => failing.listen(0, '127.0.0.1', ok));
  try {
    const down = await keycast([...base, '--log', deadUrl, '--log-key', logKey.vkey]);
    assert.deepEqual([down.code, JSON.parse(down.stdout).code], [3, 'LOG_UNAVAILABLE']);
    const url = `http://127.0.0.1:${(failing.address() as { port: number }).port}`;
    const http = await keycast([...base, '--log', url, '--log-key', logKey.vkey]);
    assert.equal(http.code, 3, http.stderr);
    assert.match(JSON.parse(http.stdout).code, /^LOG_(UNAVAILABLE|REFUSED)$/);
    const text = await keycast(base.filter((a) => a !== '--json').concat(['--log', url, '--log-key', logKey.vkey]));
    assert.equal(text.code, 3);
    assert.match(text.stderr, /^keycast: (LOG_\w+): /m);
    assert.doesNotMatch(text.stderr, /(LOG_\w+): \1/);
  } finally {
    failing.close();
  }
});

test('CLI --log --witness: the checkpoint must be cosigned by the pinned witnesses, recently; flags are checked', async () => {
  const witness = generateNoteKey('witness.keycast.test/w1');
  const stranger = generateNoteKey('witness.keycast.test/w2');
  const wv = cosignatureVerifierKey(witness.skey);
  const nowS = Math.floor(Date.now() / 1000);
  const cosigned = (at: number) => {
    const text = formatCheckpoint({ origin, size: tree.size, rootHash: tree.root(), extensions: [] });
    return signNote(text, [noteSigner(logKey.skey), cosignatureSigner(witness.skey, () => at)]);
  };
  const fresh = await serve('active', cosigned(nowS));
  const stale = await serve('active', cosigned(nowS - 7200));
  const plain = await serve('active');
  try {
    const log = ['--log', fresh.url, '--log-key', logKey.vkey];
    const ok = await keycast([...base, ...log, '--witness', wv]);
    assert.equal(ok.code, 0, ok.stderr + ok.stdout);
    assert.deepEqual(JSON.parse(ok.stdout).log.cosigners, [{ name: 'witness.keycast.test/w1', timestamp: nowS }]);
    const other = await keycast([...base, ...log, '--witness', cosignatureVerifierKey(stranger.skey)]);
    assert.deepEqual([other.code, JSON.parse(other.stdout).code], [1, 'WITNESS_POLICY']);
    const unwitnessed = await keycast([...base, '--log', plain.url, '--log-key', logKey.vkey, '--witness', wv]);
    assert.deepEqual([unwitnessed.code, JSON.parse(unwitnessed.stdout).code], [1, 'WITNESS_POLICY']);
    const old = await keycast([
      ...base,
      '--log',
      stale.url,
      '--log-key',
      logKey.vkey,
      '--witness',
      wv,
      '--max-checkpoint-age',
      '600',
    ]);
    assert.equal(old.code, 1);
    assert.ok(['CHECKPOINT_STALE', 'WITNESS_POLICY'].includes(JSON.parse(old.stdout).code), old.stdout);
    assert.equal((await keycast([...base, '--witness', wv])).code, 2, '--witness without --log');
    assert.equal(
      (await keycast([...base, ...log, '--witness', wv, '--witness-threshold', '2'])).code,
      2,
      'threshold above the witnesses given',
    );
    assert.equal((await keycast([...base, ...log, '--max-checkpoint-age', '60'])).code, 2, 'age without a witness');
  } finally {
    fresh.server.close();
    stale.server.close();
    plain.server.close();
  }
});

test('CLI reads user files with caps: an oversized DOC is refused before it is read, a directory is a coded I/O error', async () => {
  const { openSync, ftruncateSync, closeSync, mkdirSync } = await import('node:fs');
  // A sparse 1 GiB file: without the size check first it would be read (and decoded) whole.
  const huge = join(tmp, 'huge.cbor');
  const fd = openSync(huge, 'w');
  ftruncateSync(fd, 1024 ** 3);
  closeSync(fd);
  const big = await keycast([...base.slice(0, 2), huge, ...base.slice(3), '--any-pcr']);
  assert.equal(big.code, 1, big.stderr);
  assert.deepEqual([JSON.parse(big.stdout).code, JSON.parse(big.stdout).evidence.size], ['OVERSIZED', 1024 ** 3]);
  const dir = join(tmp, 'a-directory');
  mkdirSync(dir);
  const isDir = await keycast(['verify', 'attestation', dir, '--any-pcr']);
  assert.equal(isDir.code, 6, isDir.stderr);
  assert.match(isDir.stderr, /DOC .*a-directory: is a directory/);
  assert.doesNotMatch(isDir.stderr, /\n\s+at /, 'no stack trace');
  const asJson = await keycast(['verify', 'attestation', dir, '--any-pcr', '--json']);
  assert.deepEqual(
    [asJson.code, JSON.parse(asJson.stdout).code, JSON.parse(asJson.stdout).error],
    [6, 'EISDIR', 'IoError'],
  );
  // the same for the other files the command reads
  const rootDir = await keycast(['verify', 'attestation', docFile, '--trust-root', dir, '--any-pcr', '--json']);
  assert.deepEqual([rootDir.code, JSON.parse(rootDir.stdout).code], [6, 'EISDIR']);
  const keyDir = await keycast([...base, '--log', 'http://127.0.0.1:9', '--log-key', dir]);
  assert.deepEqual([keyDir.code, JSON.parse(keyDir.stdout).code], [6, 'EISDIR']);
  const hugeRoot = await keycast(['verify', 'attestation', docFile, '--trust-root', huge, '--any-pcr', '--json']);
  assert.deepEqual([hugeRoot.code, JSON.parse(hugeRoot.stdout).code], [1, 'OVERSIZED']);
  const hugeKey = await keycast([...base, '--log', 'http://127.0.0.1:9', '--log-key', huge]);
  assert.deepEqual([hugeKey.code, JSON.parse(hugeKey.stdout).code], [1, 'OVERSIZED']);
});

test('readUserFile: reads at most the cap, refuses a missing file with a coded error', async () => {
  const { readUserFile } = await import('../cli.ts');
  const f = join(tmp, 'small.txt');
  writeFileSync(f, 'hello');
  assert.deepEqual(readUserFile(f, 5, 'x'), utf8('hello'));
  assert.throws(
    () => readUserFile(f, 4, 'x'),
    (e: unknown) => isVerifierError(e, 'OVERSIZED'),
  );
  assert.throws(
    () => readUserFile(join(tmp, 'nope'), 4, 'x'),
    (e: unknown) => (e as { code?: string; name?: string }).code === 'ENOENT' && (e as Error).name === 'IoError',
  );
});

test('CLI: no PCR policy is a usage error unless --any-pcr, which warns; DOC is a file or -, never inline', async () => {
  const none = await keycast([
    'verify',
    'attestation',
    docFile,
    '--trust-root',
    rootFile,
    '--at',
    String(NOW + 60_000),
  ]);
  assert.equal(none.code, 2, none.stderr);
  assert.match(none.stderr, /no PCR policy/);
  const any = await keycast([
    'verify',
    'attestation',
    docFile,
    '--trust-root',
    rootFile,
    '--at',
    String(NOW + 60_000),
    '--any-pcr',
  ]);
  assert.equal(any.code, 0, any.stderr);
  assert.match(any.stderr, /warning: --any-pcr/);
  const both = await keycast(['verify', 'attestation', docFile, '--any-pcr', '--expect-pcr0', pcr0]);
  assert.equal(both.code, 2);
  const pinned = await keycast([
    'verify',
    'attestation',
    docFile,
    '--trust-root',
    rootFile,
    '--at',
    String(NOW + 60_000),
    '--expect-pcr0',
    pcr0,
    '--json',
  ]);
  assert.equal(pinned.code, 0, pinned.stderr);
  assert.doesNotMatch(pinned.stderr, /warning/);
  // stdin with `-`
  const viaStdin = await new Promise<{ code: number; stdout: string }>((done) => {
    const child = execFile(
      process.execPath,
      [
        BIN,
        'verify',
        'attestation',
        '-',
        '--trust-root',
        rootFile,
        '--at',
        String(NOW + 60_000),
        '--expect-pcr0',
        pcr0,
        '--json',
      ],
      (err, stdout) => done({ code: err ? (err.code as number) : 0, stdout }),
    );
    child.stdin!.end(Buffer.from(doc.bytes).toString('base64'));
  });
  assert.equal(viaStdin.code, 0);
  assert.equal(JSON.parse(viaStdin.stdout).pcrs['0'], pcr0);
  // base64 given inline is a missing file now (exit 6, the path named), not a guess
  const inline = await keycast([
    'verify',
    'attestation',
    Buffer.from(doc.bytes).toString('base64').slice(0, 60),
    '--any-pcr',
    '--json',
  ]);
  assert.deepEqual(
    [inline.code, JSON.parse(inline.stdout).code, JSON.parse(inline.stdout).error],
    [6, 'ENOENT', 'IoError'],
  );
  const missing = await keycast(['verify', 'attestation', join(tmp, 'no-such.cbor'), '--any-pcr']);
  assert.equal(missing.code, 6);
  assert.match(missing.stderr, /no-such\.cbor: no such file/);
  assert.doesNotMatch(missing.stderr, /\n\s+at /);
  const badKey = await keycast([...base, '--log', 'http://127.0.0.1:9', '--log-key', join(tmp, 'no-key.vkey')]);
  assert.deepEqual(
    [badKey.code, JSON.parse(badKey.stdout).code, JSON.parse(badKey.stdout).evidence.file],
    [6, 'ENOENT', join(tmp, 'no-key.vkey')],
  );
});

test('CLI --log: a log that is down is retried (each retry on stderr), then exit 3 LOG_UNAVAILABLE; a log answering junk is exit 3', async () => {
  const down = createServer((_req, res) =>
    res
      .writeHead(503, { 'content-type': 'application/json', 'retry-after': '0' })
      .end('{"error":"LogError","code":"PUSHBACK","message":"busy"}'),
  );
  const junk = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>'));
  const url = (s: Server) =>
    new Promise<string>((ok) =>
      s.listen(0, '127.0.0.1', () => ok(`http://127.0.0.1:${(s.address() as { port: number }).port}`)),
    );
  try {
    const r = await keycast([...base, '--log', await url(down), '--log-key', logKey.vkey]);
    assert.equal(r.code, 3, r.stderr);
    assert.deepEqual(
      [JSON.parse(r.stdout).code, JSON.parse(r.stdout).evidence.attempts, JSON.parse(r.stdout).evidence.logCode],
      ['LOG_UNAVAILABLE', 4, 'PUSHBACK'],
    );
    assert.equal(r.stderr.match(/retry \d of 3/g)?.length, 3, r.stderr);
    const j = await keycast([...base, '--log', await url(junk), '--log-key', logKey.vkey]);
    assert.deepEqual([j.code, JSON.parse(j.stdout).code], [3, 'LOG_RESPONSE_INVALID']);
  } finally {
    down.close();
    junk.close();
  }
});

test('CLI --log remembers the log: a second tree of the same size under the same key is LOG_INCONSISTENT, nothing saved', async () => {
  const state = join(tmp, 'memory-state');
  const forked = new MemoryTree();
  for (const l of [utf8('another filler'), releaseLeaf, otherLeaf, revocationLeaf]) forked.append(l);
  const forkNote = signNote(formatCheckpoint({ origin, size: forked.size, rootHash: forked.root(), extensions: [] }), [
    noteSigner(logKey.skey),
  ]);
  const fork = createServer((req, res) => {
    if (req.url === '/checkpoint') res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end(forkNote);
    else res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"NOT_FOUND"}');
  });
  await new Promise<void>((ok) => fork.listen(0, '127.0.0.1', ok));
  const honest = await serve('active');
  try {
    const first = await keycast([...base, '--log', honest.url, '--log-key', logKey.vkey, '--state', state]);
    assert.equal(first.code, 0, first.stderr);
    const { readdirSync, readFileSync } = await import('node:fs');
    const file = join(state, 'checkpoints', readdirSync(join(state, 'checkpoints'))[0]!);
    const saved = readFileSync(file, 'utf8');
    const r = await keycast([
      ...base,
      '--log',
      `http://127.0.0.1:${(fork.address() as { port: number }).port}`,
      '--log-key',
      logKey.vkey,
      '--state',
      state,
    ]);
    assert.equal(r.code, 1, r.stderr);
    const e = JSON.parse(r.stdout);
    assert.equal(e.code, 'LOG_INCONSISTENT');
    assert.deepEqual([e.evidence.older, e.evidence.newer], [saved, forkNote]);
    assert.equal(readFileSync(file, 'utf8'), saved);
  } finally {
    fork.close();
    honest.server.close();
  }
});
