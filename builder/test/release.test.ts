/**
 * The builder's release path: signRelease with @sigstore/sign's DSSEBundleBuilder
 * and a local P-256 key (offline), publishRelease against an in-process log, revocations and
 * rebuild attestations, and the refusals: bad keys and sources, a log that refuses, a log that
 * lies about the entry or is not the pinned log, a busy log.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { verifyEntryBundle, verifyReleaseBundleWithSigstore, isVerifierError, parseVerifierKey } from '#verifier';
import { trustedRootForLog, fromBase64, toBase64 } from '#verifier/build';
import { isBuilderError, type BuilderErrorCode } from '../src/errors.ts';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSigningKey, readSigningKeyFile } from '../src/release/keys.ts';
import { signRelease, signRevocation, signRebuild } from '../src/release/release.ts';
import { publishRelease, readLoggedEntry } from '../src/release/publish.ts';
import { parseSourceRef } from '../src/release/statement.ts';
import { measurementsFromJson } from '../src/release/cli-input.ts';
import { FakeLog } from './release-fake-log.ts';

const key = generateSigningKey();
const pcrs = { pcr0: '0'.repeat(96), pcr1: '1'.repeat(96), pcr2: '2'.repeat(96) };
const source = parseSourceRef(`https://github.com/keycast/demo@${'ab'.repeat(20)}`);
const eifBytes = Buffer.from('not really an EIF, but bytes with a digest');

function release(keyPem = key.privateKeyPem, over: Record<string, unknown> = {}) {
  return signRelease({
    eifBytes,
    measurements: pcrs,
    source,
    lockBytes: Buffer.from('{"lock":1}'),
    builderVersion: 'keycast/0.1.0',
    keyPem,
    ...over,
  });
}

async function rejectsWith(p: Promise<unknown> | (() => unknown), code: BuilderErrorCode): Promise<void> {
  await assert.rejects(
    async () => (typeof p === 'function' ? p() : p),
    (e: unknown) => {
      assert.ok(isBuilderError(e), `expected BuilderError ${code}, got ${String(e)}`);
      assert.equal(e.code, code, e.message);
      return true;
    },
  );
}

test('signRelease makes a v0.3 DSSE bundle the log admits, carrying the PCRs, source and digests', async () => {
  const bundle = await release();
  assert.equal(bundle.mediaType, 'application/vnd.dev.sigstore.bundle.v0.3+json');
  const e = verifyEntryBundle(JSON.stringify(bundle), { allowedSigners: [key.publicKeyPem] });
  assert.equal(e.kind, 'release');
  assert.equal(e.pcr0, pcrs.pcr0);
  assert.equal(e.commit, 'ab'.repeat(20));
  assert.equal(e.eifSha256, createHash('sha256').update(eifBytes).digest('hex'));
  const p = e.statement.predicate as { lock: { sha256: string }; builder: { version: string } };
  assert.match(p.lock.sha256, /^[0-9a-f]{64}$/);
  assert.equal(p.builder.version, 'keycast/0.1.0');
  // a fresh signature each time (ECDSA), but the statement is the same
  const again = verifyEntryBundle(JSON.stringify(await release()), { allowedSigners: [key.publicKeyPem] });
  assert.deepEqual(again.statement, e.statement);
});

test('bad keys, sources and inputs are refused before signing', async () => {
  await rejectsWith(release('not a key'), 'KEY_INVALID');
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
    .privateKey.export({ format: 'pem', type: 'pkcs8' })
    .toString();
  await rejectsWith(release(rsa), 'KEY_INVALID');
  await rejectsWith(async () => parseSourceRef('https://github.com/a/b'), 'SOURCE_INVALID');
  await assert.rejects(
    release(key.privateKeyPem, { source: parseSourceRef('git@github.com:a/b@' + 'a'.repeat(40)) }),
    (e: unknown) => isVerifierError(e, 'PREDICATE_INVALID'),
  );
  await assert.rejects(release(key.privateKeyPem, { measurements: { ...pcrs, pcr0: 'zz' } }), (e: unknown) =>
    isVerifierError(e, 'PREDICATE_INVALID'),
  );
  await rejectsWith(release(key.privateKeyPem, { measurements: undefined }), 'MEASUREMENTS_MISSING');
  await rejectsWith(release(key.privateKeyPem, { eifSha256: 'f'.repeat(64) }), 'EIF_MISSING');
  await rejectsWith(release(key.privateKeyPem, { lockBytes: undefined }), 'LOCK_MISSING');
});

test('publishRelease writes back the log entry; stock @sigstore/verify accepts the result', async () => {
  const log = new FakeLog([key.publicKeyPem]);
  const signed = await release();
  const r = await publishRelease(log.url, signed, {
    fetch: log.fetch,
    log: { origin: log.origin, publicKey: log.publicKey },
  });
  assert.equal(r.index, 1);
  assert.equal(r.duplicate, false);
  const tles = (r.bundle.verificationMaterial as { tlogEntries: unknown[] }).tlogEntries;
  assert.equal(tles.length, 1);
  const v = verifyReleaseBundleWithSigstore(
    r.bundle,
    trustedRootForLog({ origin: log.origin, logPublicKey: log.publicKey }),
    { publicKey: key.publicKeyPem },
  );
  assert.equal(v.entry.pcr0, pcrs.pcr0);
  assert.equal(v.tlogEntries[0]!.logIndex, 1);
  // publishing the same bundle again is a duplicate at the same index
  const again = await publishRelease(log.url, signed, { fetch: log.fetch });
  assert.equal(again.index, 1);
  assert.equal(again.duplicate, true);
  // the signed input is not mutated
  assert.equal((signed.verificationMaterial as { tlogEntries?: unknown[] }).tlogEntries?.length ?? 0, 0);
});

test('a log that refuses, lies, is not the pinned log, or is busy', async () => {
  const log = new FakeLog([generateSigningKey().publicKeyPem]);
  const signed = await release();
  await rejectsWith(publishRelease(log.url, signed, { fetch: log.fetch }), 'PUBLISH_REFUSED');
  const open = new FakeLog([key.publicKeyPem]);
  const other = await release(key.privateKeyPem, { builderVersion: 'other/1' });
  const otherLeaf = verifyEntryBundle(other, { allowedSigners: [key.publicKeyPem] }).leaf;
  open.tamper = (a) => {
    a.transparencyLogEntry.canonicalizedBody = toBase64(otherLeaf);
  };
  await rejectsWith(publishRelease(open.url, signed, { fetch: open.fetch }), 'PUBLISH_BAD_ANSWER');
  open.tamper = (a) => {
    a.leafHash = '00'.repeat(32);
  };
  await rejectsWith(publishRelease(open.url, signed, { fetch: open.fetch }), 'PUBLISH_BAD_ANSWER');
  open.tamper = (a) => {
    a.transparencyLogEntry.logIndex = '9';
  };
  await rejectsWith(publishRelease(open.url, signed, { fetch: open.fetch }), 'PUBLISH_BAD_ANSWER');
  open.tamper = undefined;
  const impostor = new FakeLog([key.publicKeyPem]);
  await rejectsWith(
    publishRelease(open.url, signed, {
      fetch: open.fetch,
      log: { origin: impostor.origin, publicKey: impostor.publicKey },
    }),
    'PUBLISH_BAD_ANSWER',
  );
  open.busy = 2;
  const before = open.requests;
  const r = await publishRelease(open.url, signed, { fetch: open.fetch });
  assert.equal(open.requests - before, 3);
  assert.ok(r.index >= 1);
  const down = (async () => {
    throw new TypeError('fetch failed');
  }) as unknown as typeof fetch;
  const retried: number[] = [];
  await rejectsWith(
    publishRelease(open.url, signed, { fetch: down, retries: 2, onRetry: (e) => retried.push(e.attempt) }),
    'PUBLISH_UNREACHABLE',
  );
  assert.deepEqual(retried, [1, 2], 'each retry is reported');
});

test('revocations and rebuild attestations go through the same path', async () => {
  const rebuilder = generateSigningKey();
  const log = new FakeLog([key.publicKeyPem], [rebuilder.publicKeyPem]);
  const r = await publishRelease(log.url, await release(), { fetch: log.fetch });
  const logged = await readLoggedEntry(log.url, r.index, { fetch: log.fetch });
  assert.equal(logged.kind, 'release');
  const rev = await signRevocation({
    logIndex: r.index,
    pcr0: logged.pcr0,
    reason: 'superseded by a fixed runtime',
    keyPem: key.privateKeyPem,
  });
  const pr = await publishRelease(log.url, rev, { fetch: log.fetch });
  assert.equal(pr.index, 2);
  // a revocation naming the wrong PCR0 is refused by the log
  const wrong = await signRevocation({
    logIndex: r.index,
    pcr0: '9'.repeat(96),
    reason: 'x',
    keyPem: key.privateKeyPem,
  });
  await rejectsWith(publishRelease(log.url, wrong, { fetch: log.fetch }), 'PUBLISH_REFUSED');
  const rb = await signRebuild({
    eifBytes,
    measurements: pcrs,
    source,
    lockDigest: 'c'.repeat(64),
    builderVersion: 'studio-rebuilder/2',
    releaseIndex: r.index,
    keyPem: rebuilder.privateKeyPem,
  });
  assert.equal((await publishRelease(log.url, rb, { fetch: log.fetch })).index, 3);
  await rejectsWith(readLoggedEntry(log.url, 99, { fetch: log.fetch }), 'PUBLISH_REFUSED');
});

test('PCR files: nitro-cli, pcr.json and Keycast shapes', () => {
  const upper = { PCR0: 'A'.repeat(96), PCR1: 'b'.repeat(96), PCR2: 'c'.repeat(96) };
  assert.equal(
    measurementsFromJson({ Measurements: { HashAlgorithm: 'Sha384 { ... }', ...upper } }).pcr0,
    'a'.repeat(96),
  );
  assert.equal(measurementsFromJson({ HashAlgorithm: 'Sha384 { ... }', ...upper }).pcr1, 'b'.repeat(96));
  assert.equal(measurementsFromJson({ ...pcrs, pcr8: '8'.repeat(96) }).pcr8, '8'.repeat(96));
  assert.throws(
    () => measurementsFromJson({ PCR0: 'a'.repeat(96) }),
    (e: unknown) => isVerifierError(e, 'PREDICATE_INVALID'),
  );
  assert.ok(parseVerifierKey(new FakeLog([]).vkey).publicKey.length === 32);
  assert.equal(fromBase64(toBase64(Uint8Array.of(1))).length, 1);
});

test('a signing key file readable by group or others is refused (KEY_INVALID), before its key is used', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'keycast-key-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'release.pem');
  const { privateKeyPem } = generateSigningKey();
  writeFileSync(file, privateKeyPem, { mode: 0o600 });
  assert.equal(readSigningKeyFile(file), privateKeyPem.trim());
  for (const mode of [0o644, 0o640, 0o604]) {
    chmodSync(file, mode);
    assert.throws(
      () => readSigningKeyFile(file),
      (e: unknown) => isBuilderError(e, 'KEY_INVALID') && e.evidence.mode === mode && !e.message.includes('PRIVATE'),
    );
  }
  chmodSync(file, 0o600);
  writeFileSync(file, Uint8Array.of(0xff, 0xfe));
  assert.throws(
    () => readSigningKeyFile(file),
    (e: unknown) => isBuilderError(e, 'KEY_INVALID'),
  );
  assert.throws(
    () => readSigningKeyFile(join(dir, 'missing.pem')),
    (e: unknown) => (e as { code?: string }).code === 'ENOENT',
  ); // exit 6, as before
});
