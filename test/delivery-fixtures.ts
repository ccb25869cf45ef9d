/**
 * Fixtures for the delivery-transparency tests (issue 19): an enclave identity (receipt and HPKE
 * keys bound in an attestation document from the NSM simulator's test PKI), delivery entries it
 * signs with their sealed manifests, and a SQLite log (real release policy, the test PKI's root as
 * the identity trust root) served in-process.
 */
import { createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DeliveryTree,
  auditPublicKey,
  cplIdDigest,
  deliveryAddEntryBody,
  formatIdentityBinding,
  fromHex,
  identityAddEntryBody,
  keyFingerprint,
  receiptKeyBase64,
  sealManifest,
  signDeliveryEntry,
  toBase64,
  toHex,
  utf8,
  type DeliveryEntry,
  type DeliveryManifest,
  type SignedEnvelope,
} from '#verifier';
import { createTestPki, issueAttestationDocument, type TestPki } from '../enclave/index.ts';
import { buildApp, createLog, openLog, releasePolicy, type Log } from '../log-server/index.ts';
import { newPublisher, releaseBundle, releaseFields, revocationBundle, type Publisher } from './log-fixtures.ts';

export const CPL = 'urn:uuid:11111111-2222-4333-8444-555555555555';

export interface Enclave {
  receipt: KeyObject;
  hpke: Uint8Array;
  pcr0: string;
  releaseIndex: number;
  /** a fresh attestation document binding the keys (default: now, this PKI) */
  attest(o?: { pki?: TestPki; timestamp?: number; pcr0?: string }): Uint8Array;
}

export function newEnclave(pki: TestPki, pcr0: string, releaseIndex: number): Enclave {
  const receipt = generateKeyPairSync('ed25519').privateKey;
  const hpke = new Uint8Array(randomBytes(32));
  return {
    receipt,
    hpke,
    pcr0,
    releaseIndex,
    attest(o = {}) {
      const p = o.pki ?? pki;
      const pcrs = new Map<number, Uint8Array>();
      for (let i = 0; i < 16; i++) pcrs.set(i, new Uint8Array(48).fill(i === 1 || i === 2 ? i : 0));
      pcrs.set(0, fromHex(o.pcr0 ?? pcr0));
      const spki = new Uint8Array(createPublicKey(receipt).export({ format: 'der', type: 'spki' }));
      return issueAttestationDocument({
        pki: p,
        moduleId: `${p.instanceId}-enc0123456789abcdef`,
        timestamp: o.timestamp ?? Date.now(),
        pcrs,
        userData: formatIdentityBinding({ hpkeX25519: hpke, receiptsEd25519: spki.slice(-32) }),
        nonce: null,
        publicKey: hpke,
      });
    },
  };
}

export interface Delivery {
  entry: DeliveryEntry;
  envelope: SignedEnvelope;
  manifest: DeliveryManifest;
  sealed: Uint8Array;
  tree: DeliveryTree;
  /** the delivered outputs, in request order */
  outputs: Uint8Array[];
  body: string;
}

export interface DeliveryInput {
  /** recipients: thumbprint (base64) and subject; default three random ones */
  recipients?: Array<{ thumbprint: string; subject: string }>;
  auditKey: Uint8Array;
  rules: string;
  rulesDigest: string;
  rulesSigner: string;
  cplId?: string;
  time?: string;
  requestDigest?: string;
  /** the delivered bytes, in recipient order (default: a stand-in per recipient) */
  outputs?: Uint8Array[];
  /** entry fields to override after everything is computed (an attacker's entry) */
  override?: Partial<DeliveryEntry>;
}

export function randomRecipients(n: number): Array<{ thumbprint: string; subject: string }> {
  return Array.from({ length: n }, (_, i) => ({
    thumbprint: toBase64(new Uint8Array(randomBytes(20))),
    subject: `CN=SM.projector-${i}.example,OU=cinema,O=example.com`,
  }));
}

