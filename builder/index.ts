/**
 * builder/ public library entry (cli/, test/ and bench/ import builder only through this file
 * or builder/cli.ts). The EIF/cpio format code itself lives in the verifier (`#verifier`).
 */
export { BuilderError, BUILDER_ERROR_CODES, isBuilderError } from './src/errors.ts';
export type { BuilderErrorCode } from './src/errors.ts';
export { build, measurementsJson, BUILD_TOOL, BUILD_TOOL_VERSION } from './src/build.ts';
export type { BuildOptions, BuildResult } from './src/build.ts';
export { parseLock, formatLock } from './src/lock.ts';
export type { BuildLock, PinnedFile, PinnedRootfs, RootfsType } from './src/lock.ts';
export { diffEif, diffCpio, formatDiff } from './src/diff.ts';
export type { EifDiff, FileChange } from './src/diff.ts';
