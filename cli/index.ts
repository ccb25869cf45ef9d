/**
 * What other folders' tests may use of cli/ (test/architecture.test.ts: only through index.ts):
 * the `keycast` entry run in process, the demo with its live-services hook, the profile plumbing,
 * and the command table's dispatch (which module serves an argv: test/enclave-image-closure.test.ts).
 */
export { main } from './main.ts';
export { runKeycast, errorJson, type Ran } from './capture.ts';
export { runDemo } from './demo.ts';
export type { LiveStack } from './demo-checks.ts';
export { applyProfile, readProfile, PROFILE_COMMANDS } from './profile.ts';
export { findEntry, loaderFor } from './registry.ts';
export type { Loader } from './registry.ts';
