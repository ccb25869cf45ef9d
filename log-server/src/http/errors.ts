/**
 * The one mapping from every error the log server and the witness server can raise to an HTTP
 * status and a JSON body `{ error, code, message, evidence }`, with `code` always from the closed
 * set HTTP_ERROR_CODES (LogError codes and the VerifierError codes the log passes through).
 *
 * HTTP_STATUS is typed over that union, so a renamed or added code is a type error until it has
 * a status. Verifier refusals are client errors: malformed input 400, oversized 413, signer not
 * allowed 403, bad tile path 404, any other refusal 422. fastify's own errors (body too large,
 * bad media type, schema failures, bad URL encoding, over-long parameters) and node's HTTP
 * parser errors get log codes; anything else is a 500 INTERNAL that reveals nothing.
 */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyReply, FastifyServerOptions } from 'fastify';
import { VERIFIER_ERROR_CODES, isVerifierError, type CodedErrorJson, type VerifierErrorCode } from '#verifier';
import { LOG_ERROR_CODES, LogError, isLogError, type LogErrorCode } from '../errors.ts';

export type HttpErrorCode = LogErrorCode | VerifierErrorCode;

/** Every `code` an error body can carry. */
export const HTTP_ERROR_CODES: readonly HttpErrorCode[] = [
  ...new Set<HttpErrorCode>([...LOG_ERROR_CODES, ...VERIFIER_ERROR_CODES]),
];

/** HTTP status of every log code. Integrity codes are 500: the client did nothing wrong. */
export const LOG_ERROR_STATUS: Record<LogErrorCode, number> = {
  MALFORMED_REQUEST: 400,
  REQUEST_TIMEOUT: 408,
  HEADERS_TOO_LARGE: 431,
  NON_CANONICAL_NUMBER: 400,
  PAYLOAD_TOO_LARGE: 413,
  ENTRY_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  ENTRY_REJECTED: 422,
  SIGNER_NOT_ALLOWED: 403,
  REVOCATION_TARGET: 422,
  MEASUREMENT_REVOKED: 422,
  IDENTITY_UNTRUSTED: 403,
  IDENTITY_RELEASE_NOT_LOGGED: 403,
  IDENTITY_RELEASE_REVOKED: 403,
  DELIVERY_UNREGISTERED: 403,
  DELIVERY_RELEASE_REVOKED: 403,
  DELIVERY_CONFLICT: 409,
  NOT_FOUND: 404,
  TILE_NOT_FOUND: 404,
  OUT_OF_RANGE: 400,
  PUSHBACK: 503,
  SHUTTING_DOWN: 503,
  CHECKPOINT_CONFLICT: 500,
  STARTUP_MISMATCH: 500,
  DATA_EXISTS: 409,
  DATA_MISSING: 500,
  KEY_INVALID: 500,
  STORAGE_FAILED: 500,
  PUBLISH_FAILED: 500,
  INTERNAL: 500,
  WITNESS_UNKNOWN_LOG: 404,
  WITNESS_UNTRUSTED: 403,
  WITNESS_CONFLICT: 409,
  WITNESS_INCONSISTENT: 422,
  WITNESS_STATE: 500,
};

/** Verifier codes whose status is not the default 422. */
const VERIFIER_SPECIAL = {
  MALFORMED: 400,
  RELEASE_MALFORMED: 400,
  OVERSIZED: 413,
  TILE_PATH_INVALID: 404,
  SIGNER_NOT_ALLOWED: 403,
  DELIVERY_INVALID: 400,
  IDENTITY_ENTRY_INVALID: 400,
} satisfies Partial<Record<VerifierErrorCode, number>>;

/** The one table: the HTTP status of every code an error body can carry. */
export const HTTP_STATUS: Record<HttpErrorCode, number> = {
  ...(Object.fromEntries(
    VERIFIER_ERROR_CODES.map((c) => [c, (VERIFIER_SPECIAL as Partial<Record<VerifierErrorCode, number>>)[c] ?? 422]),
  ) as Record<VerifierErrorCode, number>),
  ...LOG_ERROR_STATUS,
};

