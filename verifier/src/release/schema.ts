/**
 * The statements a Keycast log stores: in-toto Statement v1
 * (https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md) with one of three
 * Keycast predicates. Validation is strict: exact field sets (unknown fields refused, as
 * Tinfoil's verifier does), lowercase hex of the exact lengths (PCRs are SHA-384: 96 hex
 * digits; EIF and lock digests SHA-256: 64; commits SHA-1: 40), https repository URLs, and
 * no predicate type outside the three below.
 *
 *  - release/v1:    "this EIF (subject sha256) has these PCRs, built from repo@commit with this
 *                    input lock and builder version", optionally with where the EIF can be fetched
 *                    (predicate.eif.uri; whatever is fetched is held to predicate.eif.sha256).
 *  - revocation/v1: "the release at log index N, whose PCR0 is P, must no longer be trusted".
 *  - rebuild/v1:    a third party's "I rebuilt this source and got these PCRs" (same fields as
 *                    a release, optionally naming the release it reproduces).
 */
import { VerifierError } from '../errors.ts';
import { exactKeys, isObject } from '../encoding/canonical-json.ts';

export const IN_TOTO_STATEMENT_V1 = 'https://in-toto.io/Statement/v1';
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
export const RELEASE_PREDICATE_V1 = 'https://keycast.dev/release/v1';
export const REVOCATION_PREDICATE_V1 = 'https://keycast.dev/revocation/v1';
export const REBUILD_PREDICATE_V1 = 'https://keycast.dev/rebuild/v1';

export type EntryKind = 'release' | 'revocation' | 'rebuild';
export const PREDICATE_KINDS: Readonly<Record<string, EntryKind>> = {
  [RELEASE_PREDICATE_V1]: 'release',
  [REVOCATION_PREDICATE_V1]: 'revocation',
  [REBUILD_PREDICATE_V1]: 'rebuild',
};

/** Enclave measurements, lowercase hex SHA-384 (96 digits). PCR8 only for signed EIFs. */
export interface Measurements {
  pcr0: string;
  pcr1: string;
  pcr2: string;
  pcr8?: string;
}
/** Where the EIF came from: an https git URL and a full 40-hex commit. */
export interface SourceRef {
  repo: string;
  commit: string;
}

export interface ReleasePredicate {
  /** The EIF's SHA-256 and, optionally, where it can be fetched (an https URL; http only on loopback). */
  eif: { sha256: string; uri?: string };
  measurements: Measurements;
  source: SourceRef;
  /** SHA-256 of the builder's input lock file (builder.lock.json) bytes. */
  lock: { sha256: string };
  builder: { version: string };
}
export interface RevocationPredicate {
  /** The revoked release: its leaf index in this log and the PCR0 it must carry. */
  revokes: { logIndex: number; pcr0: string };
  reason: string;
}
export interface RebuildPredicate extends ReleasePredicate {
  /** The logged release this rebuild reproduces, if the rebuilder names one. */
  release?: { logIndex: number };
}

export interface Subject {
  name: string;
  digest: Record<string, string>;
}
interface StatementBase<T extends string, P> {
  _type: typeof IN_TOTO_STATEMENT_V1;
  subject: Subject[];
  predicateType: T;
  predicate: P;
}
export type ReleaseStatement = StatementBase<typeof RELEASE_PREDICATE_V1, ReleasePredicate>;
export type RevocationStatement = StatementBase<typeof REVOCATION_PREDICATE_V1, RevocationPredicate>;
export type RebuildStatement = StatementBase<typeof REBUILD_PREDICATE_V1, RebuildPredicate>;
export type KeycastStatement = ReleaseStatement | RevocationStatement | RebuildStatement;

