/**
 * The witness's HTTP face: c2sp.org/tlog-witness v1.0.0 `POST /add-checkpoint`.
 *   200  text/plain              the cosignature line(s)
 *   409  text/x.tlog.size        "<size>\n", the size this witness last cosigned for the log
 *   400/403/404/422/413          JSON { error, code, message, evidence } (LogError codes)
 * and, read-only (Keycast's, not in the spec), `GET /logs/<origin>/checkpoint` with the origin
 * URL-escaped as one path segment (encodeURIComponent): the latest checkpoint this witness
 * cosigned for that log, as a signed note carrying the log's signature(s) and this witness's
 * cosignature (200 text/plain; 404 WITNESS_UNKNOWN_LOG / NOT_FOUND). A monitor reads it as
 * another view of the log (keycast monitor --witness-url), so a log showing the witness one
 * tree and everyone else another is caught.
 * The body is read as text whatever its Content-Type (the spec names none), refused unless it
 * is well-formed UTF-8 (a signed note is), and capped at
 * 64 KiB. The new state is durable before the 200 is sent (Witness.addCheckpoint). The server
 * runs with the shared SERVER_LIMITS (#verifier/build).
 */
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import { limitConnections, serverLimits, serverOptions } from '#verifier/build';
import type { NoteSigner, ServerLimits } from '#verifier/build';
import { LogError } from '../errors.ts';
import { errorOptions, sendHttpError, toHttpError } from '../http/errors.ts';
import { Witness } from './witness.ts';
import { strictUtf8Body } from '../http/body.ts';
import type { WitnessedLog } from './witness.ts';
import type { WitnessState } from './state.ts';

export const WITNESS_BODY_LIMIT = 64 * 1024;
export const SIZE_CONTENT_TYPE = 'text/x.tlog.size';

export interface WitnessAppOptions {
  state: WitnessState;
  signer: NoteSigner;
  logs: WitnessedLog[];
  logger?: boolean;
  log?: (msg: string) => void;
  /** Timeouts and connection caps (default SERVER_LIMITS from #verifier/build). */
  limits?: ServerLimits;
}

export async function buildWitnessApp(o: WitnessAppOptions): Promise<FastifyInstance> {
  const witness = new Witness({ state: o.state, signer: o.signer, logs: o.logs, ...(o.log ? { log: o.log } : {}) });
  const limits = o.limits ?? serverLimits();
  const app = Fastify({
    ...serverOptions(limits),
    logger: o.logger ?? false,
    bodyLimit: WITNESS_BODY_LIMIT,
    routerOptions: { caseSensitive: true },
    ...errorOptions,
  });
  limitConnections(app.server, limits);
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: WITNESS_BODY_LIMIT }, strictUtf8Body);

  app.setErrorHandler((err, _req, reply) => {
    const h = toHttpError(err);
    // the spec's one non-JSON refusal: the size this witness last cosigned, as text
    if (h.body.code === 'WITNESS_CONFLICT')
      return reply.code(h.status).type(SIZE_CONTENT_TYPE).send(`${h.body.evidence.size}\n`);
    if (h.status >= 500) app.log.error(err);
    return sendHttpError(reply, h);
  });
  app.setNotFoundHandler((req, reply) => {
    sendHttpError(
      reply,
      toHttpError(new LogError('NOT_FOUND', 'no such route', { method: req.method, url: req.url.slice(0, 200) })),
    );
  });

  app.post('/add-checkpoint', async (req, reply) => {
    const body = typeof req.body === 'string' ? req.body : '';
    const lines = await witness.addCheckpoint(body);
    return reply.code(200).type('text/plain; charset=utf-8').send(lines);
  });
  app.get<{ Params: { origin: string } }>('/logs/:origin/checkpoint', async (req, reply) =>
    reply.code(200).type('text/plain; charset=utf-8').send(witness.latestCheckpoint(req.params.origin)),
  );
  app.get('/', async (_req, reply) =>
    reply.type('text/plain; charset=utf-8').send(`c2sp.org/tlog-witness ${witness.name}\n`),
  );
  return app;
}
