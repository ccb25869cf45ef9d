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
 *   POST /v1/forward             application/json forward request (≤ 32 MiB, read through the bounded
 *                                JSON reader), checked for shape and expiry, refused 409 FORWARD_REPLAY
 *                                when forward-<requestDigest>.json is already in the store (served
 *                                before: by this host, before a restart, or by another instance sharing
 *                                the store), else passed to the enclave unchanged with a timeout that
 *                                grows with the request; the enclave's 200 answer { requestDigest,
 *                                receipt, outputs } is stored with putIfAbsent — the one durable claim:
 *                                losing that race to another instance is FORWARD_REPLAY too — and
 *                                returned, and a DKDM it carried is kept as dkdm-<SHA-256 of the DKDM>.xml (only once
 *                                the enclave accepted it); refusals pass through and store nothing
 *                                With an enclave that requires logged deliveries (issue 19) the
 *                                enclave answers 202 pending; the host logs it and has it released
 *                                (host/deliveries.ts) and answers as above plus `delivery: { index,
 *                                transparencyLogEntry }`; a log down or refusing is 503
 *                                DELIVERY_LOG_UNAVAILABLE / DELIVERY_LOG_REFUSED and stores nothing
 *   GET /v1/forward/<digest>     the stored answer of a request served before (a studio whose
 *                                connection dropped gets its answer again without a second forward);
 *                                404 NOT_FOUND otherwise
 *
 * Errors: { error, code, message, evidence } with statuses from http/errors.ts; an enclave that
 * cannot be reached is 502 ENCLAVE_UNREACHABLE.
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { checkForwardRequestTime, isVerifierError, parseForwardRequest, type ForwardRequest } from '#verifier';
import { forwardRequestDigest, type ServerLimits } from '#verifier/build';
import { EnclaveError } from '../common/errors.ts';
import { PER_CLIENT_CONNECTIONS, boundedForwardJson, createApp, forwardJsonBody } from '../common/http/app.ts';
import type { EnclaveClient } from './enclave-client.ts';
import type { Host } from './host.ts';
import type { ArtefactStore } from './store.ts';
import { countRefusals } from '../common/metrics.ts';
import type { DeliveryLog } from './deliveries.ts';
import {
  formatMetrics,
  freshSecondsLeft,
  HostMetrics,
  METRICS_CONTENT_TYPE,
  relayedEnclave,
  type RelayedEnclave,
} from './metrics.ts';

const MAX_REMEMBERED_NONCES = 65_536;

/**
 * How long the host waits for the enclave's answer to a forward request: 15 s, plus 20 ms per
 * recipient (a KDM costs the enclave about 2 ms of RSA; ten times that for a loaded machine) and
 * 1 s per MiB of body. A fixed 15 s cut large requests off while the enclave was still serving them.
 */
export function forwardTimeoutMs(recipients: number, bodyBytes: number): number {
  return 15_000 + 20 * recipients + Math.ceil(bodyBytes / (1024 * 1024)) * 1000;
}

/** The store name of a served request's answer (and the durable record that it was served). */
export const servedName = (digest: string) => `forward-${digest}.json`;

/** The request's shape, as the enclave will read it; refusals carry the same codes the enclave's would. */
function readForwardRequest(body: unknown, now: Date): { req: ForwardRequest; digest: string } {
  const req = parseForwardRequest(body);
  checkForwardRequestTime(req, now);
  return { req, digest: forwardRequestDigest(req) };
}

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
  /** open connections one client address may hold (default PER_CLIENT_CONNECTIONS) */
  perClientConnections?: number;
  /** logs the deliveries of an enclave that requires it (issue 19, host/deliveries.ts) */
  deliveries?: DeliveryLog;
}

export function buildHostApp(d: HostAppDeps): FastifyInstance {
  const app = createApp(
    {
      bodyLimit: 64 * 1024,
      perClientConnections: d.perClientConnections ?? PER_CLIENT_CONNECTIONS,
      ...(d.limits ? { server: d.limits } : {}),
    },
    d.log,
  );
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

  app.post('/v1/forward', { bodyLimit: 32 * 1024 * 1024, preParsing: boundedForwardJson }, async (req, reply) => {
    const { req: fr, digest } = readForwardRequest(forwardJsonBody(req), new Date(now() * 1000));
    const replayed = () =>
      new EnclaveError('FORWARD_REPLAY', 'this request has already been served', {
        requestDigest: digest,
        answer: `/v1/forward/${digest}`,
      });
    if ((await d.store.get(servedName(digest))) !== null) throw replayed();
    const body = new Uint8Array(req.body as Buffer);
    const r = await d.enclave.forward(body, forwardTimeoutMs(fr.recipients.length, body.length));
    if (r.status === 202) {
      // deliveries required (issue 19): on the log first, then the enclave releases the answer
      if (!d.deliveries)
        throw new EnclaveError(
          'DELIVERY_LOG_UNAVAILABLE',
          'the enclave requires logged deliveries and this host has no log for them',
        );
      r.bytes = await d.deliveries.complete(d.enclave, r.bytes, digest);
      r.status = 200;
    } else if (r.status === 200) {
      let answered: unknown;
      try {
        answered = (JSON.parse(Buffer.from(r.bytes).toString('utf8')) as { requestDigest?: unknown }).requestDigest;
      } catch {
        answered = undefined;
      }
      if (answered !== digest)
        throw new EnclaveError('ENCLAVE_UNREACHABLE', 'the enclave answered a forward request with another digest');
    }
    if (r.status === 200) {
      if (!(await d.store.putIfAbsent(servedName(digest), r.bytes))) throw replayed();
      // keys in as a DKDM: kept as it came (it is encrypted to the enclave) once the enclave accepted it,
      // so projectors added later need only the DKDM and the rules; a refused DKDM is never stored
      if (fr.dkdm !== undefined)
        await d.store.put(
          `dkdm-${createHash('sha256').update(fr.dkdm, 'utf8').digest('hex')}.xml`,
          Buffer.from(fr.dkdm, 'utf8'),
        );
    }
    return reply.status(r.status).type('application/json; charset=utf-8').send(Buffer.from(r.bytes));
  });

  app.get('/v1/forward/:digest', async (req, reply) => {
    const digest = (req.params as { digest: string }).digest;
    if (!/^[0-9a-f]{64}$/.test(digest))
      throw new EnclaveError('REQUEST_MALFORMED', 'the digest must be 64 lowercase hex digits');
    const bytes = await d.store.get(servedName(digest));
    if (bytes === null) throw new EnclaveError('NOT_FOUND', 'no answer stored for this request digest');
    return reply.type('application/json; charset=utf-8').send(Buffer.from(bytes));
  });

  return app;
}
