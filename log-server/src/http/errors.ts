/**
 * One mapping from every error the log can raise to an HTTP status and a JSON body
 * `{ error, code, message, evidence }`. LogError statuses come from LOG_ERROR_STATUS;
 * VerifierErrors (a refused bundle, a bad tile path) are client errors: malformed input 400,
 * oversized 413, signer not allowed 403, bad tile path 404, any other refusal 422; fastify's own
 * request errors (body too large, bad JSON, schema failures) get log codes; anything else is
 * a 500 that reveals nothing.
 */
import { isVerifierError } from '#verifier';
import { LogError, isLogError } from '../errors.ts';

export interface HttpError {
  status: number;
  body: { error: string; code: string; message: string; evidence: Record<string, unknown> };
  retryAfter?: number;
}

const VERIFIER_STATUS: Partial<Record<string, number>> = {
  MALFORMED: 400,
  RELEASE_MALFORMED: 400,
  OVERSIZED: 413,
  TILE_PATH_INVALID: 404,
};

/** Verifier codes that mean "the signer is not one this log accepts". */
const FORBIDDEN = new Set(['SIGNER_NOT_ALLOWED']);

const FASTIFY: Record<string, LogError['code']> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'MALFORMED_REQUEST',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'MALFORMED_REQUEST',
  FST_ERR_VALIDATION: 'MALFORMED_REQUEST',
};

export function toHttpError(e: unknown): HttpError {
  if (isLogError(e)) {
    const out: HttpError = { status: e.status, body: e.toJSON() };
    if (e.code === 'PUSHBACK' || e.code === 'SHUTTING_DOWN') out.retryAfter = 1;
    return out;
  }
  if (isVerifierError(e)) {
    const status = FORBIDDEN.has(e.code) ? 403 : (VERIFIER_STATUS[e.code] ?? 422);
    return { status, body: e.toJSON() as HttpError['body'] };
  }
  const fcode = (e as { code?: unknown })?.code;
  if (typeof fcode === 'string' && fcode in FASTIFY) {
    const le = new LogError(FASTIFY[fcode]!, (e as Error).message, {});
    return { status: le.status, body: le.toJSON() };
  }
  const status = (e as { statusCode?: unknown })?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const le = new LogError('MALFORMED_REQUEST', (e as Error).message, {});
    return { status, body: le.toJSON() };
  }
  return { status: 500, body: { error: 'Error', code: 'INTERNAL', message: 'internal error', evidence: {} } };
}

/** The JSON schema of every error body (fastify serialises 4xx/5xx replies with it). */
export const errorSchema = {
  type: 'object',
  required: ['error', 'code', 'message'],
  properties: {
    error: { type: 'string' },
    code: { type: 'string' },
    message: { type: 'string' },
    evidence: { type: 'object', additionalProperties: true },
  },
} as const;
