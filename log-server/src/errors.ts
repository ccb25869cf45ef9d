/**
 * The log server's one error class and its code registry (the LOG_ERR table).
 *
 * Every refusal the log makes carries one of the closed set of codes below. Each code maps to
 * exactly one HTTP status in HTTP_STATUS (src/http/errors.ts), the one table both servers (log
 * and witness) answer from, so a client can rely on `code` rather than on message text. Evidence is public material only
 * (sizes, indexes, hashes, checkpoints); never keys, never submitted secrets.
 *
 * Pushback (the pool is full) is 503 with a Retry-After header, as tessera's ErrPushback.
 */
import { CodedError } from '#verifier';

export const LOG_ERROR_CODES = [
  // request shape (400/408/413/415/431), including what fastify and node's HTTP parser refuse
  'MALFORMED_REQUEST',
  'REQUEST_TIMEOUT',
  'HEADERS_TOO_LARGE',
  'NON_CANONICAL_NUMBER',
  'PAYLOAD_TOO_LARGE',
  'ENTRY_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
  // admission (the bundle itself is refused)
  'ENTRY_REJECTED',
  'SIGNER_NOT_ALLOWED',
  'REVOCATION_TARGET',
  'MEASUREMENT_REVOKED',
  // delivery transparency (issue 19): identity entries (attested enclaves) and their delivery entries
  /** the identity attestation does not verify under the log's trust root (evidence.check: the verifier code) */
  'IDENTITY_UNTRUSTED',
  /** the attested PCR0 is not a release logged here */
  'IDENTITY_RELEASE_NOT_LOGGED',
  /** the attested PCR0's release was revoked */
  'IDENTITY_RELEASE_REVOKED',
  /** a delivery entry not signed by a receipt key an identity entry registered (forged, other key, unregistered enclave) */
  'DELIVERY_UNREGISTERED',
  /** a delivery entry from an enclave whose release was revoked */
  'DELIVERY_RELEASE_REVOKED',
  /** a delivery entry for a request this receipt key already logged, with other contents */
  'DELIVERY_CONFLICT',
  // reads
  'NOT_FOUND',
  'TILE_NOT_FOUND',
  'OUT_OF_RANGE',
  // load and lifecycle
  'PUSHBACK',
  'SHUTTING_DOWN',
  // integrity (the log refuses to continue)
  'CHECKPOINT_CONFLICT',
  'STARTUP_MISMATCH',
  'DATA_EXISTS',
  'DATA_MISSING',
  'KEY_INVALID',
  'STORAGE_FAILED',
  'PUBLISH_FAILED',
  // a bug or an unexpected failure: the body says nothing more
  'INTERNAL',
  // witness (c2sp.org/tlog-witness add-checkpoint)
  'WITNESS_UNKNOWN_LOG',
  'WITNESS_UNTRUSTED',
  'WITNESS_CONFLICT',
  'WITNESS_INCONSISTENT',
  'WITNESS_STATE',
] as const;

export type LogErrorCode = (typeof LOG_ERROR_CODES)[number];

export type { Evidence } from '#verifier';

export class LogError extends CodedError<LogErrorCode> {
  override readonly name = 'LogError';
}

export function isLogError(e: unknown, code?: LogErrorCode): e is LogError {
  return e instanceof LogError && (code === undefined || e.code === code);
}
