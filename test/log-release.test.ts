/**
 * The log with its real admission policy (verifier/src/release) over loopback: signed release
 * bundles are admitted, the TransparencyLogEntry the log answers makes the bundle verify with
 * stock @sigstore/verify given the log's TrustedRoot, revocations follow the revocation rule,
 * and tampered/unknown/ill-typed bundles are refused with codes while nothing is stored.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { noteVerifier, verifyReleaseBundleWithSigstore, verifyTlogProof } from '#verifier';
import { fromBase64, trustedRootForLog } from '#verifier/build';
import { createLog } from '../log-server/index.ts';
import { listenLog, newPublisher, releaseBundle, releaseFields, revocationBundle } from './log-fixtures.ts';

const ORIGIN = 'releases.keycast.test/log';

async function start(t: { after: (fn: () => unknown) => void }, allowed: string[]) {
  const dir = mkdtempSync(join(tmpdir(), 'keycast-release-'));
  createLog(dir, ORIGIN);
  const { log, url } = await listenLog(t, dir, allowed, dir);
  const add = async (body: string) => {
    const r = await fetch(`${url}/add-entry`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    return { status: r.status, json: await r.json() };
  };
  return { url, log, add };
}

test('a published release verifies with stock @sigstore/verify against the log TrustedRoot, and lookups prove it', async (t) => {
  const pub = newPublisher();
  const { url, log, add } = await start(t, [pub.publicPem]);
  const bundle = releaseBundle(pub, 'v1');
  const r = await add(bundle);
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.equal(r.json.index, 0);
  const published = JSON.parse(bundle);
  published.verificationMaterial.tlogEntries = [r.json.transparencyLogEntry];
  const root = trustedRootForLog({ origin: ORIGIN, logPublicKey: log.key.publicKey });
  const v = verifyReleaseBundleWithSigstore(published, root, { publicKey: pub.publicPem });
  assert.equal(v.entry.pcr0, releaseFields('v1').pcr0);
  // Tampering with the proof the log returned is caught by the same check.
  const bad = structuredClone(published);
  bad.verificationMaterial.tlogEntries[0].inclusionProof.logIndex = '1';
  assert.throws(() => verifyReleaseBundleWithSigstore(bad, root, { publicKey: pub.publicPem }));

  const dup = await add(bundle);
  assert.equal(dup.json.index, 0);
  const look = await (await fetch(`${url}/lookup/pcr0/${releaseFields('v1').pcr0}`)).json();
  verifyTlogProof(look.proof, {
    leaf: fromBase64(look.entry),
    logVerifier: noteVerifier(log.key.vkey),
    origin: ORIGIN,
  });
  assert.equal((await fetch(`${url}/lookup/commit/${releaseFields('v1').commit}`)).status, 200);
  assert.equal((await fetch(`${url}/lookup/eif/${releaseFields('v1').eif}`)).status, 200);
});

test('revocation: only a named release with the right PCR0, only by an allowed publisher or its signer', async (t) => {
  const pub = newPublisher();
  const stranger = newPublisher();
  const { url, add } = await start(t, [pub.publicPem]);
  const rel = await add(releaseBundle(pub, 'r1'));
  const pcr0 = releaseFields('r1').pcr0;
  const byStranger = await add(revocationBundle(stranger, rel.json.index, pcr0));
  assert.equal(byStranger.status, 403);
  assert.equal(byStranger.json.code, 'SIGNER_NOT_ALLOWED');
  const wrongPcr = await add(revocationBundle(pub, rel.json.index, releaseFields('other').pcr0));
  assert.equal(wrongPcr.status, 422, JSON.stringify(wrongPcr.json));
  const beyond = await add(revocationBundle(pub, 99, pcr0));
  assert.equal(beyond.status, 422);
  const ok = await add(revocationBundle(pub, rel.json.index, pcr0));
  assert.equal(ok.status, 200, JSON.stringify(ok.json));
  const twice = await add(revocationBundle(pub, rel.json.index, pcr0, 'again'));
  assert.equal(twice.status, 422);
  assert.equal(twice.json.code, 'REVOCATION_TARGET');
  const look = await (await fetch(`${url}/lookup/pcr0/${pcr0}`)).json();
  assert.equal(look.status, 'revoked');
  assert.equal(look.revokedBy, ok.json.index);
});

test('tampered, unknown-signer, ill-typed and malformed bundles are refused with codes; nothing is stored', async (t) => {
  const pub = newPublisher();
  const other = newPublisher();
  const { log, add } = await start(t, [pub.publicPem]);
  const good = JSON.parse(releaseBundle(pub, 'x'));
  const tamperedPayload = structuredClone(good);
  const stmt = JSON.parse(Buffer.from(good.dsseEnvelope.payload, 'base64').toString());
  stmt.predicate.builder.version = 'evil-1.0';
  tamperedPayload.dsseEnvelope.payload = Buffer.from(JSON.stringify(stmt)).toString('base64');
  const tamperedSig = structuredClone(good);
  const sig = Buffer.from(good.dsseEnvelope.signatures[0].sig, 'base64');
  sig[sig.length - 1]! ^= 1;
  tamperedSig.dsseEnvelope.signatures[0].sig = sig.toString('base64');
  const wrongType = structuredClone(good);
  wrongType.dsseEnvelope.payload = Buffer.from(
    JSON.stringify({ ...stmt, predicateType: 'https://slsa.dev/provenance/v1' }),
  ).toString('base64');
  const cases: Array<[string, string, number[]]> = [
    ['tampered payload', JSON.stringify(tamperedPayload), [403, 422]],
    ['tampered signature', JSON.stringify(tamperedSig), [403, 422]],
    ['unknown signer', releaseBundle(other, 'x'), [403]],
    ['wrong statement type', JSON.stringify(wrongType), [403, 422]],
    ['malformed JSON', '{"mediaType":', [400]],
    ['not a bundle', '[1,2,3]', [400, 422]],
    ['duplicate keys', '{"mediaType":"a","mediaType":"b"}', [400, 422]],
  ];
  for (const [what, body, statuses] of cases) {
    const r = await add(body);
    assert.ok(statuses.includes(r.status), `${what}: ${r.status} ${JSON.stringify(r.json)}`);
    assert.equal(typeof r.json.code, 'string', what);
    assert.notEqual(r.json.code, 'INTERNAL', what);
  }
  assert.equal(log.storage.entryCount(), 0);
  assert.equal((await add(JSON.stringify(good))).status, 200);
});
