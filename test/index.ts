/**
 * Public entry of test/ for bench/: the fixtures a benchmark may share with the tests instead of
 * repeating them (the private PostgreSQL cluster).
 */
export { pgUnavailable, startPgCluster } from './pg-cluster.ts';
export type { PgCluster } from './pg-cluster.ts';
// the enclave stack through the real CLI on loopback (log, witnesses, dev-kms, enclave + host pairs): bench/forward's delivery figures
export { startStack } from './enclave-stack.ts';
export { start, type Proc } from './enclave-e2e-helpers.ts';
