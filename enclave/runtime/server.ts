/**
 * The enclave's HTTP API (served to the host only, over vsock through socat, or loopback
 * locally). Every request carries what it needs; the enclave keeps nothing on disk.
 *
 *   GET  /v1/status               200 while the gate is open, else 503 — same body either way:
 *                                 { gate: GateState, identity: { ready, hpkeX25519?, receiptsEd25519? }, pcr0,
 *                                   deliveries: { required } }
 *   POST /v1/gate                 application/json proof bundle (#verifier parseProofBundle) →
 *                                 200 { gate } when it opens the gate, 503 GATE_CLOSED (evidence.refusal:
 *                                 the verifier code) when refused, 409 BUNDLE_REPLAYED for an older tree
 *   POST /v1/identity             application/json, one of (identity = { hpkeX25519, receiptsEd25519, kdmChainSha256 }, b64):
 *                                 {} (first boot, phase one) → 200 { created: true, pending: true, identity,
 *                                   stored: { sealed, ciphertextBlob } (b64) } — not served until confirmed;
 *                                 { confirm: hex SHA-256 of that sealed blob } (phase two, once the host stored
 *                                   it) → 200 { created: true, confirmed: true, identity }; 409 IDENTITY_NOT_PENDING;
 *                                 { sealed, ciphertextBlob } (b64, later boots) → 200 { created: false, identity };
 *                                   422 UNSEAL_FAILED / IDENTITY_GENESIS_MISSING / IDENTITY_GENESIS_INVALID
 *   POST /v1/forward              application/json forward request → { requestDigest, receipt, outputs }
 *                                 (runtime/forward-route.ts); with deliveries required (issue 19) 202
 *                                 { pending: true, requestDigest, entry, manifest, sealed } instead
 *   POST /v1/forward/release      only with deliveries required: { requestDigest, transparencyLogEntry }
 *                                 → { requestDigest, key, index } once the log's answer proves the
 *                                 delivery (runtime/deliveries.ts); 409 DELIVERY_NOT_PENDING,
 *                                 422 DELIVERY_PROOF_INVALID
 *   GET  /v1/certificates         200 { kdmSigner: [b64 DER…], kdmDecryption: [b64 DER…] } (leaf first): the
 *                                KDM signer chain and the KDM decryption (DKDM recipient) chain the
 *                                attestation binds by digest; 503 IDENTITY_NOT_READY before the identity
 *   POST /v1/aws-credentials-token  { token } from the host's container-credentials endpoint
 *                                 (runtime/credentials-token-route.ts)
 *   GET  /v1/attestation?nonce=HEX  application/cbor: a fresh attestation document whose public_key
 *                                 is the HPKE key and user_data the identity binding (#verifier
 *                                 formatIdentityBinding); nonce 1..512 hex bytes, required
 *
 * While the gate is shut, everything but /v1/gate, /v1/status and /v1/metrics answers 503
 * GATE_CLOSED with the refusal's code and reason, and KMS is never called. Errors: { error, code, message, evidence } with the
 * status from http/errors.ts.
 */
import type { FastifyInstance } from 'fastify';
import { parseProofBundle } from '#verifier';
import {
  formatIdentityBinding,
  fromBase64,
  toBase64,
  toHex,
  MAX_PROOF_BUNDLE_BYTES,
  type ServerLimits,
} from '#verifier/build';
import { EnclaveError } from '../common/errors.ts';
import { createApp, jsonBody } from '../common/http/app.ts';
import { toHttpError } from '../common/http/errors.ts';
import type { Nsm } from './nsm/types.ts';
import type { IdentityKeeper, StoredIdentity } from './identity/keeper.ts';
import { MAX_SEALED_BYTES } from './identity/seal.ts';
import type { Measurement } from '#verifier';
import type { Gatekeeper } from './gatekeeper.ts';
import type { PublicIdentity } from './identity/keys.ts';
import { forwardRoute } from './forward-route.ts';
import { credentialsTokenRoute } from '../common/credentials-token-route.ts';
import { countRefusals, EnclaveMetrics } from '../common/metrics.ts';
import type { DeliveryReleases } from './deliveries.ts';

export interface EnclaveAppDeps {
  gate: Gatekeeper;
  identity: IdentityKeeper;
  nsm: Nsm;
  /** This enclave's PCR0, as the NSM reported it (hex only where it is shown, in /v1/status). */
  pcr0: Measurement;
  /** the figures GET /v1/metrics serves (default: a fresh set) */
  metrics?: EnclaveMetrics;
  log?: (line: string) => void;
  limits?: ServerLimits;
  /** set when the pinned config requires logged deliveries (issue 19, runtime/deliveries.ts) */
  deliveries?: DeliveryReleases;
}

const MAX_NONCE_BYTES = 512;

function b64(v: unknown, field: string, max: number): Uint8Array {
  if (typeof v !== 'string' || v.length === 0 || v.length > Math.ceil(max / 3) * 4)
    throw new EnclaveError('REQUEST_MALFORMED', `${field} must be base64 of at most ${max} bytes`, { field });
  try {
    return fromBase64(v);
  } catch {
    throw new EnclaveError('REQUEST_MALFORMED', `${field} is not base64`, { field });
  }
}

