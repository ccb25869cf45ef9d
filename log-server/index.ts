/**
 * Public entry of log-server/ for test/, bench/ and the demo: create or open a log, build the
 * HTTP app, and the ports with their in-memory implementations.
 */
export { LogError, LOG_ERROR_CODES, isLogError } from './src/errors.ts';
export { HTTP_ERROR_CODES, HTTP_STATUS, LOG_ERROR_STATUS } from './src/http/errors.ts';
export type { HttpErrorCode } from './src/http/errors.ts';
export type { LogErrorCode } from './src/errors.ts';
export type {
  ObjectStore,
  Witnesses,
  EntryPolicy,
  AdmittedEntry,
  EntryKind,
  LogStorage,
  LogSequencer,
  Integrated,
  StoredCheckpoint,
  StoredEntry,
  StoredHash,
} from './src/ports.ts';
export { MemoryObjectStore } from './src/objectstore/memory.ts';
export { createSqliteStorage, openSqliteStorage, SqliteStorage } from './src/storage/sqlite.ts';
export { createLog, openLog, startLog, createPgLog, openPgLog, migrateToPg, KEY_FILE, DB_FILE } from './src/log.ts';
export type { Log, LogOptions } from './src/log.ts';
export { loadLogKey, newLogKey } from './src/keys.ts';
export type { LogKey } from './src/keys.ts';
export { addEntry } from './src/add.ts';
export type { AddEntryResult } from './src/add.ts';
export { buildApp, DEFAULT_BODY_LIMIT } from './src/http/app.ts';
export type { AppDeps } from './src/http/app.ts';
export { releasePolicy } from './src/admission.ts';
export type { ReleasePolicyOptions } from './src/admission.ts';
// witnesses (c2sp.org/tlog-witness) and the explorer page; S3ObjectStore stays in
// src/objectstore/s3.ts so importing this file never loads the AWS SDK.
export { WitnessClient } from './src/witness/client.ts';
export type { WitnessClientOptions, WitnessEndpoint } from './src/witness/client.ts';
export { buildWitnessApp } from './src/witness/server.ts';
export type { WitnessAppOptions } from './src/witness/server.ts';
export { FileWitnessState } from './src/witness/state.ts';
export type { WitnessState, LogRecord } from './src/witness/state.ts';
export { loadOrCreateWitnessKey, readWitnessKey } from './src/witness/keys.ts';
export { explorerPlugin } from './src/explorer/plugin.ts';
export type { ExplorerOptions } from './src/explorer/plugin.ts';
