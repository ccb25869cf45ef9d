/**
 * Stable exit codes. Each folder has one error class with a closed set of codes; the CLI
 * maps the class to a family exit code and prints the code itself (and `--json` gives the
 * full error with evidence). These numbers never change meaning.
 */
// Types only: `keycast --help` must not load the verifier.
import type { VerifierErrorCode } from '#verifier';
import { IoError, fileError } from '#flag-kit';

export const EXIT = {
  OK: 0,
  /** a verification refused: the thing checked is not what it claims (VerifierError) */
  VERIFICATION_FAILED: 1,
  /** bad flags or arguments */
  USAGE: 2,
  /** the log refused or failed (LogError) */
  LOG_ERROR: 3,
  /** the builder refused or failed (BuilderError) */
  BUILD_ERROR: 4,
  /** the enclave or NSM refused or failed (EnclaveError) */
  ENCLAVE_ERROR: 5,
  /** I/O: a file or a network peer could not be read */
  IO_ERROR: 6,
  /** a bug: anything uncoded */
  INTERNAL: 70,
} as const;

/** VerifierError codes whose exit code is not their family's: a log that could not be asked or answered nonsense is not a verdict on what was checked. */
const BY_CODE = {
  LOG_UNAVAILABLE: EXIT.LOG_ERROR,
  LOG_REFUSED: EXIT.LOG_ERROR,
  LOG_RESPONSE_INVALID: EXIT.LOG_ERROR,
  LOG_RESPONSE_OVERSIZED: EXIT.LOG_ERROR,
  /** the host refused a forward request without a coded answer (the enclave's own refusals keep their codes: RelayedRefusal, exit 5) */
  FORWARD_REFUSED: EXIT.ENCLAVE_ERROR,
} satisfies Partial<Record<VerifierErrorCode, number>>;

const FAMILY: Record<string, number> = {
  VerifierError: EXIT.VERIFICATION_FAILED,
  UsageError: EXIT.USAGE,
  LogError: EXIT.LOG_ERROR,
  BuilderError: EXIT.BUILD_ERROR,
  EnclaveError: EXIT.ENCLAVE_ERROR,
  /** a file the user named could not be read (a directory, missing, not a regular file) */
  IoError: EXIT.IO_ERROR,
};

export interface CodedError {
  name: string;
  code: string;
  message: string;
  evidence?: unknown;
}

export function isCoded(e: unknown): e is CodedError {
  return e instanceof Error && typeof (e as { code?: unknown }).code === 'string' && (e as Error).name in FAMILY;
}

export function exitCodeFor(e: unknown): number {
  if (isCoded(e) && e.name === 'VerifierError' && Object.hasOwn(BY_CODE, e.code))
    return BY_CODE[e.code as keyof typeof BY_CODE];
  if (isCoded(e)) return FAMILY[e.name] ?? EXIT.INTERNAL;
  // node's own system errors (ENOENT, EACCES, …) reading files the user named
  const sys = (e as { code?: unknown } | undefined)?.code;
  if (typeof sys === 'string' && /^E[A-Z]+$/.test(sys)) return EXIT.IO_ERROR;
  return EXIT.INTERNAL;
}

/** A Node system error (errno code) with the path it concerns, if any. */
function systemError(e: unknown): { code: string; path?: string; message: string } | undefined {
  for (let c = e, depth = 0; c instanceof Error && depth < 4; c = (c as { cause?: unknown }).cause, depth++) {
    const code = (c as { code?: unknown }).code;
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code) && (c as Error).name !== 'IoError') {
      const path = (c as { path?: unknown }).path;
      return { code, message: c.message, ...(typeof path === 'string' ? { path } : {}) };
    }
  }
  return undefined;
}

/**
 * One I/O error everywhere: an uncoded system error (a read that failed, a peer that refused),
 * or a folder's coded error whose cause is a failed file read, becomes an IoError (exit 6)
 * naming the file, so the same mistake gives the same exit code and JSON in every command.
 */
export function normalizeError(e: unknown): unknown {
  if (e instanceof IoError || (e instanceof Error && e.name === 'IoError')) return e;
  const sys = systemError(e);
  if (!sys) return e;
  if (sys.path !== undefined) return fileError(sys.code, sys.path);
  if (isCoded(e)) return e;
  return new IoError(sys.code, e instanceof Error ? e.message : sys.message);
}

/** Thrown by argument parsing (defined in the kit every folder's cli.ts uses). */
export { UsageError } from '#flag-kit';
