/**
 * The log's HTTP API as a fastify app, built separately from `listen` so tests use inject() or
 * a loopback port (fastify docs/Guides/Testing.md). Routes are schema-first; every error goes
 * through one mapping (http/errors.ts) to a status and a coded JSON body; pushback is 503 with
 * Retry-After; request bodies are capped, and the server runs with the shared SERVER_LIMITS
 * (#verifier: header, request, keep-alive and socket timeouts, requests per socket, connections).
 *
 * Routes: POST /add-entry; GET /checkpoint, /tile/…, /tile/entries/… (c2sp.org/tlog-tiles);
 * GET /entry/<i>, /lookup/{pcr0,eif,commit}/<hex>, /proof/inclusion, /proof/consistency,
 * /delivery-manifest/<sha256>, /identity/<receiptKeySha256>; plus
 * any plugins passed in (the explorer page at `/`).
 */
import Fastify from 'fastify';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { limitConnections, serverLimits, serverOptions } from '#verifier';
import type { ServerLimits } from '#verifier';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { LogError } from '../errors.ts';
import type { Log } from '../log.ts';
import { errorOptions, sendHttpError, toHttpError } from './errors.ts';
import { strictUtf8Body } from './body.ts';
import { writeRoutes } from './routes/write.ts';
import { tileRoutes } from './routes/tiles.ts';
import { readRoutes } from './routes/reads.ts';
import { deliveryRoutes } from './routes/deliveries.ts';
import { ImmutableAnswers } from './immutable.ts';

export interface AppDeps {
  log: Log;
  /** Largest accepted POST body in bytes (default 256 KiB: a bundle around a ≤ 64 KiB leaf). */
  bodyLimit?: number;
  /** Extra fastify plugins (e.g. the explorer page), registered after the API routes. */
  plugins?: Array<{ plugin: FastifyPluginAsync<Record<string, unknown>>; opts?: Record<string, unknown> }>;
  /** Log each request (default false: the CLI turns it on). */
  logger?: boolean;
  /** Timeouts and connection caps (default SERVER_LIMITS from #verifier). */
  limits?: ServerLimits;
}

export const DEFAULT_BODY_LIMIT = 256 * 1024;

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const bodyLimit = deps.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const limits = deps.limits ?? serverLimits();
  const answers = new ImmutableAnswers();
  const app = Fastify({
    ...serverOptions(limits),
    // Immutable reads already answered once are written before fastify routes them
    // (http/immutable.ts); the server gets the same limits fastify gives its own.
    serverFactory: (handler: (req: IncomingMessage, res: ServerResponse) => void) => {
      const o = serverOptions(limits);
      const server = createServer(o.http, (req, res) => {
        if (!answers.serve(req, res)) handler(req, res);
      });
      server.keepAliveTimeout = o.keepAliveTimeout;
      server.requestTimeout = o.requestTimeout;
      server.setTimeout(o.connectionTimeout);
      server.maxRequestsPerSocket = o.maxRequestsPerSocket;
      return server;
    },
    logger: deps.logger ?? false,
    bodyLimit,
    return503OnClosing: true,
    routerOptions: { caseSensitive: true, ignoreTrailingSlash: false, maxParamLength: 128 },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false } },
    ...errorOptions,
  });
  limitConnections(app.server, limits);
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit }, strictUtf8Body);
  app.addContentTypeParser(/^application\/[a-z0-9.+-]+\+json$/, { parseAs: 'buffer', bodyLimit }, strictUtf8Body);

  app.setErrorHandler((err, _req, reply) => {
    const h = toHttpError(err);
    if (h.status >= 500 && h.body.code === 'INTERNAL') app.log.error(err);
    sendHttpError(reply, h);
  });
  app.setNotFoundHandler((req, reply) => {
    sendHttpError(
      reply,
      toHttpError(new LogError('NOT_FOUND', 'no such route', { method: req.method, url: req.url.slice(0, 200) })),
    );
  });

  writeRoutes(app, deps.log, bodyLimit);
  tileRoutes(app, deps.log, answers);
  readRoutes(app, deps.log, answers);
  deliveryRoutes(app, deps.log);
  for (const p of deps.plugins ?? []) await app.register(p.plugin, p.opts ?? {});
  return app;
}
