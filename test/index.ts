/**
 * Public entry of test/ for bench/: the fixtures a benchmark may share with the tests instead of
 * repeating them (the private PostgreSQL cluster).
 */
export { pgUnavailable, startPgCluster } from './pg-cluster.ts';
export type { PgCluster } from './pg-cluster.ts';
