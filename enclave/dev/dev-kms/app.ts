/**
 * dev-kms's HTTP face: `POST /` in the KMS JSON 1.1 protocol — `Content-Type:
 * application/x-amz-json-1.1`, `X-Amz-Target: TrentService.<Operation>`, a SigV4 Authorization
 * header (sigv4.ts), a JSON object body (duplicate keys refused) of at most 128 KiB. Answers
 * are JSON 1.1 too; refusals are `{"__type": <AWS type>, "message": …}` with the status from
 * statuses.ts. Order: content type, target, signature, body, operation — so an unsigned or
 * malformed request never reaches a key. Runs with the shared SERVER_LIMITS (#verifier/build).
 *
 * Without `credentials` (development only) signatures are not checked and every caller acts as
 * `unverifiedPrincipal`; PutKeyPolicy is then refused (KMS_DENIED) for everyone, since the
 * administrator cannot be told apart from the enclave's host.
 *
 * `onRequestDone` sees the operation, status and code of each request (never a body): the CLI
 * logs it. Nothing secret is ever put into a log line, an error or a non-200 answer.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { limitConnections, parseJsonStrict, serverLimits, serverOptions, type ServerLimits } from '#verifier/build';
import { EnclaveError, isEnclaveError } from '../../common/errors.ts';
import type { KmsCore } from '../kms/core.ts';
import { OPERATIONS } from './protocol.ts';
import { authenticate, ReplayGuard, type Credential } from './sigv4.ts';
import { KMS_ERRORS } from './statuses.ts';

export const DEV_KMS_BODY_LIMIT = 128 * 1024;
export const JSON_11 = 'application/x-amz-json-1.1';
const TARGET_RE = /^TrentService\.([A-Za-z]{1,64})$/;
/** Operations only a key administrator may call: refused outright when callers are not authenticated. */
const ADMINISTRATION_ONLY = new Set(['PutKeyPolicy']);

export interface DevKmsAppOptions {
  core: KmsCore;
  /** verify signatures with these; absent: any well-formed signature passes as `unverifiedPrincipal` */
  credentials?: readonly Credential[];
  unverifiedPrincipal?: string;
  limits?: ServerLimits;
  now?: () => number;
  onRequestDone?: (e: {
    operation: string | null;
    status: number;
    code: string | null;
    principal: string | null;
  }) => void;
}

interface Outcome {
  operation: string | null;
  principal: string | null;
  code: string | null;
}

export async function buildDevKmsApp(o: DevKmsAppOptions): Promise<FastifyInstance> {
  const limits = o.limits ?? serverLimits();
  const now = o.now ?? Date.now;
  const credentials = o.credentials ? new Map(o.credentials.map((c) => [c.accessKeyId, c])) : undefined;
  const unverifiedPrincipal = o.unverifiedPrincipal ?? `arn:aws:iam::${o.core.accountId}:role/dev-kms-caller`;
  const replay = new ReplayGuard(now);
  const app = Fastify({
    ...serverOptions(limits),
    logger: false,
    bodyLimit: DEV_KMS_BODY_LIMIT,
    routerOptions: { caseSensitive: true },
  });
  limitConnections(app.server, limits);
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: DEV_KMS_BODY_LIMIT }, (_req, body, done) =>
    done(null, body),
  );

  const outcome = new WeakMap<object, Outcome>();
  const record = (raw: object): Outcome => {
    let r = outcome.get(raw);
    if (!r) outcome.set(raw, (r = { operation: null, principal: null, code: null }));
    return r;
  };
  const send = (req: FastifyRequest, reply: FastifyReply, e: EnclaveError) => {
    const m = KMS_ERRORS[e.code] ?? { type: 'KMSInternalException', status: 500 };
    record(req.raw).code = e.code;
    reply.header('x-amzn-ErrorType', m.type);
    return reply
      .code(m.status)
      .type(JSON_11)
      .send(JSON.stringify({ __type: m.type, message: e.message, code: e.code }));
  };

  app.setErrorHandler((err, req, reply) => send(req, reply, asEnclaveError(err)));
  app.setNotFoundHandler((req, reply) =>
    send(req, reply, new EnclaveError('KMS_UNKNOWN_OPERATION', 'dev-kms answers POST / only')),
  );
  app.addHook('onResponse', async (req, reply) => {
    const r = record(req.raw);
    o.onRequestDone?.({ operation: r.operation, status: reply.statusCode, code: r.code, principal: r.principal });
  });

  app.post('/', async (req, reply) => {
    const ctype = String(req.headers['content-type'] ?? '')
      .split(';')[0]!
      .trim()
      .toLowerCase();
    if (ctype !== JSON_11) throw new EnclaveError('KMS_UNSUPPORTED_MEDIA', `Content-Type must be ${JSON_11}`);
    const target = String(req.headers['x-amz-target'] ?? '');
    const m = TARGET_RE.exec(target);
    const op = m && Object.hasOwn(OPERATIONS, m[1]!) ? OPERATIONS[m[1]!]! : null;
    if (!op || !m)
      throw new EnclaveError(
        'KMS_UNKNOWN_OPERATION',
        `X-Amz-Target must be TrentService.<${Object.keys(OPERATIONS).join('|')}>`,
      );
    const rec = record(req.raw);
    rec.operation = m[1]!;
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const who = authenticate(
      { method: req.method, path: req.url, headers: req.headers, body },
      { region: o.core.region, ...(credentials ? { credentials } : {}), unverifiedPrincipal, now },
      replay,
    );
    rec.principal = who.principal;
    if (!credentials && ADMINISTRATION_ONLY.has(m[1]!))
      // without --credentials every caller is the same unverified principal — the enclave's host
      // among them — so no one can be told apart from the key's administrator
      throw new EnclaveError(
        'KMS_DENIED',
        `dev-kms without --credentials authenticates no one, so it refuses ${m[1]}: start it with --credentials to name an administrator`,
        { operation: m[1]! },
      );
    let parsed: unknown;
    try {
      parsed = parseJsonStrict(body, DEV_KMS_BODY_LIMIT, 'the request body');
    } catch {
      throw new EnclaveError(
        'KMS_SERIALIZATION',
        'the request body is not one UTF-8 JSON object without repeated keys',
      );
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
      throw new EnclaveError('KMS_SERIALIZATION', 'the request body must be a JSON object');
    const answer = await op(o.core, who.principal, parsed as Record<string, unknown>);
    return reply.code(200).type(JSON_11).send(JSON.stringify(answer));
  });
  return app;
}

function asEnclaveError(err: unknown): EnclaveError {
  if (isEnclaveError(err)) return err;
  const code = (err as { code?: unknown })?.code;
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE')
    return new EnclaveError('KMS_REQUEST_TOO_LARGE', `the request body is over ${DEV_KMS_BODY_LIMIT} bytes`);
  if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
    return new EnclaveError('KMS_UNSUPPORTED_MEDIA', `Content-Type must be ${JSON_11}`);
  const status = (err as { statusCode?: unknown })?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500)
    return new EnclaveError('KMS_SERIALIZATION', 'the request could not be read');
  return new EnclaveError('KMS_UNAVAILABLE', 'internal error');
}