export function buildEnclaveApp(d: EnclaveAppDeps): FastifyInstance {
  const pcr0Hex = d.pcr0.hex;
  const app = createApp({ bodyLimit: MAX_PROOF_BUNDLE_BYTES + 1024, ...(d.limits ? { server: d.limits } : {}) }, d.log);
  const metrics = d.metrics ?? new EnclaveMetrics();
  countRefusals(app, (code) => metrics.refused(code));

  const identityView = (): Record<string, unknown> => {
    const p = d.identity.publicKeys;
    return p ? { ready: true, ...identityJson(p) } : { ready: false };
  };

  app.get('/v1/status', async (_req, reply) => {
    const gate = d.gate.state();
    return reply
      .status(gate.open ? 200 : 503)
      .send({ gate, identity: identityView(), pcr0: pcr0Hex, deliveries: { required: d.deliveries !== undefined } });
  });

  app.get('/v1/metrics', async () => {
    const g = d.gate.state();
    return { gate: { open: g.open, freshUntil: g.freshUntil }, ...metrics.body() };
  });

  app.post('/v1/gate', async (req, reply) => {
    const bundle = parseProofBundle(req.body instanceof Buffer ? new Uint8Array(req.body) : jsonBody(req.body));
    const gate = d.gate.submit(bundle);
    if (!gate.open) {
      const h = toHttpError(
        new EnclaveError('GATE_CLOSED', `the gate refused the bundle: ${gate.refusal!.message}`, {
          refusal: gate.refusal!.code,
          reason: gate.refusal!.message,
          evidence: gate.refusal!.evidence,
        }),
      );
      return reply.status(h.status).send(h.body);
    }
    return { gate };
  });

  app.post('/v1/identity', async (req) => {
    d.gate.requireOpen();
    const body = jsonBody(req.body);
    const fields = Object.keys(body);
    for (const k of fields)
      if (k !== 'sealed' && k !== 'ciphertextBlob' && k !== 'confirm')
        throw new EnclaveError('REQUEST_MALFORMED', `unknown field ${k.slice(0, 64)}`, { field: k.slice(0, 64) });
    if (body.confirm !== undefined) {
      if (fields.length !== 1 || typeof body.confirm !== 'string' || !/^[0-9a-f]{64}$/.test(body.confirm))
        throw new EnclaveError(
          'REQUEST_MALFORMED',
          'confirm is alone and 64 lowercase hex (SHA-256 of the sealed blob)',
        );
      const r = d.identity.confirm(fromHexStrict(body.confirm));
      return { created: true, confirmed: true, identity: identityJson(r.identity) };
    }
    if ((body.sealed === undefined) !== (body.ciphertextBlob === undefined))
      throw new EnclaveError('REQUEST_MALFORMED', 'give both sealed and ciphertextBlob, or neither (first boot)');
    const stored: StoredIdentity | null =
      body.sealed === undefined
        ? null
        : {
            sealed: b64(body.sealed, 'sealed', MAX_SEALED_BYTES),
            ciphertextBlob: b64(body.ciphertextBlob, 'ciphertextBlob', 8192),
          };
    const r = await d.identity.establish(stored);
    const identity = identityJson(r.identity);
    return 'stored' in r
      ? {
          created: true,
          pending: true,
          identity,
          stored: { sealed: toBase64(r.stored.sealed), ciphertextBlob: toBase64(r.stored.ciphertextBlob) },
        }
      : { created: false, identity };
  });

  app.get('/v1/attestation', async (req, reply) => {
    d.gate.requireOpen();
    const q = req.query as Record<string, unknown>;
    if (
      Object.keys(q).some((k) => k !== 'nonce') ||
      typeof q.nonce !== 'string' ||
      !/^([0-9a-f]{2}){1,512}$/.test(q.nonce)
    ) {
      throw new EnclaveError(
        'REQUEST_MALFORMED',
        `the query must be exactly nonce=<1..${MAX_NONCE_BYTES} bytes, lowercase hex>`,
      );
    }
    const p = d.identity.publicKeys;
    if (!p) throw new EnclaveError('IDENTITY_NOT_READY', 'the enclave has not established its identity yet');
    const doc = await d.nsm.attestation({
      nonce: fromHexStrict(q.nonce),
      publicKey: p.hpkeX25519,
      userData: formatIdentityBinding(p),
    });
    return reply.type('application/cbor').send(Buffer.from(doc));
  });

  app.get('/v1/certificates', async (_req, reply) => {
    const p = d.identity.publicKeys;
    if (!p) throw new EnclaveError('IDENTITY_NOT_READY', 'the enclave has not established its identity yet');
    return reply.send({
      kdmSigner: p.certificates.kdmSigner.map(toBase64),
      kdmDecryption: p.certificates.kdmDecryption.map(toBase64),
    });
  });

  forwardRoute(app, {
    gate: d.gate,
    identity: d.identity,
    pcr0: d.pcr0,
    onForward: (format, outputs) => metrics.forwarded(format, outputs),
    ...(d.deliveries ? { deliveries: d.deliveries } : {}),
  });
  const deliveries = d.deliveries;
  if (deliveries)
    app.post('/v1/forward/release', async (req) => {
      d.gate.requireOpen();
      return deliveries.release(jsonBody(req.body));
    });
  credentialsTokenRoute(app);
  return app;
}

function identityJson(p: PublicIdentity): Record<string, string> {
  return {
    hpkeX25519: toBase64(p.hpkeX25519),
    receiptsEd25519: toBase64(p.receiptsEd25519),
    kdmChainSha256: toBase64(p.kdmChainSha256),
  };
}

function fromHexStrict(s: string): Uint8Array {
  return Uint8Array.from(Buffer.from(s, 'hex'));
}
