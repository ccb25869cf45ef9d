/**
 * The fastify instance both of this folder's servers start from: bounded bodies, the shared
 * server limits (#verifier/build SERVER_LIMITS: timeouts, requests per socket, and the connection cap
 * once listening), JSON accepted only
 * as `application/json` and parsed strictly by the route, every error answered through the one
 * status table (errors.ts), unknown routes NOT_FOUND, and nothing logged but the method, route
 * and status (bodies never: they may carry sealed material).
 */
import { Transform } from 'node:stream';
import Fastify, { type FastifyInstance, type preParsingAsyncHookHandler } from 'fastify';
import { isVerifierError } from '#verifier';
import { VerifierError } from '#verifier';
import {
  FORWARD_JSON_LIMITS,
  JsonShapeGuard,
  limitConnections,
  serverLimits,
  serverOptions,
  type ServerLimits,
} from '#verifier/build';
import { EnclaveError } from '../errors.ts';
import { toHttpError } from './errors.ts';

export interface AppLimits {
  /** largest request body, bytes */
  bodyLimit: number;
  server?: ServerLimits;
  /**
   * Open connections one client address may hold at once (public servers: the host's API). Past
   * it, a new connection from that address is closed on accept, so one slow or greedy peer
   * cannot fill the server's whole connection cap and starve everyone else. Unset: no per-client cap
   * (the enclave's API, whose only client is the host).
   */
  perClientConnections?: number;
}

/** Default per-client connection cap of the host's public API: an eighth of the server-wide cap. */
export const PER_CLIENT_CONNECTIONS = 64;

/** Closes connections past `cap` per remote address (counted while open). */
export function limitPerClient(server: import('node:net').Server, cap: number): void {
  const open = new Map<string, number>();
  server.on('connection', (socket) => {
    const who = socket.remoteAddress ?? '?';
    const n = (open.get(who) ?? 0) + 1;
    if (n > cap) {
      socket.destroy();
      return;
    }
    open.set(who, n);
    socket.once('close', () => {
      const left = (open.get(who) ?? 1) - 1;
      if (left <= 0) open.delete(who);
      else open.set(who, left);
    });
  });
}

export function createApp(limits: AppLimits, log?: (line: string) => void): FastifyInstance {
  const server = limits.server ?? serverLimits();
  const app = Fastify({
    logger: false,
    bodyLimit: limits.bodyLimit,
    ...serverOptions(server),
    return503OnClosing: true,
    routerOptions: { caseSensitive: true, ignoreTrailingSlash: false, maxParamLength: 128 },
  });
  app.addHook('onListen', async () => {
    limitConnections(app.server, server);
    if (limits.perClientConnections !== undefined) limitPerClient(app.server, limits.perClientConnections);
  });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  app.setNotFoundHandler((req, reply) => {
    const h = toHttpError(
      new EnclaveError('NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]!.slice(0, 128)}`),
    );
    void reply.status(h.status).send(h.body);
  });
  app.setErrorHandler((e, _req, reply) => {
    const h = toHttpError(e);
    void reply.status(h.status).send(h.body);
  });
  if (log)
    app.addHook('onResponse', async (req, reply) =>
      log(`${req.method} ${req.routeOptions.url ?? '-'} ${reply.statusCode}`),
    );
  return app;
}

/** The raw JSON body of a request, parsed; REQUEST_MALFORMED when it is not a JSON object. */
export function jsonBody(body: unknown): Record<string, unknown> {
  if (!(body instanceof Buffer)) throw new EnclaveError('REQUEST_MALFORMED', 'expected an application/json body');
  let v: unknown;
  try {
    v = JSON.parse(body.toString('utf8'));
  } catch {
    throw new EnclaveError('REQUEST_MALFORMED', 'the body is not JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new EnclaveError('REQUEST_MALFORMED', 'the body must be a JSON object');
  return v as Record<string, unknown>;
}

/** Refusals of the bounded reader, by request: the route throws them (fastify then answers with the code). */
const SHAPE_REFUSED = new WeakMap<object, EnclaveError | VerifierError>();

/**
 * A preParsing hook for forward requests (enclave and host): the body streams through the
 * bounded JSON reader (#verifier/build JsonShapeGuard, FORWARD_JSON_LIMITS). Once a body is nested
 * deeper than a forward request can be (FORWARD_REQUEST_MALFORMED) or holds more values than one
 * can hold (FORWARD_OVERSIZED), the rest of it is read and dropped — nothing more is buffered or
 * parsed — and forwardJsonBody() throws the refusal. (Failing the stream instead let the error
 * escape fastify's body reader as an uncaught exception.)
 */
export const boundedForwardJson: preParsingAsyncHookHandler = async (req, _reply, payload) => {
  const guard = new JsonShapeGuard(FORWARD_JSON_LIMITS);
  let refused = false;
  // fastify compares this with Content-Length: every byte read counts, kept or dropped
  const counted = { receivedEncodedLength: 0 };
  const t: Transform & typeof counted = Object.assign(
    new Transform({
      transform(chunk: Buffer, _enc, cb) {
        counted.receivedEncodedLength += chunk.length;
        t.receivedEncodedLength = counted.receivedEncodedLength;
        if (refused) return cb();
        try {
          guard.push(chunk);
          cb(null, chunk);
        } catch (e) {
          refused = true;
          SHAPE_REFUSED.set(
            req.raw,
            // the reader's own code (OVERSIZED, MALFORMED), with what it was reading
            isVerifierError(e)
              ? new VerifierError(e.code, `forward request: ${e.message}`, e.evidence)
              : new EnclaveError('FORWARD_REQUEST_MALFORMED', 'forward request: unreadable body'),
          );
          cb();
        }
      },
    }),
    counted,
  );
  payload.on('error', (e) => t.destroy(e));
  return payload.pipe(t);
};

/** The forward request body read through boundedForwardJson, parsed; its refusal if it had one. */
export function forwardJsonBody(req: { raw: object; body: unknown }): Record<string, unknown> {
  const refused = SHAPE_REFUSED.get(req.raw);
  if (refused) throw refused;
  return jsonBody(req.body);
}
