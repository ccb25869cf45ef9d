/**
 * Building the Keycast in-toto statements (schema: verifier/src/release/schema.ts)
 * from what the builder knows, validated with the verifier's own strict validator before
 * anything is signed, so the builder never signs an entry the log would refuse.
 */
import { createHash } from 'node:crypto';
import { validateStatement, type KeycastStatement, type Measurements } from '#verifier';
import {
  IN_TOTO_STATEMENT_V1,
  RELEASE_PREDICATE_V1,
  REVOCATION_PREDICATE_V1,
  REBUILD_PREDICATE_V1,
  type SourceRef,
} from '#verifier/build';
import { BuilderError } from '../errors.ts';

export interface ReleaseFacts {
  /** Lowercase hex SHA-256 of the EIF file. */
  eifSha256: string;
  /** The subject name (default "enclave.eif"). */
  eifName?: string;
  /** Where the EIF can be fetched (predicate.eif.uri), if the publisher says. */
  eifUri?: string;
  measurements: Measurements;
  source: SourceRef;
  /** Lowercase hex SHA-256 of the input lock file (builder.lock.json) bytes. */
  lockSha256: string;
  builderVersion: string;
}

export function sha256Hex(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

/** Parses `REPO@COMMIT` (split at the last "@"; the repo is an https URL). Throws BuilderError SOURCE_INVALID. */
export function parseSourceRef(s: string): SourceRef {
  const at = s.lastIndexOf('@');
  if (at <= 0)
    throw new BuilderError(
      'SOURCE_INVALID',
      'the source must be REPO@COMMIT, e.g. https://github.com/org/repo@<40 hex>',
      { source: s.slice(0, 300) },
    );
  return { repo: s.slice(0, at), commit: s.slice(at + 1).toLowerCase() };
}

function checked(v: unknown): KeycastStatement {
  return validateStatement(v).statement;
}

function releaseFields(f: ReleaseFacts): Record<string, unknown> {
  return {
    eif: f.eifUri === undefined ? { sha256: f.eifSha256 } : { sha256: f.eifSha256, uri: f.eifUri },
    measurements: f.measurements,
    source: f.source,
    lock: { sha256: f.lockSha256 },
    builder: { version: f.builderVersion },
  };
}

/** The release/v1 statement: subject = the EIF (sha256), predicate = PCRs, source, lock, builder. */
export function releaseStatement(f: ReleaseFacts): KeycastStatement {
  return checked({
    _type: IN_TOTO_STATEMENT_V1,
    subject: [{ name: f.eifName ?? 'enclave.eif', digest: { sha256: f.eifSha256 } }],
    predicateType: RELEASE_PREDICATE_V1,
    predicate: releaseFields(f),
  });
}

/** The rebuild/v1 statement a third party signs after rebuilding; `releaseIndex` names the logged release it reproduces. */
export function rebuildStatement(f: ReleaseFacts, releaseIndex?: number): KeycastStatement {
  const predicate =
    releaseIndex === undefined ? releaseFields(f) : { ...releaseFields(f), release: { logIndex: releaseIndex } };
  return checked({
    _type: IN_TOTO_STATEMENT_V1,
    subject: [{ name: f.eifName ?? 'enclave.eif', digest: { sha256: f.eifSha256 } }],
    predicateType: REBUILD_PREDICATE_V1,
    predicate,
  });
}

/** The revocation/v1 statement: subject = the revoked PCR0 (sha384). */
export function revocationStatement(logIndex: number, pcr0: string, reason: string): KeycastStatement {
  return checked({
    _type: IN_TOTO_STATEMENT_V1,
    subject: [{ name: 'pcr0', digest: { sha384: pcr0 } }],
    predicateType: REVOCATION_PREDICATE_V1,
    predicate: { revokes: { logIndex, pcr0 }, reason },
  });
}