/** What an enclave that logs its deliveries builds for one forward request. */
export async function makeDelivery(enclave: Enclave, d: DeliveryInput): Promise<Delivery> {
  const recipients = d.recipients ?? randomRecipients(3);
  const requestDigest = d.requestDigest ?? toHex(new Uint8Array(randomBytes(32)));
  const tree = new DeliveryTree();
  const outputs = d.outputs ?? recipients.map((r, i) => utf8(`<KDM for ${r.subject} #${i} ${requestDigest}/>`));
  const manifest: DeliveryManifest = {
    type: 'keycast-delivery-manifest/v1',
    requestDigest,
    rules: toBase64(utf8(d.rules)),
    recipients: recipients.map((r, i) => ({
      ...r,
      outputDigest: toHex(tree.add(Buffer.from(r.thumbprint, 'base64'), outputs[i]!)),
    })),
  };
  const sealed = await sealManifest(manifest, d.auditKey);
  const entry: DeliveryEntry = {
    type: 'keycast-delivery/v1',
    pcr0: enclave.pcr0,
    releaseIndex: enclave.releaseIndex,
    receiptKey: receiptKeyBase64(enclave.receipt),
    rulesDigest: d.rulesDigest,
    rulesSigner: d.rulesSigner,
    cplIdDigest: cplIdDigest(d.cplId ?? CPL),
    count: recipients.length,
    root: toHex(tree.root()),
    requestDigest,
    time: d.time ?? new Date().toISOString(),
    manifest: { sha256: sealed.sha256, size: sealed.size },
    ...d.override,
  };
  const envelope = signDeliveryEntry(entry, enclave.receipt);
  return {
    entry,
    envelope,
    manifest,
    sealed: sealed.sealed,
    tree,
    outputs,
    body: deliveryAddEntryBody(envelope, sealed.sealed),
  };
}

export { identityAddEntryBody, keyFingerprint, auditPublicKey };

export interface DeliveryLog {
  dir: string;
  log: Log;
  url: string;
  vkey: string;
  pki: TestPki;
  publisher: Publisher;
  /** logs a release for `seed`; returns its index and PCR0 */
  release(seed: string): Promise<{ index: number; pcr0: string }>;
  revoke(index: number, pcr0: string): Promise<void>;
  post(body: string): Promise<{ status: number; json: any }>;
  get(path: string): Promise<Response>;
  /** stops the server and the log; removes the directory unless `keep` (or it was given) */
  close(o?: { keep?: boolean }): Promise<void>;
}

/** A SQLite log in a temp dir trusting `pki`'s root for identities, served on loopback. */
export async function startDeliveryLog(o: { pki?: TestPki; dir?: string } = {}): Promise<DeliveryLog> {
  const pki = o.pki ?? createTestPki();
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), 'keycast-deliveries-'));
  const vkey = o.dir ? '' : createLog(dir, 'log.keycast.test/deliveries').vkey;
  const publisher = newPublisher();
  const log = await openLog(dir, {
    policy: releasePolicy({ allowedSigners: [publisher.publicPem] }),
    trustRoots: [pki.rootDer],
  });
  const app = await buildApp({ log });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  const post = async (body: string) => {
    const r = await fetch(`${url}/add-entry`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    return { status: r.status, json: await r.json() };
  };
  return {
    dir,
    log,
    url,
    vkey: vkey || log.key.vkey,
    pki,
    publisher,
    post,
    get: (path) => fetch(`${url}${path}`),
    async release(seed) {
      const r = await post(releaseBundle(publisher, seed));
      if (r.status !== 200) throw new Error(`release ${seed}: ${JSON.stringify(r.json)}`);
      return { index: r.json.index as number, pcr0: releaseFields(seed).pcr0 };
    },
    async revoke(index, pcr0) {
      const r = await post(revocationBundle(publisher, index, pcr0));
      if (r.status !== 200) throw new Error(`revoke ${index}: ${JSON.stringify(r.json)}`);
    },
    async close(c = {}) {
      await app.close();
      await log.close();
      if (!o.dir && !c.keep) rmSync(dir, { recursive: true, force: true });
    },
  };
}