const HEX = (n: number) => new RegExp(`^[0-9a-f]{${n}}$`);
const PCR_RE = HEX(96);
const SHA256_RE = HEX(64);
const COMMIT_RE = HEX(40);
const REPO_RE =
  /^https:\/\/[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?(?::[0-9]{1,5})?(?:\/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)+$/;
const VERSION_RE = /^[A-Za-z0-9][A-Za-z0-9._+\-/@:]{0,127}$/;
const PRINTABLE_RE = /^[^\p{Cc}\p{Cs}\p{Co}\p{Cn}]+$/u;
/** Unicode bidirectional controls (ALM, LRM, RLM, LRE…RLO, LRI…PDI): they make a name display as another. */
const BIDI_RE = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;

function bad(message: string, field: string, value?: unknown): VerifierError {
  return new VerifierError(
    'PREDICATE_INVALID',
    message,
    value === undefined ? { field } : { field, value: String(value).slice(0, 200) },
  );
}

function hex(v: unknown, re: RegExp, field: string, what: string): string {
  if (typeof v !== 'string' || !re.test(v)) throw bad(`${field} must be ${what}`, field, v);
  return v;
}

function obj(v: unknown, field: string): Record<string, unknown> {
  if (!isObject(v)) throw bad(`${field} must be an object`, field);
  return v;
}

function logIndex(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
    throw bad(`${field} must be a non-negative integer`, field, v);
  return v;
}

export function validateMeasurements(v: unknown, field = 'predicate.measurements'): Measurements {
  const o = obj(v, field);
  exactKeys(o, ['pcr0', 'pcr1', 'pcr2'], ['pcr8'], field, 'PREDICATE_INVALID');
  const m: Measurements = { pcr0: '', pcr1: '', pcr2: '' };
  for (const k of ['pcr0', 'pcr1', 'pcr2', 'pcr8'] as const) {
    if (k in o) m[k] = hex(o[k], PCR_RE, `${field}.${k}`, '96 lowercase hex digits (SHA-384)');
  }
  return m;
}

export function validateSource(v: unknown, field = 'predicate.source'): SourceRef {
  const o = obj(v, field);
  exactKeys(o, ['repo', 'commit'], [], field, 'PREDICATE_INVALID');
  const repo = o.repo;
  if (typeof repo !== 'string' || repo.length > 256 || !REPO_RE.test(repo) || /\/\.\.?(\/|$)/.test(repo)) {
    throw bad(`${field}.repo must be an https URL like https://github.com/owner/repo`, `${field}.repo`, repo);
  }
  return { repo, commit: hex(o.commit, COMMIT_RE, `${field}.commit`, '40 lowercase hex digits') };
}

function digestObject(v: unknown, field: string): { sha256: string } {
  const o = obj(v, field);
  exactKeys(o, ['sha256'], [], field, 'PREDICATE_INVALID');
  return { sha256: hex(o.sha256, SHA256_RE, `${field}.sha256`, '64 lowercase hex digits (SHA-256)') };
}

/** Loopback hosts, the only ones an http (not https) EIF URI may name: a local test log's. */
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * An EIF URI: an absolute https URL (http only to a loopback host), in the WHATWG URL
 * serialisation (so one URL has one spelling), without credentials or a fragment, at most 2048
 * characters. The verifier only validates it; fetching is the CLI's.
 */
export function validateEifUri(v: unknown, field = 'predicate.eif.uri'): string {
  const what = 'an https URL (http only to 127.0.0.1, localhost or [::1]), in canonical form, at most 2048 characters';
  if (typeof v !== 'string' || v.length > 2048 || !URL.canParse(v)) throw bad(`${field} must be ${what}`, field, v);
  const u = new URL(v);
  const okScheme = u.protocol === 'https:' || (u.protocol === 'http:' && LOOPBACK_HOSTS.has(u.hostname));
  if (!okScheme || u.href !== v || u.username !== '' || u.password !== '' || u.hash !== '')
    throw bad(`${field} must be ${what}, without credentials or a fragment`, field, v);
  return v;
}

function eifObject(v: unknown, field: string): { sha256: string; uri?: string } {
  const o = obj(v, field);
  exactKeys(o, ['sha256'], ['uri'], field, 'PREDICATE_INVALID');
  const sha256 = hex(o.sha256, SHA256_RE, `${field}.sha256`, '64 lowercase hex digits (SHA-256)');
  return 'uri' in o ? { sha256, uri: validateEifUri(o.uri, `${field}.uri`) } : { sha256 };
}

function releaseFields(o: Record<string, unknown>): ReleasePredicate {
  const b = obj(o.builder, 'predicate.builder');
  exactKeys(b, ['version'], [], 'predicate.builder', 'PREDICATE_INVALID');
  if (typeof b.version !== 'string' || !VERSION_RE.test(b.version))
    throw bad(
      'predicate.builder.version must be 1–128 characters [A-Za-z0-9._+-/@:]',
      'predicate.builder.version',
      b.version,
    );
  return {
    eif: eifObject(o.eif, 'predicate.eif'),
    measurements: validateMeasurements(o.measurements),
    source: validateSource(o.source),
    lock: digestObject(o.lock, 'predicate.lock'),
    builder: { version: b.version },
  };
}

export function validateReleasePredicate(v: unknown): ReleasePredicate {
  const o = obj(v, 'predicate');
  exactKeys(o, ['eif', 'measurements', 'source', 'lock', 'builder'], [], 'predicate', 'PREDICATE_INVALID');
  return releaseFields(o);
}

export function validateRebuildPredicate(v: unknown): RebuildPredicate {
  const o = obj(v, 'predicate');
  exactKeys(o, ['eif', 'measurements', 'source', 'lock', 'builder'], ['release'], 'predicate', 'PREDICATE_INVALID');
  const p: RebuildPredicate = releaseFields(o);
  if ('release' in o) {
    const r = obj(o.release, 'predicate.release');
    exactKeys(r, ['logIndex'], [], 'predicate.release', 'PREDICATE_INVALID');
    p.release = { logIndex: logIndex(r.logIndex, 'predicate.release.logIndex') };
  }
  return p;
}

export function validateRevocationPredicate(v: unknown): RevocationPredicate {
  const o = obj(v, 'predicate');
  exactKeys(o, ['revokes', 'reason'], [], 'predicate', 'PREDICATE_INVALID');
  const r = obj(o.revokes, 'predicate.revokes');
  exactKeys(r, ['logIndex', 'pcr0'], [], 'predicate.revokes', 'PREDICATE_INVALID');
  const reason = o.reason;
  if (typeof reason !== 'string' || reason.length === 0 || reason.length > 1024 || !PRINTABLE_RE.test(reason)) {
    throw bad('predicate.reason must be 1–1024 printable characters', 'predicate.reason');
  }
  return {
    revokes: {
      logIndex: logIndex(r.logIndex, 'predicate.revokes.logIndex'),
      pcr0: hex(r.pcr0, PCR_RE, 'predicate.revokes.pcr0', '96 lowercase hex digits'),
    },
    reason,
  };
}

function validateSubjects(v: unknown): Subject[] {
  if (!Array.isArray(v) || v.length !== 1) throw bad('subject must list exactly one artifact', 'subject');
  const s = obj(v[0], 'subject[0]');
  exactKeys(s, ['name', 'digest'], [], 'subject[0]', 'PREDICATE_INVALID');
  if (typeof s.name !== 'string' || s.name.length === 0 || s.name.length > 256 || !PRINTABLE_RE.test(s.name))
    throw bad('subject[0].name must be 1–256 printable characters', 'subject[0].name');
  if (BIDI_RE.test(s.name))
    throw bad('subject[0].name must not contain bidirectional control characters', 'subject[0].name');
  const d = obj(s.digest, 'subject[0].digest');
  const keys = Object.keys(d);
  if (keys.length !== 1 || (keys[0] !== 'sha256' && keys[0] !== 'sha384'))
    throw bad('subject[0].digest must hold exactly one sha256 or sha384', 'subject[0].digest');
  const alg = keys[0]!;
  return [
    {
      name: s.name,
      digest: {
        [alg]: hex(d[alg], alg === 'sha256' ? SHA256_RE : PCR_RE, `subject[0].digest.${alg}`, `lowercase hex ${alg}`),
      },
    },
  ];
}

/**
 * Validates a decoded in-toto statement. Throws STATEMENT_TYPE for a wrong `_type` or an
 * unknown predicate type, PREDICATE_INVALID for a schema violation. The subject must be the
 * EIF's SHA-256 (release, rebuild; equal to predicate.eif.sha256) or the revoked PCR0
 * (revocation, as sha384; equal to predicate.revokes.pcr0).
 */
export function validateStatement(v: unknown): { kind: EntryKind; statement: KeycastStatement } {
  if (!isObject(v)) throw new VerifierError('STATEMENT_TYPE', 'the payload is not a JSON object');
  if (v._type !== IN_TOTO_STATEMENT_V1)
    throw new VerifierError('STATEMENT_TYPE', `_type must be ${IN_TOTO_STATEMENT_V1}`, {
      _type: String(v._type).slice(0, 200),
    });
  const kind = typeof v.predicateType === 'string' ? PREDICATE_KINDS[v.predicateType] : undefined;
  if (kind === undefined || !Object.hasOwn(PREDICATE_KINDS, String(v.predicateType))) {
    throw new VerifierError('STATEMENT_TYPE', 'unknown predicateType', {
      predicateType: String(v.predicateType).slice(0, 200),
      allowed: Object.keys(PREDICATE_KINDS),
    });
  }
  exactKeys(v, ['_type', 'subject', 'predicateType', 'predicate'], [], 'statement', 'PREDICATE_INVALID');
  const subject = validateSubjects(v.subject);
  const digest = subject[0]!.digest;
  if (kind === 'revocation') {
    const predicate = validateRevocationPredicate(v.predicate);
    if (digest.sha384 !== predicate.revokes.pcr0)
      throw bad('a revocation subject must be the revoked PCR0 as sha384', 'subject[0].digest');
    return {
      kind,
      statement: { _type: IN_TOTO_STATEMENT_V1, subject, predicateType: REVOCATION_PREDICATE_V1, predicate },
    };
  }
  const predicate = kind === 'release' ? validateReleasePredicate(v.predicate) : validateRebuildPredicate(v.predicate);
  if (digest.sha256 !== predicate.eif.sha256)
    throw bad('the subject must be the EIF, with digest.sha256 equal to predicate.eif.sha256', 'subject[0].digest');
  const predicateType = kind === 'release' ? RELEASE_PREDICATE_V1 : REBUILD_PREDICATE_V1;
  return { kind, statement: { _type: IN_TOTO_STATEMENT_V1, subject, predicateType, predicate } as KeycastStatement };
}
