/**
 * The one table from EnclaveError codes to HTTP statuses, for both servers in this folder (the
 * enclave's API and the host's public API), and the one function that turns anything thrown
 * into a status and a JSON body `{ error, code, message, evidence }`. VerifierErrors from
 * parsing what a caller sent are client errors (400, 413 when oversized); fastify's own
 * request errors get enclave codes; anything else is a 500 that reveals nothing.
 */
import { isVerifierError, type VerifierErrorCode } from '#verifier';
import { EnclaveError, isEnclaveError, type EnclaveErrorCode } from '../errors.ts';

export const ENCLAVE_HTTP_STATUS: Record<EnclaveErrorCode, number> = {
  NSM_INVALID_ARGUMENT: 500,
  NSM_INVALID_INDEX: 500,
  NSM_INVALID_OPERATION: 500,
  NSM_INVALID_RESPONSE: 500,
  NSM_BUFFER_TOO_SMALL: 500,
  NSM_INPUT_TOO_LARGE: 500,
  NSM_INTERNAL_ERROR: 500,
  NSM_READ_ONLY_INDEX: 500,
  NSM_UNAVAILABLE: 503,
  NSM_IOCTL_FAILED: 500,
  NSM_REQUEST_TOO_LARGE: 500,
  NSM_RESPONSE_MALFORMED: 500,
  PKI_MALFORMED: 500,
  PKI_FILE_EXPOSED: 500,
  KMS_DENIED: 403,
  KMS_UNAVAILABLE: 502,
  KMS_INVALID_CIPHERTEXT: 422,
  KMS_NOT_FOUND: 502,
  KMS_VALIDATION: 502,
  KMS_MALFORMED_POLICY: 502,
  KMS_INCORRECT_KEY: 422,
  KMS_KEY_STORE: 502,
  KMS_UNKNOWN_OPERATION: 502,
  KMS_SERIALIZATION: 502,
  KMS_UNSUPPORTED_MEDIA: 502,
  KMS_REQUEST_TOO_LARGE: 502,
  KMS_MISSING_AUTHENTICATION: 502,
  KMS_UNRECOGNIZED_CLIENT: 502,
  KMS_INVALID_SIGNATURE: 502,
  KMS_REPLAYED: 502,
  CONFIG_MISSING: 500,
  TEST_ONLY_OPTION: 500,
  GATE_CLOSED: 503,
  BUNDLE_REPLAYED: 409,
  BUNDLE_UNWITNESSED: 409,
  IDENTITY_NOT_READY: 503,
  IDENTITY_EXISTS: 409,
  SEALED_MALFORMED: 400,
  UNSEAL_FAILED: 422,
  IDENTITY_GENESIS_MISSING: 422,
  IDENTITY_GENESIS_INVALID: 422,
  IDENTITY_NOT_PENDING: 409,
  REQUEST_MALFORMED: 400,
  REQUEST_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  NOT_FOUND: 404,
  NONCE_REPLAYED: 409,
  ENCLAVE_UNREACHABLE: 502,
  LOG_UNREACHABLE: 502,
  LOG_ANSWER_INVALID: 502,
  STORE_FAILED: 500,
  CREDENTIALS_UNAVAILABLE: 502,
  CREDENTIALS_TOKEN_REFUSED: 401,
  FORWARD_REQUEST_MALFORMED: 400,
  FORWARD_OVERSIZED: 413,
  FORWARD_REPLAY: 409,
  FORWARD_KEYS_MISMATCH: 422,
  FORWARD_RECIPIENT_INVALID: 422,
  FORWARD_RECIPIENT_NOT_ALLOWED: 403,
  FORWARD_SIGNER_VALIDITY: 503,
  FORWARD_FORMAT_NOT_ALLOWED: 403,
  FORWARD_RECIPIENT_NAME: 422,
  FORWARD_BUSY: 503,
  FORWARD_AUDIT_REQUIRED: 422,
  DELIVERY_NOT_PENDING: 409,
  DELIVERY_PROOF_INVALID: 422,
  DELIVERY_LOG_UNAVAILABLE: 503,
  DELIVERY_LOG_REFUSED: 503,
  DELIVERY_PENDING_FULL: 503,
};

/**
 * VerifierErrors keep their own codes through both servers (one name per refusal); those that
 * are not a plain 400 (a request that does not parse) say so here. DKDM_* refusals are all 422.
 */
export const VERIFIER_HTTP_STATUS: Partial<Record<VerifierErrorCode, number>> = {
  OVERSIZED: 413,
  SEALED_INVALID: 422,
  SEALED_BINDING: 422,
  SEALED_OUTDATED: 422,
  SIGNER_NOT_ALLOWED: 422,
  RULES_INVALID: 422,
  RULES_SIGNATURE: 422,
  RULES_EXPIRED: 422,
  RULES_OUTDATED: 422,
  REQUEST_OUTDATED: 400,
  REQUEST_EXPIRED: 403,
};

function verifierStatus(code: VerifierErrorCode): number {
  return VERIFIER_HTTP_STATUS[code] ?? (code.startsWith('DKDM_') ? 422 : 400);
}

export interface HttpError {
  status: number;
  body: { error: string; code: string; message: string; evidence: Record<string, unknown> };
}

const FASTIFY: Record<string, EnclaveErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'REQUEST_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'REQUEST_MALFORMED',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'REQUEST_MALFORMED',
  FST_ERR_VALIDATION: 'REQUEST_MALFORMED',
};

export function toHttpError(e: unknown): HttpError {
  if (isEnclaveError(e)) return { status: ENCLAVE_HTTP_STATUS[e.code], body: e.toJSON() };
  if (isVerifierError(e)) return { status: verifierStatus(e.code), body: e.toJSON() as HttpError['body'] };
  const fcode = (e as { code?: unknown })?.code;
  if (typeof fcode === 'string' && fcode in FASTIFY)
    return toHttpError(new EnclaveError(FASTIFY[fcode]!, (e as Error).message));
  const status = (e as { statusCode?: unknown })?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500)
    return toHttpError(new EnclaveError('REQUEST_MALFORMED', 'the request could not be read'));
  return { status: 500, body: { error: 'Error', code: 'INTERNAL', message: 'internal error', evidence: {} } };
}
