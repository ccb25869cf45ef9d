/**
 * Loopback stand-ins for Sigstore's Fulcio, RFC 3161 timestamp authority and Rekor: the
 * @sigstore/mock handlers (real certificate issuance with SCTs, real signed timestamps, real SETs
 * under fresh keys) served from a local HTTP server, never the public instance. `trustedRoot` is
 * the Sigstore TrustedRoot (JSON) naming exactly these authorities, so bundles they help make
 * verify with stock @sigstore/verify against it and against nothing else.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPairSync } from 'node:crypto';
import {
  fulcioHandler,
  initializeCA,
  initializeCTLog,
  initializeTLog,
  initializeTSA,
  rekorHandler,
  tsaHandler,
  type HandlerFn,
} from '@sigstore/mock';

export interface SigstoreStandins {
  url: string;
  trustedRoot: Record<string, unknown>;
  close(): Promise<void>;
  /** Requests seen, by path (to show what a signer asked for). */
  seen: string[];
}

const b64 = (b: ArrayBufferView | ArrayBuffer): string =>
  Buffer.from(
    b instanceof ArrayBuffer ? new Uint8Array(b) : new Uint8Array(b.buffer, b.byteOffset, b.byteLength),
  ).toString('base64');

function p256() {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' });
}

/** A JWT-shaped OIDC token (unsigned: the stand-in Fulcio reads claims without checking the signature). */
export function fakeOidcToken(claims: Record<string, unknown>): string {
  const part = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg: 'RS256', typ: 'JWT' })}.${part({ aud: 'sigstore', iat: Math.floor(Date.now() / 1000), ...claims })}.${Buffer.from('not-a-signature').toString('base64url')}`;
}

/** The claims a GitHub Actions token carries for a workflow run (what Fulcio maps to extensions). */
export function githubClaims(o: {
  repository: string;
  workflowPath: string;
  ref: string;
  sha: string;
  eventName?: string;
  workflow?: string;
}): Record<string, unknown> {
  const jobWorkflowRef = `${o.repository}/${o.workflowPath}@${o.ref}`;
  return {
    iss: 'https://token.actions.githubusercontent.com',
    sub: `https://github.com/${jobWorkflowRef}`,
    repository: o.repository,
    ref: o.ref,
    sha: o.sha,
    event_name: o.eventName ?? 'push',
    workflow: o.workflow ?? 'release',
    job_workflow_ref: jobWorkflowRef,
    workflow_ref: jobWorkflowRef,
    runner_environment: 'github-hosted',
  };
}

export async function startSigstoreStandins(): Promise<SigstoreStandins> {
  const start = new Date(Date.now() - 3600_000).toISOString();
  const ctlog = await initializeCTLog(p256());
  const ca = await initializeCA(p256(), ctlog);
  const tsa = await initializeTSA(p256());
  // @sigstore/core reads a GeneralizedTime fraction only as exactly three digits, and DER drops
  // trailing zeros (".5" for .500): a stand-in stamping at a round millisecond would make one
  // verification in ten fail. Its clock keeps a fixed .123 (at most a second off "now").
  (tsa as unknown as { getCurrentTime: () => Date }).getCurrentTime = () => {
    const d = new Date();
    d.setUTCMilliseconds(123);
    return d;
  };
  const seen: string[] = [];
  const routes = new Map<string, HandlerFn>();
  let server: Server;
  const url = await new Promise<string>((done) => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const path = new URL(req.url ?? '/', 'http://x').pathname;
        seen.push(path);
        const fn = req.method === 'POST' ? routes.get(path) : undefined;
        if (!fn) {
          res.writeHead(404).end();
          return;
        }
        fn(Buffer.concat(chunks).toString('utf8')).then(
          (r) => {
            res.writeHead(r.statusCode, { 'content-type': r.contentType ?? 'application/json' });
            res.end(typeof r.response === 'string' ? r.response : Buffer.from(r.response.buffer));
          },
          () => res.writeHead(500).end(),
        );
      });
    });
    server.listen(0, '127.0.0.1', () => done(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
  });
  const tlog = await initializeTLog(url, p256());
  for (const h of [fulcioHandler(ca), tsaHandler(tsa), rekorHandler(tlog)]) routes.set(h.path, h.fn);
  const rekorSpki = tlog.publicKey;
  const trustedRoot = {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [
      {
        baseUrl: url,
        hashAlgorithm: 'SHA2_256',
        publicKey: { rawBytes: b64(rekorSpki), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start } },
        logId: { keyId: b64(new Uint8Array(await crypto.subtle.digest('SHA-256', new Uint8Array(rekorSpki)))) },
      },
    ],
    certificateAuthorities: [
      {
        subject: { organization: 'sigstore.mock', commonName: 'sigstore' },
        uri: url,
        certChain: { certificates: [{ rawBytes: b64(ca.rootCertificate) }] },
        validFor: { start },
      },
    ],
    ctlogs: [
      {
        baseUrl: url,
        hashAlgorithm: 'SHA2_256',
        publicKey: { rawBytes: b64(ctlog.publicKey), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start } },
        logId: { keyId: b64(ctlog.logID) },
      },
    ],
    timestampAuthorities: [
      {
        subject: { organization: 'sigstore.mock', commonName: 'tsa' },
        uri: url,
        certChain: { certificates: [{ rawBytes: b64(tsa.intCertificate) }, { rawBytes: b64(tsa.rootCertificate) }] },
        validFor: { start },
      },
    ],
  };
  return {
    url,
    trustedRoot,
    seen,
    close: () => new Promise((done) => server.close(() => done())),
  };
}