/** fastify's error codes, as log codes (everything else fastify raises with a 4xx is MALFORMED_REQUEST). */
const FASTIFY = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'MALFORMED_REQUEST',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'MALFORMED_REQUEST',
  FST_ERR_VALIDATION: 'MALFORMED_REQUEST',
  FST_ERR_BAD_URL: 'MALFORMED_REQUEST',
  FST_ERR_MAX_PARAM_LENGTH: 'MALFORMED_REQUEST',
} satisfies Record<string, LogErrorCode>;

/** node's HTTP parser errors (before fastify sees a request), as log codes. */
const PARSER: Record<string, LogErrorCode> = {
  HPE_HEADER_OVERFLOW: 'HEADERS_TOO_LARGE',
  ERR_HTTP_REQUEST_TIMEOUT: 'REQUEST_TIMEOUT',
};

export interface HttpError {
  status: number;
  body: CodedErrorJson<HttpErrorCode>;
  retryAfter?: number;
}

function logAnswer(e: LogError): HttpError {
  const out: HttpError = { status: HTTP_STATUS[e.code], body: e.toJSON() };
  if (e.code === 'PUSHBACK' || e.code === 'SHUTTING_DOWN') out.retryAfter = 1;
  return out;
}

export function toHttpError(e: unknown): HttpError {
  if (isLogError(e)) return logAnswer(e);
  if (isVerifierError(e)) return { status: HTTP_STATUS[e.code], body: e.toJSON() };
  const fcode = (e as { code?: unknown } | null)?.code;
  if (typeof fcode === 'string' && Object.hasOwn(FASTIFY, fcode)) {
    const code = FASTIFY[fcode as keyof typeof FASTIFY];
    return logAnswer(new LogError(code, (e as Error).message.slice(0, 200), {}));
  }
  const status = (e as { statusCode?: unknown } | null)?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500)
    return logAnswer(new LogError('MALFORMED_REQUEST', (e as Error).message.slice(0, 200), {}));
  return logAnswer(new LogError('INTERNAL', 'internal error', {}));
}

/** Sends `h` as the reply (with Retry-After when it says so). */
export function sendHttpError(reply: FastifyReply, h: HttpError): FastifyReply {
  if (h.retryAfter !== undefined) reply.header('retry-after', String(h.retryAfter));
  return reply.code(h.status).type('application/json').send(h.body);
}

/**
 * fastify options both servers pass, so that errors raised before routing (bad URL encoding,
 * over-long parameters) and by node's HTTP parser (malformed requests, oversized headers) answer
 * with the same coded bodies as everything else.
 */
export const errorOptions = {
  frameworkErrors(err: Error, _req: unknown, reply: FastifyReply) {
    sendHttpError(reply, toHttpError(err));
  },
  clientErrorHandler(err: Error & { code?: string }, socket: Socket) {
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    const e = new LogError(PARSER[err.code ?? ''] ?? 'MALFORMED_REQUEST', 'the HTTP request could not be parsed', {});
    const status = HTTP_STATUS[e.code];
    const body = JSON.stringify(e.toJSON());
    if (socket.writable)
      socket.write(
        `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${body}`,
      );
    socket.destroy();
  },
} satisfies Pick<FastifyServerOptions, 'frameworkErrors' | 'clientErrorHandler'>;

/** The JSON schema of every error body (fastify serialises 4xx/5xx replies with it). */
export const errorSchema = {
  type: 'object',
  required: ['error', 'code', 'message'],
  properties: {
    error: { type: 'string' },
    code: { type: 'string', enum: HTTP_ERROR_CODES },
    message: { type: 'string' },
    evidence: { type: 'object', additionalProperties: true },
  },
} as const;
