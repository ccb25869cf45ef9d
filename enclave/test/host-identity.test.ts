/**
 * The host's first boot against real enclaves (in-process, on loopback HTTP, simulated NSM, the
 * in-memory KMS core) and a real directory store (issue 23, issue 16 low):
 *
 *  - four enclaves of the same image and their four hosts boot at once on one store: every one
 *    generates a pending identity, exactly one host creates identity.json, the other three
 *    unseal the winner's — one identity served by all four, and it is the stored one;
 *  - a host that dies between the enclave's "pending" and storing it leaves an enclave that
 *    serves no identity (no attestation, nothing a studio could seal to); the next host stores
 *    that same pending identity and confirms it, and a restart unseals it;
 *  - during a log outage the host says what the enclave says: its gate open, the round's code
 *    LOG_UNREACHABLE, /v1/status 200.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ProofBundle } from '#verifier';
import { formatEnclaveConfig } from '#verifier/build';
import { bootEnclave, SimulatedNsm, memoryKms, createTestPki, type BootedEnclave } from '../index.ts';
import { EnclaveError } from '../common/errors.ts';
import { Host, IDENTITY_ARTEFACT } from '../host/host.ts';
import { EnclaveClient } from '../host/enclave-client.ts';
import { DirStore, type ArtefactStore } from '../host/store.ts';
import { buildHostApp } from '../host/server.ts';
import type { ProofSource } from '../host/proof-source.ts';
import { ADMIN, ENCLAVE_ROLE, attestedPolicy } from './kms-fixtures.ts';
import { GateWorld, measurements } from '#test-kit';

const pki = createTestPki();
const image = measurements('host-identity');

async function world(t: import('node:test').TestContext) {
  const w = new GateWorld();
  const index = w.publish(image);
  const kms = memoryKms(ENCLAVE_ROLE, { trustedRoots: [pki.rootDer] });
  const key = await kms.core.createKey(ADMIN, { policy: attestedPolicy([image.pcr0]) });
  const config = formatEnclaveConfig(w.config({ kms: { keyArn: key.Arn, region: 'us-east-1' } }));
  const dir = mkdtempSync(join(tmpdir(), 'keycast-host-identity-'));
  const booted: BootedEnclave[] = [];
  t.after(async () => {
    for (const e of booted) await e.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const enclave = async () => {
    const e = await bootEnclave({
      nsm: new SimulatedNsm({ pki, pcrs: image }),
      kms: kms.port,
      configBytes: config,
      now: () => w.now,
      recheckMs: 0,
      attestationRoots: [pki.rootDer],
    });
    booted.push(e);
    const url = await e.app.listen({ host: '127.0.0.1', port: 0 });
    // four first boots share this process's one thread: RSA key generation blocks it for seconds
    return { e, client: new EnclaveClient(url, fetch, 180_000) };
  };
  const source: ProofSource = { bundleFor: async (): Promise<ProofBundle> => w.bundle(index) };
  return { w, dir, enclave, source };
}

const status = async (c: EnclaveClient) => (await c.status()).body;

test('four first boots at once on one store end with one identity, the stored one', async (t) => {
  const { dir, enclave, source } = await world(t);
  const four = await Promise.all([0, 1, 2, 3].map(() => enclave()));
  // every host reaches the create-once step with its enclave's pending identity before any stores
  let arrived = 0;
  let release!: () => void;
  const all = new Promise<void>((r) => (release = r));
  const racing = (s: ArtefactStore): ArtefactStore => ({
    where: s.where,
    get: (k) => s.get(k),
    put: (k, b) => s.put(k, b),
    putIfAbsent: async (k, b) => {
      if (++arrived === 4) release();
      await all;
      return s.putIfAbsent(k, b);
    },
  });
  const hosts = four.map((x) => new Host({ enclave: x.client, source, store: racing(new DirStore(dir)) }));
  const outcomes = await Promise.all(hosts.map((h) => h.refresh()));
  assert.equal(arrived, 4, `all four generated a pending identity: ${JSON.stringify(outcomes)}`);
  assert.deepEqual(outcomes.map((o) => o.identity).sort(), ['created', 'unsealed', 'unsealed', 'unsealed']);
  assert.ok(outcomes.every((o) => o.gateOpen && o.code === null));
  const served = await Promise.all(four.map((x) => status(x.client)));
  assert.ok(served.every((s) => s.identity.ready));
  assert.equal(new Set(served.map((s) => s.identity.hpkeX25519)).size, 1, 'one identity across the four');
  // and it is the one in the store: a fifth instance unseals it to the same keys
  const stored = JSON.parse(readFileSync(join(dir, IDENTITY_ARTEFACT), 'utf8'));
  const fifth = await enclave();
  await fifth.client.gate((await source.bundleFor('', null)) as ProofBundle);
  const r = await fifth.client.identity(stored);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal((r.body.identity as { hpkeX25519: string }).hpkeX25519, served[0]!.identity.hpkeX25519);
});

test('a host killed during first boot leaves no served identity; the next host stores and confirms that one', async (t) => {
  const { dir, enclave, source } = await world(t);
  const a = await enclave();
  const disk = new DirStore(dir);
  let reached!: () => void;
  const atStore = new Promise<void>((r) => (reached = r));
  // the host dies right before it stores the sealed identity: its putIfAbsent never returns
  const dying: ArtefactStore = {
    where: disk.where,
    get: (k) => disk.get(k),
    put: () => new Promise(() => {}),
    putIfAbsent: () => {
      reached();
      return new Promise(() => {});
    },
  };
  void new Host({ enclave: a.client, source, store: dying }).refresh();
  await atStore;
  const s = await status(a.client);
  assert.equal(s.gate.open, true);
  assert.equal(s.identity.ready, false, 'an unstored identity is not served');
  const att = await a.client.attestation('ee'.repeat(16));
  assert.equal(att.status, 503);
  assert.equal(att.body?.code, 'IDENTITY_NOT_READY');
  assert.equal(await disk.get(IDENTITY_ARTEFACT), null);

  // the restarted host: the same pending identity is stored, confirmed, then served
  const pending = (await a.client.identity({})).body as { identity: { hpkeX25519: string } };
  const out = await new Host({ enclave: a.client, source, store: disk }).refresh();
  assert.equal(out.identity, 'created');
  const served = await status(a.client);
  assert.equal(served.identity.hpkeX25519, pending.identity.hpkeX25519);
  // a restart of the enclave unseals exactly that identity from the store
  const b = await enclave();
  assert.equal((await new Host({ enclave: b.client, source, store: disk }).refresh()).identity, 'unsealed');
  assert.equal((await status(b.client)).identity.hpkeX25519, pending.identity.hpkeX25519);
});

test('during a log outage the host reports the enclave’s open gate and the log’s code, not a shut door', async (t) => {
  const { dir, enclave, source } = await world(t);
  const a = await enclave();
  let down = false;
  const flaky: ProofSource = {
    bundleFor: async (pcr0, held) => {
      if (down) throw new EnclaveError('LOG_UNREACHABLE', 'the log did not answer');
      return source.bundleFor(pcr0, held);
    },
  };
  const host = new Host({ enclave: a.client, source: flaky, store: new DirStore(dir) });
  assert.equal((await host.refresh()).gateOpen, true);
  down = true;
  const out = await host.refresh();
  assert.deepEqual([out.gateOpen, out.code, out.identity], [true, 'LOG_UNREACHABLE', 'ready']);
  const app = buildHostApp({
    host,
    enclave: a.client,
    logUrl: 'http://log.invalid',
    storeWhere: dir,
    store: new DirStore(dir),
  });
  const r = await app.inject({ method: 'GET', url: '/v1/status' });
  assert.equal(r.statusCode, 200);
  assert.equal(r.json().enclave.gate.open, true);
  assert.equal(r.json().host.lastRefresh.gateOpen, true);
  assert.equal(r.json().host.lastRefresh.code, 'LOG_UNREACHABLE');
  await app.close();
});
