/**
 * Delivery transparency on the PostgreSQL store (issue 19 with issue 21): an identity registered
 * through one server admits deliveries through another, the sealed manifest is in the shared
 * database before the answer (served by every server), and a conflicting entry for the same
 * request is refused whichever server it reaches. Skips (with the reason) without PostgreSQL.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deliveryAddEntryBody, signDeliveryEntry } from '#verifier';
import { createTestPki } from '../enclave/index.ts';
import { addEntry, buildApp, createPgLog, isLogError, openPgLog, releasePolicy } from '../log-server/index.ts';
import { auditPublicKey, identityAddEntryBody, makeDelivery, newEnclave } from './delivery-fixtures.ts';
import { newPublisher, releaseBundle, releaseFields } from './log-fixtures.ts';
import { pgUnavailable, startPgCluster } from './pg-cluster.ts';

const skip = pgUnavailable();

test('deliveries on a shared PostgreSQL log', { skip: skip ?? false, timeout: 120_000 }, async (t) => {
  const cluster = await startPgCluster();
  const tmp = mkdtempSync(join(tmpdir(), 'keycast-pgdel-'));
  t.after(() => {
    cluster.stop();
    rmSync(tmp, { recursive: true, force: true });
  });
  const url = await cluster.database('deliveries');
  const keyFile = join(tmp, 'log.key');
  await createPgLog(url, 'pg.keycast.test/deliveries', keyFile);
  const publisher = newPublisher();
  const pki = createTestPki();
  const open = () =>
    openPgLog(url, keyFile, {
      policy: releasePolicy({ allowedSigners: [publisher.publicPem], workers: 0 }),
      pollMs: 50,
      trustRoots: [pki.rootDer],
    });
  const a = await open();
  const b = await open();
  t.after(async () => {
    await a.close();
    await b.close();
  });
  const rel = await addEntry(a, releaseBundle(publisher, 'pg'));
  const enclave = newEnclave(pki, releaseFields('pg').pcr0, rel.index);
  const id = await addEntry(a, identityAddEntryBody(enclave.attest()));
  const audit = generateKeyPairSync('x25519');
  const d = await makeDelivery(enclave, {
    auditKey: auditPublicKey(audit.privateKey),
    rules: '{}',
    rulesDigest: 'cd'.repeat(32),
    rulesSigner: 'ef'.repeat(32),
  });
  // through the other server, which catches up with the identity A just integrated
  const r = await addEntry(b, d.body);
  assert.ok(r.index > id.index);
  for (const log of [a, b]) {
    const app = await buildApp({ log });
    try {
      const m = await app.inject(`/delivery-manifest/${d.entry.manifest.sha256}`);
      assert.equal(m.statusCode, 200);
      assert.deepEqual(new Uint8Array(m.rawPayload), d.sealed);
    } finally {
      await app.close();
    }
  }
  assert.equal((await addEntry(a, d.body)).index, r.index, 'a duplicate through either server');
  await assert.rejects(
    addEntry(a, deliveryAddEntryBody(signDeliveryEntry({ ...d.entry, count: 1 }, enclave.receipt), d.sealed)),
    (e) => isLogError(e, 'DELIVERY_CONFLICT'),
  );
});
