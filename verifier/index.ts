/**
 * @keycast/verifier — the pure trust core. Every other folder imports verifier/ only through
 * this file (as `#verifier`). Library code here does no I/O: bytes and trusted inputs in,
 * a typed result or a coded VerifierError out.
 */
export { VerifierError, VERIFIER_ERROR_CODES, isVerifierError } from './src/errors.ts';
export type { VerifierErrorCode, Evidence } from './src/errors.ts';
