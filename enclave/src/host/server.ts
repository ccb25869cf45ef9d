/**
 * The host's public HTTP API (on the parent instance):
 *
 *   GET /v1/status               the enclave's status body (runtime/server.ts) under `enclave`,
 *                                plus `host: { log, store, lastRefresh }` and `freshSecondsLeft`
 *                                (seconds until the held proof goes stale; 0 while shut); 200 while
 *                                the enclave's gate is open, else 503 (same body)
 *   GET /metrics                 Prometheus text (host/metrics.ts): the host's figures and the
 *                                enclave's, relayed from its GET /v1/metrics
 *   GET /v1/attestation?nonce=HEX  a fresh attestation document from the enclave (application/cbor),
 *                                nonce 16..512 bytes lowercase hex; a nonce seen before is 409
 *                                NONCE_REPLAYED (the host remembers the last 65,536); the enclave's
 *                                own refusals (503 GATE_CLOSED, IDENTITY_NOT_READY) pass through
 *
 *   GET /v1/certificates         the enclave's KDM signer and KDM decryption chains, passed through
 *                                (public; a studio trusts them only as far as the attestation binds them)
 *   POST /v1/forward             application/json forward request, passed to the enclave unchanged
 *                                (≤ 32 MiB); the enclave's answer { requestDigest, receipt, outputs } is
 *                                stored as forward-<requestDigest>.json and returned, and a DKDM it carried as
 *                                dkdm-<SHA-256 of the DKDM>.xml (only once the enclave accepted it); refusals
 *                                pass through and store nothing
 *
 * Errors: { error, code, message, evidence } with statuses from http/errors.ts; an enclave that
 * cannot be reached is 502 ENCLAVE_UNREACHABLE.
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { ServerLimits } from '#verifier';
import { EnclaveError } from '../errors.ts';
import { createApp } from '../http/app.ts';
import type { EnclaveClient } from './enclave-client.ts';
import type { Host } from './host.ts';
import type { ArtefactStore } from './store.ts';
import { countRefusals } from '../runtime/metrics.ts';
import {
  formatMetrics,
  freshSecondsLeft,
  HostMetrics,
  METRICS_CONTENT_TYPE,
  relayedEnclave,
  type RelayedEnclave,
} from './metrics.ts';

const MAX_REMEMBERED_NONCES = 65_536;

export interface HostAppDeps {
  host: Host;
  enclave: EnclaveClient;
  logUrl: string;
  storeWhere: string;
  store: ArtefactStore;
  /** the host's counters (default: a fresh set) */
  metrics?: HostMetrics;
  /** Unix seconds (default: the system clock) */
  now?: () => number;
  log?: (line: string) => void;
  limits?: ServerLimits;
}

export function buildHostApp(d: HostAppDeps): FastifyInstance {
  const app = createApp({ bodyLimit: 64 * 1024, ...(d.limits ? { server: d.limits } : {}) }, d.log);
  const seen = new Set<string>();
  const metrics = d.metrics ?? new HostMetrics();
  const now = d.now ?? (() => Date.now() / 1000);
  countRefusals(app, (code) => metrics.refused(code));

  app.get('/v1/status', async (_req, reply) => {
    const s = await d.enclave.status();
    const open = s.status === 200 && s.body.gate?.open === true;
    return reply.status(open ? 200 : 503).send({
      enclave: s.body,
      host: { log: d.logUrl, store: d.storeWhere, lastRefresh: d.host.lastRefresh },
      freshSecondsLeft: freshSecondsLeft(s.body.gate, now()),
    });
  });

  app.get('/metrics', async (_req, reply) => {
    let enclave: RelayedEnclave | null = null;
    try {
      const r = await d.enclave.metrics();
      if (r.status === 200) enclave = relayedEnclave(r.body);
    } catch {
      enclave = null; // unreachable: keycast_enclave_up 0
    }
    return reply.type(METRICS_CONTENT_TYPE).send(formatMetrics(metrics.figures(), enclave, now()));
  });

  app.get('/v1/attestation', async (req, reply) => {
    const q = req.query as Record<string, unknown>;
    if (
      Object.keys(q).some((k) => k !== 'nonce') ||
      typeof q.nonce !== 'string' ||
      !/^([0-9a-f]{2}){16,512}$/.test(q.nonce)
    ) {
      throw new EnclaveError('REQUEST_MALFORMED', 'the query must be exactly nonce=<16..512 bytes, lowercase hex>');
    }
    if (seen.has(q.nonce))
      throw new EnclaveError('NONCE_REPLAYED', 'this nonce was already used; send a fresh random one');
    const r = await d.enclave.attestation(q.nonce);
    if (r.document) {
      seen.add(q.nonce);
      if (seen.size > MAX_REMEMBERED_NONCES) seen.delete(seen.values().next().value!);
      return reply.type('application/cbor').send(Buffer.from(r.document));
    }
    return reply.status(r.status).send(r.body);
  });

  app.get('/v1/certificates', async (_req, reply) => {
    const r = await d.enclave.certificates();
    return reply.status(r.status).send(r.body);
  });

  app.post('/v1/forward', { bodyLimit: 32 * 1024 * 1024 }, async (req, reply) => {
    if (!(req.body instanceof Buffer)) throw new EnclaveError('REQUEST_MALFORMED', 'expected an application/json body');
    const r = await d.enclave.forward(new Uint8Array(req.body));
    if (r.status === 200) {
      let digest: unknown;
      try {
        digest = (JSON.parse(Buffer.from(r.bytes).toString('utf8')) as { requestDigest?: unknown }).requestDigest;
      } catch {
        digest = undefined;
      }
      if (typeof digest !== 'string' || !/^[0-9a-f]{64}$/.test(digest))
        throw new EnclaveError('ENCLAVE_UNREACHABLE', 'the enclave answered a forward request without its digest');
      await d.store.put(`forward-${digest}.json`, r.bytes);
      // keys in as a DKDM: kept as it came (it is encrypted to the enclave) once the enclave accepted it,
      // so projectors added later need only the DKDM and the rules; a refused DKDM is never stored
      const dkdm = dkdmOf(req.body);
      if (dkdm !== undefined)
        await d.store.put(
          `dkdm-${createHash('sha256').update(dkdm, 'utf8').digest('hex')}.xml`,
          Buffer.from(dkdm, 'utf8'),
        );
    }
    return reply.status(r.status).type('application/json; charset=utf-8').send(Buffer.from(r.bytes));
  });

  return app;
}

/** The DKDM a forward request carried (the request as the host passed it on), if any. */
function dkdmOf(body: Buffer): string | undefined {
  try {
    const v = JSON.parse(body.toString('utf8')) as { dkdm?: unknown };
    return typeof v.dkdm === 'string' ? v.dkdm : undefined;
  } catch {
    return undefined;
  }
}
