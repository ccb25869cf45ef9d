/**
 * The log server's one error class and its code registry (the LOG_ERR table).
 *
 * Every refusal the log makes carries one of the closed set of codes below. Each code maps to
 * exactly one HTTP status in LOG_ERROR_STATUS, which the HTTP layer uses for every reply, so a
 * client can rely on `code` rather than on message text. Evidence is public material only
 * (sizes, indexes, hashes, checkpoints); never keys, never submitted secrets.
 *
 * Pushback (the pool is full) is 503 with a Retry-After header, as tessera's ErrPushback.
 */
export const LOG_ERROR_CODES = [
  // request shape (400/413/415)
  'MALFORMED_REQUEST',
  'NON_CANONICAL_NUMBER',
  'PAYLOAD_TOO_LARGE',
  'ENTRY_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
  // admission (the bundle itself is refused)
  'ENTRY_REJECTED',
  'SIGNER_NOT_ALLOWED',
  'REVOCATION_TARGET',
  'MEASUREMENT_REVOKED',
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
  // witness (c2sp.org/tlog-witness add-checkpoint)
  'WITNESS_UNKNOWN_LOG',
  'WITNESS_UNTRUSTED',
  'WITNESS_CONFLICT',
  'WITNESS_INCONSISTENT',
  'WITNESS_STATE',
] as const;

export type LogErrorCode = (typeof LOG_ERROR_CODES)[number];

/** HTTP status for every code. Integrity codes are 500: the client did nothing wrong. */
export const LOG_ERROR_STATUS: Record<LogErrorCode, number> = {
  MALFORMED_REQUEST: 400,
  NON_CANONICAL_NUMBER: 400,
  PAYLOAD_TOO_LARGE: 413,
  ENTRY_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  ENTRY_REJECTED: 422,
  SIGNER_NOT_ALLOWED: 403,
  REVOCATION_TARGET: 422,
  MEASUREMENT_REVOKED: 422,
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
  WITNESS_UNKNOWN_LOG: 404,
  WITNESS_UNTRUSTED: 403,
  WITNESS_CONFLICT: 409,
  WITNESS_INCONSISTENT: 422,
  WITNESS_STATE: 500,
};

export type Evidence = Record<string, unknown>;

export class LogError extends Error {
  override readonly name = 'LogError';
  readonly code: LogErrorCode;
  readonly evidence: Evidence;

  constructor(code: LogErrorCode, message: string, evidence: Evidence = {}, options?: { cause?: unknown }) {
    super(`${code}: ${message}`, options);
    this.code = code;
    this.evidence = evidence;
  }

  get status(): number {
    return LOG_ERROR_STATUS[this.code];
  }

  toJSON(): { error: string; code: LogErrorCode; message: string; evidence: Evidence } {
    const evidence: Evidence = {};
    for (const [k, v] of Object.entries(this.evidence)) evidence[k] = v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v;
    return { error: this.name, code: this.code, message: this.message, evidence };
  }
}

export function isLogError(e: unknown, code?: LogErrorCode): e is LogError {
  return e instanceof LogError && (code === undefined || e.code === code);
}
