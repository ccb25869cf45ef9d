/**
 * The builder's one error class (house rule: one class per folder, closed string codes,
 * public evidence only). Evidence carries file paths, digests, sizes and section names —
 * never key material or file contents. cli/exit-codes.ts maps `BuilderError` to exit 4.
 * Never rename or reuse a code; add new ones to the right group.
 */
import { CodedError } from '#verifier';

export const BUILDER_ERROR_CODES = [
  // inputs and the lock file (builder.lock.json)
  'INPUT_MISSING',
  'INPUT_DIGEST_MISMATCH',
  'INPUT_UNREADABLE',
  'LOCK_MISSING',
  'LOCK_MALFORMED',
  // rootfs ingestion (directory, docker-save tar, OCI layout)
  'ROOTFS_UNSUPPORTED',
  'ROOTFS_MALFORMED',
  'PATH_UNSAFE',
  // output
  'OUTPUT_EXISTS',
  'OUTPUT_FAILED',
  'SIGNING_INPUT_INVALID',
  // release signing and publishing (builder/src/release)
  'EIF_MISSING',
  'KEY_INVALID',
  'MEASUREMENTS_MISSING',
  'PUBLISH_BAD_ANSWER',
  'PUBLISH_REFUSED',
  'PUBLISH_UNREACHABLE',
  'SIGN_FAILED',
  'SOURCE_INVALID',
] as const;

export type BuilderErrorCode = (typeof BUILDER_ERROR_CODES)[number];

export class BuilderError extends CodedError<BuilderErrorCode> {
  override readonly name = 'BuilderError';
}

export function isBuilderError(e: unknown, code?: BuilderErrorCode): e is BuilderError {
  return e instanceof BuilderError && (code === undefined || e.code === code);
}
