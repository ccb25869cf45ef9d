/**
 * Stable exit codes. Each folder has one error class with a closed set of codes; the CLI
 * maps the class to a family exit code and prints the code itself (and `--json` gives the
 * full error with evidence). These numbers never change meaning.
 */
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

/**
 * VerifierError codes that are not a verdict on what was checked but on the log it was checked
 * against (unreachable, refusing, answering nonsense): the log's exit code.
 */
const VERIFIER_LOG_CODES = new Set(['LOG_UNAVAILABLE', 'LOG_REFUSED', 'LOG_RESPONSE_INVALID', 'LOG_RESPONSE_OVERSIZED']);

export function exitCodeFor(e: unknown): number {
  if (isCoded(e) && e.name === 'VerifierError' && VERIFIER_LOG_CODES.has(e.code)) return EXIT.LOG_ERROR;
  if (isCoded(e)) return FAMILY[e.name] ?? EXIT.INTERNAL;
  const sys = (e as { code?: unknown } | undefined)?.code;
  if (typeof sys === 'string' && /^E[A-Z]+$/.test(sys)) return EXIT.IO_ERROR;
  return EXIT.INTERNAL;
}

/** Thrown by argument parsing (defined in the kit every folder's cli.ts uses). */
export { UsageError } from './kit.ts';
