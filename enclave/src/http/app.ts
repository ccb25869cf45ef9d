/**
 * The fastify instance both of this folder's servers start from: bounded bodies, the shared
 * server limits (#verifier SERVER_LIMITS: timeouts, requests per socket, and the connection cap
 * once listening), JSON accepted only
 * as `application/json` and parsed strictly by the route, every error answered through the one
 * status table (errors.ts), unknown routes NOT_FOUND, and nothing logged but the method, route
 * and status (bodies never: they may carry sealed material).
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { limitConnections, serverLimits, serverOptions, type ServerLimits } from '#verifier';
import { EnclaveError } from '../errors.ts';
import { toHttpError } from './errors.ts';

export interface AppLimits {
  /** largest request body, bytes */
  bodyLimit: number;
  server?: ServerLimits;
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
  app.addHook('onListen', async () => limitConnections(app.server, server));
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
