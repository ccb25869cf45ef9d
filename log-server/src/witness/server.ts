/**
 * The witness's HTTP face: c2sp.org/tlog-witness v1.0.0 `POST /add-checkpoint`.
 *   200  text/plain              the cosignature line(s)
 *   409  text/x.tlog.size        "<size>\n", the size this witness last cosigned for the log
 *   400/403/404/422/413          JSON { error, code, message, evidence } (LogError codes)
 * The body is read as text whatever its Content-Type (the spec names none) and capped at
 * 64 KiB. The new state is durable before the 200 is sent (Witness.addCheckpoint). The server
 * runs with the shared SERVER_LIMITS (#verifier).
 */
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import { limitConnections, serverLimits, serverOptions } from '#verifier';
import type { NoteSigner, ServerLimits } from '#verifier';
import { LogError, isLogError } from '../errors.ts';
import { Witness } from './witness.ts';
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
  /** Timeouts and connection caps (default SERVER_LIMITS from #verifier). */
  limits?: ServerLimits;
}

export async function buildWitnessApp(o: WitnessAppOptions): Promise<FastifyInstance> {
  const witness = new Witness({ state: o.state, signer: o.signer, logs: o.logs, ...(o.log ? { log: o.log } : {}) });
  const limits = o.limits ?? serverLimits();
  const app = Fastify({ ...serverOptions(limits), logger: o.logger ?? false, bodyLimit: WITNESS_BODY_LIMIT, routerOptions: { caseSensitive: true } });
  limitConnections(app.server, limits);
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: WITNESS_BODY_LIMIT }, (_req, body, done) => done(null, body));

  app.setErrorHandler((err, _req, reply) => {
    const e = asLogError(err);
    if (e.code === 'WITNESS_CONFLICT') {
      return reply.code(409).type(SIZE_CONTENT_TYPE).send(`${e.evidence.size}\n`);
    }
    if (e.status >= 500) app.log.error(err);
    return reply.code(e.status).type('application/json').send(e.toJSON());
  });
  app.setNotFoundHandler((req, reply) => {
    const e = new LogError('NOT_FOUND', 'no such route', { method: req.method, url: req.url.slice(0, 200) });
    reply.code(404).type('application/json').send(e.toJSON());
  });

  app.post('/add-checkpoint', async (req, reply) => {
    const body = typeof req.body === 'string' ? req.body : '';
    const lines = await witness.addCheckpoint(body);
    return reply.code(200).type('text/plain; charset=utf-8').send(lines);
  });
  app.get('/', async (_req, reply) => reply.type('text/plain; charset=utf-8').send(`c2sp.org/tlog-witness ${witness.name}\n`));
  return app;
}

function asLogError(err: unknown): LogError {
  if (isLogError(err)) return err;
  const code = (err as { code?: unknown })?.code;
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new LogError('PAYLOAD_TOO_LARGE', 'request body too large', { limit: WITNESS_BODY_LIMIT });
  const status = (err as { statusCode?: unknown })?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) return new LogError('MALFORMED_REQUEST', 'bad request', {});
  return new LogError('WITNESS_STATE', 'internal witness error', {});
}
