/**
 * Fixtures for the cross-folder log tests: signed Keycast release and revocation bundles
 * (Sigstore v0.3 DSSE bundles over in-toto statements, signed with a local ECDSA P-256 key,
 * exactly the shape verifier/src/release admits), and a log served in this process
 * (`keycast log serve` as a child process is enclave-e2e-helpers.ts's serveLog).
 */
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { resolve } from 'node:path';
import { rmSync } from 'node:fs';
import { buildApp, openLog, releasePolicy } from '../log-server/index.ts';
import type { Log } from '../log-server/index.ts';

export const ROOT = resolve(import.meta.dirname, '..');
const PAYLOAD_TYPE = 'application/vnd.in-toto+json';

export interface Publisher {
  publicPem: string;
  privateKey: KeyObject;
  hint: string;
}

export function newPublisher(): Publisher {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return {
    privateKey,
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    hint: createHash('sha256').update(der).digest('hex'),
  };
}

const hex = (alg: string, s: string) => createHash(alg).update(s).digest('hex');

function pae(type: string, payload: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`DSSEv1 ${Buffer.byteLength(type)} ${type} ${payload.length} `), payload]);
}

function bundle(p: Publisher, statement: unknown): string {
  return bundleOfPayload(p, Buffer.from(JSON.stringify(statement)));
}

/** A bundle signing exactly these payload bytes (for payloads no honest publisher would write). */
export function bundleOfPayload(p: Publisher, payload: Buffer): string {
  const sig = sign('sha256', pae(PAYLOAD_TYPE, payload), p.privateKey);
  return JSON.stringify({
    mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
    verificationMaterial: { publicKey: { hint: p.hint }, tlogEntries: [] },
    dsseEnvelope: {
      payloadType: PAYLOAD_TYPE,
      payload: payload.toString('base64'),
      signatures: [{ sig: sig.toString('base64') }],
    },
  });
}

/** Measurements derived from a seed, so each seed gives a distinct release. */
export function releaseFields(seed: string): { pcr0: string; eif: string; commit: string } {
  return {
    pcr0: hex('sha384', `pcr0-${seed}`),
    eif: hex('sha256', `eif-${seed}`),
    commit: hex('sha1', `commit-${seed}`),
  };
}

export function releaseBundle(p: Publisher, seed: string): string {
  const f = releaseFields(seed);
  return bundle(p, {
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ name: 'enclave.eif', digest: { sha256: f.eif } }],
    predicateType: 'https://keycast.dev/release/v1',
    predicate: {
      eif: { sha256: f.eif },
      measurements: { pcr0: f.pcr0, pcr1: hex('sha384', `pcr1-${seed}`), pcr2: hex('sha384', `pcr2-${seed}`) },
      source: { repo: 'https://github.com/keycast/demo-enclave', commit: f.commit },
      lock: { sha256: hex('sha256', `lock-${seed}`) },
      builder: { version: 'keycast-0.1.0' },
    },
  });
}

export function revocationBundle(p: Publisher, index: number, pcr0: string, reason = 'key compromise'): string {
  return bundle(p, {
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ name: 'pcr0', digest: { sha384: pcr0 } }],
    predicateType: 'https://keycast.dev/revocation/v1',
    predicate: { revokes: { logIndex: index, pcr0 }, reason },
  });
}

/**
 * Opens the log in `logDir` (already created) with the real release policy admitting `allowed`
 * keys, serves it in-process on an ephemeral loopback port, and closes both (and removes
 * `cleanup`) after the test.
 */
export async function listenLog(
  t: { after: (fn: () => unknown) => void },
  logDir: string,
  allowed: string[],
  cleanup: string,
): Promise<{ log: Log; url: string }> {
  const log = await openLog(logDir, { policy: releasePolicy({ allowedSigners: allowed }) });
  const app = await buildApp({ log });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  t.after(async () => {
    await app.close();
    await log.close();
    rmSync(cleanup, { recursive: true, force: true });
  });
  return { log, url };
}
