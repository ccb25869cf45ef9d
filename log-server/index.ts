/**
 * Public entry of log-server/ for test/, bench/ and the demo: create or open a log, build the
 * HTTP app, and the ports with their in-memory implementations.
 */
export { LogError, LOG_ERROR_CODES, LOG_ERROR_STATUS, isLogError } from './src/errors.ts';
export type { LogErrorCode } from './src/errors.ts';
export type { ObjectStore, Witnesses, EntryPolicy, AdmittedEntry, EntryKind, LogStorage, StoredCheckpoint, StoredEntry, StoredHash } from './src/ports.ts';
export { MemoryObjectStore } from './src/objectstore/memory.ts';
export { createSqliteStorage, openSqliteStorage, SqliteStorage } from './src/storage/sqlite.ts';
export { createLog, openLog, startLog, KEY_FILE, DB_FILE } from './src/log.ts';
export type { Log, LogOptions } from './src/log.ts';
export { loadLogKey, newLogKey } from './src/keys.ts';
export type { LogKey } from './src/keys.ts';
export { addEntry, MAX_LEAF_BYTES } from './src/add.ts';
export type { AddEntryResult } from './src/add.ts';
export { buildApp, DEFAULT_BODY_LIMIT } from './src/http/app.ts';
export type { AppDeps } from './src/http/app.ts';
export { releasePolicy } from './src/admission.ts';
export type { ReleasePolicyOptions } from './src/admission.ts';
