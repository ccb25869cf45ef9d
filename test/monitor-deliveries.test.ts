/**
 * `keycast monitor --deliveries` (issue 19): a studio lists every delivery under rules it signed,
 * with the recipients only its audit key reveals, and is alarmed (exit 1) when a delivery breaks
 * its rules or the record: a manifest sealed to another key or not matching its root, a recipient
 * the rules do not allow, a delivery outside the forwarding window, more recipients across batches
 * than maxRecipients, a delivery from an enclave no identity registered or whose release was
 * revoked before it (a log operator writing entries past its own admission).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  deliveryEntryLeaf,
  hashLeaf,
  keyFingerprint,
  rulesDigest,
  signDeliveryEntry,
  signRules,
  toBase64,
  type ForwardRules,
} from '#verifier';
import { run } from './cli-capture.ts';
import {
  CPL,
  auditPublicKey,
  identityAddEntryBody,
  makeDelivery,
  newEnclave,
  randomRecipients,
  startDeliveryLog,
  type DeliveryLog,
  type Enclave,
} from './delivery-fixtures.ts';

const DAY = 86_400_000;
const iso = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
const kdmT = (ms: number) => iso(ms).replace('Z', '+00:00');

interface Studio {
  key: KeyObject;
  pub: string;
  audit: KeyObject;
  auditFile: string;
  rulesKeyFile: string;
}

function studio(dir: string, name: string): Studio {
  const key = generateKeyPairSync('ed25519').privateKey;
  const audit = generateKeyPairSync('x25519').privateKey;
  const rulesKeyFile = join(dir, `${name}.pub`);
  const auditFile = join(dir, `${name}-audit.key`);
  const pem = createPublicKey(key).export({ type: 'spki', format: 'pem' }).toString();
  writeFileSync(rulesKeyFile, pem);
  writeFileSync(auditFile, audit.export({ type: 'pkcs8', format: 'pem' }));
  return { key, pub: pem, audit, auditFile, rulesKeyFile };
}

function rulesFor(s: Studio, thumbprints: string[], over: Partial<ForwardRules> = {}): ForwardRules {
  const t = Date.now();
  return {
    type: 'keycast-forward-rules/v2',
    film: { cplId: CPL, title: 'Monitor Test Film' },
    contentKeyIds: ['urn:uuid:aaaaaaaa-2222-4333-8444-555555555555'],
    kdmWindow: { notBefore: kdmT(t + DAY), notAfter: kdmT(t + 15 * DAY) },
    forwardFrom: iso(t - DAY),
    forwardUntil: iso(t + 10 * DAY),
    recipients: { thumbprints, roots: [], excluded: [], roles: ['SM'] },
    formats: ['kdm'],
    limits: { maxKdmValidityDays: 30, maxRecipients: 100 },
    audit: { hpkeX25519: toBase64(auditPublicKey(s.audit)) },
    ...over,
  };
}

function signed(s: Studio, r: ForwardRules) {
  return {
    rules: signRules(r, s.key),
    rulesDigest: rulesDigest(r),
    rulesSigner: keyFingerprint(s.key),
    auditKey: auditPublicKey(s.audit),
  };
}

async function world(t: { after: (f: () => Promise<void> | void) => void }) {
  const dir = mkdtempSync(join(tmpdir(), 'keycast-mondel-'));
  const log = await startDeliveryLog();
  t.after(async () => {
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const rel = await log.release('a');
  const enclave = newEnclave(log.pki, rel.pcr0, rel.index);
  const r = await log.post(identityAddEntryBody(enclave.attest()));
  assert.equal(r.status, 200);
  return { dir, log, enclave, rel };
}

async function logged(log: DeliveryLog, body: string): Promise<number> {
  const r = await log.post(body);
  assert.equal(r.status, 200, JSON.stringify(r.json));
  return r.json.index as number;
}

const monitor = (log: DeliveryLog, s: Studio, extra: string[] = []) =>
  run([
    'monitor',
    '--deliveries',
    '--log',
    log.url,
    '--log-key',
    log.vkey,
    '--rules-key',
    s.rulesKeyFile,
    '--audit-key',
    s.auditFile,
    '--once',
    '--json',
    ...extra,
  ]);

test('monitor --deliveries: every delivery under the studio rules, with its projectors; others not shown', async (t) => {
  const { dir, log, enclave } = await world(t);
  const s = studio(dir, 'studio');
  const other = studio(dir, 'other');
  const people = randomRecipients(5);
  const r = rulesFor(
    s,
    people.map((p) => p.thumbprint),
  );
  // the studio's own forward, and a third party's with the same signed rules
  const first = await makeDelivery(enclave, { ...signed(s, r), recipients: people.slice(0, 2) });
  const i1 = await logged(log, first.body);
  const i2 = await logged(log, (await makeDelivery(enclave, { ...signed(s, r), recipients: people.slice(2) })).body);
  // another studio's delivery is not this studio's business
  const theirs = rulesFor(
    other,
    people.map((p) => p.thumbprint),
  );
  await logged(log, (await makeDelivery(enclave, { ...signed(other, theirs), recipients: people.slice(0, 1) })).body);

  const out = await monitor(log, s);
  assert.equal(out.code, 0, out.stdout + out.stderr);
  const j = JSON.parse(out.stdout);
  assert.deepEqual(j.alarms, []);
  assert.deepEqual(
    j.deliveries.map((d: { index: number }) => d.index),
    [i1, i2],
  );
  const d = j.deliveries[0];
  assert.equal(d.count, 2);
  assert.deepEqual(d.recipients, people.slice(0, 2));
  assert.equal(d.enclave.pcr0, enclave.pcr0);
  assert.equal(d.enclave.receiptKey, first.entry.receiptKey);
  assert.equal(new Date(d.time).toISOString(), d.time);
  assert.deepEqual(j.deliveries[1].recipients, people.slice(2));
  // --cpl narrows to one film; --csv gives one row per recipient
  assert.equal(
    JSON.parse((await monitor(log, s, ['--cpl', 'ffffffff-2222-4333-8444-555555555555'])).stdout).deliveries.length,
    0,
  );
  assert.equal(JSON.parse((await monitor(log, s, ['--cpl', CPL.slice(9)])).stdout).deliveries.length, 2);
  const csv = await run([
    'monitor',
    '--deliveries',
    '--log',
    log.url,
    '--log-key',
    log.vkey,
    '--rules-key',
    s.rulesKeyFile,
    '--audit-key',
    s.auditFile,
    '--csv',
  ]);
  assert.equal(csv.code, 0);
  assert.equal(csv.stdout.trim().split('\n').length, 1 + 5);
  // the other studio's key does not open this studio's manifests, and sees only its own delivery
  const theirView = JSON.parse((await monitor(log, other)).stdout);
  assert.equal(theirView.deliveries.length, 1);
  // the release monitor reads identity and delivery entries as valid entries, and reports the identity
  const plain = await run(['monitor', '--log', log.url, '--log-key', log.vkey, '--once', '--json', '--state', dir]);
  assert.equal(plain.code, 0, plain.stdout);
  const events = JSON.parse(plain.stdout).events as Array<{ type: string; pcr0?: string }>;
  assert.deepEqual(
    events.map((e) => e.type),
    ['release', 'identity'],
  );
  // flags: a wrong audit key file is a usage error
  const bad = await run([
    'monitor',
    '--deliveries',
    '--log',
    log.url,
    '--log-key',
    log.vkey,
    '--rules-key',
    s.rulesKeyFile,
    '--audit-key',
    s.rulesKeyFile,
  ]);
  assert.equal(bad.code, 2);
});

test('monitor --deliveries alarms on a manifest sealed to another audit key', async (t) => {
  const { dir, log, enclave } = await world(t);
  const s = studio(dir, 'studio');
  const people = randomRecipients(4);
  const r = rulesFor(
    s,
    people.map((p) => p.thumbprint),
    { limits: { maxKdmValidityDays: 30, maxRecipients: 3 } },
  );
  const codes = async () => {
    const out = await monitor(log, s);
    const j = JSON.parse(out.stdout);
    assert.equal(out.code, j.alarms.length > 0 ? 1 : 0);
    return j.alarms.map((a: { code: string }) => a.code) as string[];
  };
  await logged(log, (await makeDelivery(enclave, { ...signed(s, r), recipients: people.slice(0, 2) })).body);
  assert.deepEqual(await codes(), []);

  // a manifest sealed to another key (a host that swaps the audit key it was given)
  const elsewhere = generateKeyPairSync('x25519').privateKey;
  await logged(
    log,
    (
      await makeDelivery(enclave, {
        ...signed(s, r),
        auditKey: auditPublicKey(elsewhere),
        recipients: people.slice(0, 1),
      })
    ).body,
  );
  assert.deepEqual(await codes(), ['MANIFEST_UNOPENABLE']);
});

test('monitor --deliveries alarms on each broken rule', async (t) => {
  const { dir, log, enclave } = await world(t);
  const s = studio(dir, 'studio');
  const people = randomRecipients(4);
  const r = rulesFor(
    s,
    people.map((p) => p.thumbprint),
    { limits: { maxKdmValidityDays: 30, maxRecipients: 3 } },
  );
  const alarmsAfter = async (body: string) => {
    const fresh = await startDeliveryLog({ pki: log.pki });
    t.after(() => fresh.close());
    const rel = await fresh.release('a');
    assert.equal(rel.index, enclave.releaseIndex);
    assert.equal((await fresh.post(identityAddEntryBody(enclave.attest()))).status, 200);
    await logged(fresh, body);
    const out = await monitor(fresh, s);
    const j = JSON.parse(out.stdout);
    assert.equal(out.code, 1, out.stdout);
    return j.alarms.map((a: { code: string }) => a.code) as string[];
  };
  // a recipient the rules do not list
  const stranger = randomRecipients(1);
  assert.deepEqual(await alarmsAfter((await makeDelivery(enclave, { ...signed(s, r), recipients: stranger })).body), [
    'RECIPIENT_NOT_ALLOWED',
  ]);
  // a delivery after forwardUntil
  const late = iso(Date.parse(r.forwardUntil) + 60_000);
  assert.deepEqual(
    await alarmsAfter(
      (await makeDelivery(enclave, { ...signed(s, r), recipients: people.slice(0, 1), time: late })).body,
    ),
    ['DELIVERY_OUTSIDE_WINDOW'],
  );
  // a manifest that does not reproduce the root the enclave key signed
  const wrongRoot = await makeDelivery(enclave, {
    ...signed(s, r),
    recipients: people.slice(0, 2),
    override: { root: '00'.repeat(32) },
  });
  assert.deepEqual(await alarmsAfter(wrongRoot.body), ['MANIFEST_MISMATCH']);
  // rules signed by someone else, naming the studio as signer
  const forger = studio(dir, 'forger');
  const forged = {
    ...signed(
      forger,
      rulesFor(
        forger,
        people.map((p) => p.thumbprint),
      ),
    ),
    rulesSigner: keyFingerprint(s.key),
  };
  assert.deepEqual(
    await alarmsAfter(
      (await makeDelivery(enclave, { ...forged, auditKey: auditPublicKey(s.audit), recipients: people.slice(0, 1) }))
        .body,
    ),
    ['RULES_SIGNATURE'],
  );

  // more recipients across batches than maxRecipients (3): 2 + 2 distinct
  await logged(log, (await makeDelivery(enclave, { ...signed(s, r), recipients: people.slice(0, 2) })).body);
  await logged(log, (await makeDelivery(enclave, { ...signed(s, r), recipients: people.slice(0, 2) })).body); // same two again: still 2
  assert.equal((await monitor(log, s)).code, 0);
  await logged(log, (await makeDelivery(enclave, { ...signed(s, r), recipients: people.slice(2) })).body);
  const over = JSON.parse((await monitor(log, s)).stdout);
  assert.deepEqual(
    over.alarms.map((a: { code: string }) => a.code),
    ['DELIVERY_OVER_LIMIT'],
  );
  assert.equal(over.alarms[0].evidence.recipients, 4);
});

test('monitor --deliveries alarms on entries a log admitted past its own rules (unregistered, revoked)', async (t) => {
  const { dir, log, enclave, rel } = await world(t);
  const s = studio(dir, 'studio');
  const people = randomRecipients(2);
  const r = rulesFor(
    s,
    people.map((p) => p.thumbprint),
  );
  const sneak = async (e: Enclave) => {
    const d = await makeDelivery(e, { ...signed(s, r), recipients: people });
    // the operator writes the entry (and its manifest) without admission
    await log.log.deliveries.manifests.put(d.entry.manifest.sha256, d.sealed);
    const leaf = deliveryEntryLeaf(signDeliveryEntry(d.entry, e.receipt));
    await log.log.sequencer.submit({ leaf, kind: 'delivery', pcr0: e.pcr0 }, hashLeaf(leaf));
  };
  await sneak(newEnclave(log.pki, enclave.pcr0, enclave.releaseIndex)); // never registered
  let j = JSON.parse((await monitor(log, s)).stdout);
  assert.deepEqual(
    j.alarms.map((a: { code: string }) => a.code),
    ['ENCLAVE_NOT_ACTIVE'],
  );
  assert.equal(j.deliveries[0].enclave.identity, null);

  const clean = await startDeliveryLog({ pki: log.pki });
  t.after(() => clean.close());
  const rel2 = await clean.release('a');
  assert.equal(rel2.index, rel.index);
  assert.equal((await clean.post(identityAddEntryBody(enclave.attest()))).status, 200);
  await clean.revoke(rel.index, rel.pcr0);
  const d = await makeDelivery(enclave, { ...signed(s, r), recipients: people });
  await clean.log.deliveries.manifests.put(d.entry.manifest.sha256, d.sealed);
  const leaf = deliveryEntryLeaf(d.envelope);
  await clean.log.sequencer.submit({ leaf, kind: 'delivery', pcr0: enclave.pcr0 }, hashLeaf(leaf));
  j = JSON.parse((await monitor(clean, s)).stdout);
  assert.deepEqual(
    j.alarms.map((a: { code: string }) => a.code),
    ['ENCLAVE_NOT_ACTIVE'],
  );
  assert.equal(j.alarms[0].evidence.revokedBy, rel.index + 2);
});
