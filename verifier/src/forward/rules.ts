/**
 * Forwarding rules: the JSON document a studio signs to say which projectors may receive one
 * film's content keys, when, and for how long. Strict schema (every field required unless noted,
 * unknown fields refused), carried as canonical JSON (canonical-json.ts) inside a DSSE envelope
 * of its own payload type; a payload that is not byte-for-byte canonical is refused, so one rules
 * document has exactly one digest.
 *
 * ```json
 * { "type": "keycast-forward-rules/v2",
 *   "film": { "cplId": "urn:uuid:…", "title": "…" },
 *   "contentKeyIds": ["urn:uuid:…", …],
 *   "kdmWindow": { "notBefore": "2026-01-01T00:00:00+00:00", "notAfter": "…+00:00" },
 *   "forwardUntil": "2026-02-01T00:00:00Z",            // no forwarding after this instant
 *   "forwardFrom": "2025-12-01T00:00:00Z",             // nor before this one
 *   "recipients": { "thumbprints": ["<base64 SHA-1 of TBSCertificate>", …],
 *                   "roots": ["<base64 DER of a manufacturer root certificate>", …],
 *                   "excluded": ["<thumbprint>", …],
 *                   "roles": ["SM", …] },                // CN roles a recipient leaf must carry one of
 *   "formats": ["kdm", "raw-rsa-oaep", "raw-hpke"],      // output formats the studio allows
 *   "limits": { "maxKdmValidityDays": 30, "maxRecipients": 5000 },
 *   "dkdmSigners": ["<base64 DER of a DKDM signer root certificate>", …],   // optional, see below
 *   "releases": { "pcr0s": ["<96 hex>", …], "publishers": ["<hex SHA-256 of a publisher's SPKI>", …] },
 *   "audit": { "hpkeX25519": "<base64 raw 32-byte X25519 public key>" } }   // optional, see below
 * ```
 * `kdmWindow` strings are exactly the 25-character form KDMs carry (`+00:00`, no fraction).
 * v2 added `formats` and `recipients.roles` (issue 16: a raw format must not loosen what the
 * studio allowed). A v1 document is refused with RULES_OUTDATED, never read as "every format,
 * any role": the studio re-signs its rules as v2.
 * `dkdmSigners` and `releases` (both or neither) let the keys come in as a DKDM (issue 24): a DKDM
 * is accepted only from a signer chain ending in one of the `dkdmSigners` roots (self-signed ST
 * 430-2 CA certificates), and only by an enclave whose release is listed by PCR0 or was logged by
 * one of the `publishers` — so a new release need not make the studio re-issue its DKDM.
 * `audit` (issue 19) names the studio's audit key: an enclave that logs its deliveries seals each
 * delivery's manifest (who received what) to it, so only the studio learns the recipients of the
 * deliveries the public log counts (delivery/manifest.ts). An enclave pinned to log deliveries
 * refuses rules without it.
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { VerifierError } from '../errors.ts';
import { canonicalize, exactKeys, isObject } from '../encoding/canonical-json.ts';
import { parseTrustedKey, type ReleaseSigner } from '../release/dsse.ts';
import { fromBase64, toHex, utf8 } from '../encoding/bytes.ts';
import { openEnvelope, signEnvelope, type SignedEnvelope } from './envelope.ts';
import { parseDcCertificate } from '../kdm/certificate.ts';
import { FORMAT_NAMES, type FormatName } from './format-names.ts';

export const RULES_TYPE = 'keycast-forward-rules/v2';
/** The earlier rules type, refused with RULES_OUTDATED. */
export const RULES_TYPE_V1 = 'keycast-forward-rules/v1';
/** A certificate CN role: letters and digits (ST 430-2 roles such as SM, LE, SPB, MD; RX for raw-hpke receivers). */
const ROLE = /^[A-Z][A-Z0-9]{0,15}$/;
export const RULES_PAYLOAD_TYPE = 'application/vnd.keycast.forward-rules+json';
export const MAX_RULES_BYTES = 4 * 1024 * 1024;
export const MAX_RULES_THUMBPRINTS = 100_000;
export const MAX_RULES_ROOTS = 64;

export interface ForwardRules {
  type: typeof RULES_TYPE;
  film: { cplId: string; title: string };
  contentKeyIds: string[];
  kdmWindow: { notBefore: string; notAfter: string };
  forwardFrom: string;
  forwardUntil: string;
  recipients: { thumbprints: string[]; roots: string[]; excluded: string[]; roles: string[] };
  formats: FormatName[];
  limits: { maxKdmValidityDays: number; maxRecipients: number };
  /** base64 DER root certificates a DKDM's signer chain must end in (absent: no DKDM accepted) */
  dkdmSigners?: string[];
  /** the releases that may open the DKDM: by PCR0, or any release a listed publisher logged */
  releases?: { pcr0s: string[]; publishers: string[] };
  /** the studio's audit key: delivery manifests are HPKE-sealed to it (issue 19) */
  audit?: { hpkeX25519: string };
}

export const UUID_URN = /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** The KDM dateTime profile: `YYYY-MM-DDThh:mm:ss±hh:mm`, 25 characters. */
export const KDM_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$/;
const ISO_Z = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
const THUMB = /^[A-Za-z0-9+/]{27}=$/;

function bad(message: string, field?: string): never {
  throw new VerifierError('RULES_INVALID', message, field ? { field } : {});
}

function str(v: unknown, field: string, re?: RegExp, max = 1024): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > max || (re && !re.test(v)))
    bad(`${field} is missing or malformed`, field);
  return v;
}

function strList(v: unknown, field: string, re: RegExp | undefined, max: number, maxLen = 1024): string[] {
  if (!Array.isArray(v) || v.length > max) bad(`${field} must be a list of at most ${max}`, field);
  const out = v.map((x, i) => str(x, `${field}[${i}]`, re, maxLen));
  if (new Set(out).size !== out.length) bad(`${field} repeats an entry`, field);
  return out;
}

function obj(v: unknown, field: string, keys: string[], optional: string[] = []): Record<string, unknown> {
  if (!isObject(v)) bad(`${field} must be an object`, field);
  try {
    exactKeys(v, keys, optional, field);
  } catch (e) {
    bad((e as Error).message, field);
  }
  return v;
}

function posInt(v: unknown, field: string): number {
  if (!Number.isSafeInteger(v) || (v as number) <= 0) bad(`${field} must be a positive integer`, field);
  return v as number;
}

/** Milliseconds since the epoch of a KDM-profile or `Z` timestamp (refuses impossible dates). */
export function parseInstant(s: string): number {
  const ms = Date.parse(s);
  if (!Number.isFinite(ms)) throw new VerifierError('RULES_INVALID', `not a valid time: ${s}`);
  return ms;
}

/** Validates a parsed value against the schema; returns it typed. Throws RULES_INVALID. */
export function validateRules(v: unknown): ForwardRules {
  if (isObject(v) && v.type === RULES_TYPE_V1)
    throw new VerifierError(
      'RULES_OUTDATED',
      `rules of type ${RULES_TYPE_V1} do not name the formats and certificate roles they allow; sign them again as ${RULES_TYPE}`,
      { type: RULES_TYPE_V1, expected: RULES_TYPE },
    );
  const o = obj(
    v,
    'rules',
    ['type', 'film', 'contentKeyIds', 'kdmWindow', 'forwardFrom', 'forwardUntil', 'recipients', 'formats', 'limits'],
    ['dkdmSigners', 'releases', 'audit'],
  );
  if (o.type !== RULES_TYPE) bad(`rules.type must be ${RULES_TYPE}`, 'rules.type');
  const film = obj(o.film, 'rules.film', ['cplId', 'title']);
  str(film.cplId, 'rules.film.cplId', UUID_URN);
  str(film.title, 'rules.film.title', /^[^\u0000-\u001f]+$/, 256);
  const ids = strList(o.contentKeyIds, 'rules.contentKeyIds', UUID_URN, 256);
  if (ids.length === 0) bad('rules.contentKeyIds is empty', 'rules.contentKeyIds');
  const w = obj(o.kdmWindow, 'rules.kdmWindow', ['notBefore', 'notAfter']);
  const nb = parseInstant(str(w.notBefore, 'rules.kdmWindow.notBefore', KDM_TIME));
  const na = parseInstant(str(w.notAfter, 'rules.kdmWindow.notAfter', KDM_TIME));
  if (!(nb < na)) bad('rules.kdmWindow must end after it starts', 'rules.kdmWindow');
  const ff = parseInstant(str(o.forwardFrom, 'rules.forwardFrom', ISO_Z));
  const fu = parseInstant(str(o.forwardUntil, 'rules.forwardUntil', ISO_Z));
  if (!(ff < fu)) bad('rules.forwardUntil must be after rules.forwardFrom', 'rules.forwardUntil');
  const r = obj(o.recipients, 'rules.recipients', ['thumbprints', 'roots', 'excluded', 'roles']);
  const thumbs = strList(r.thumbprints, 'rules.recipients.thumbprints', THUMB, MAX_RULES_THUMBPRINTS);
  const roots = strList(r.roots, 'rules.recipients.roots', /^[A-Za-z0-9+/]+={0,2}$/, MAX_RULES_ROOTS, 16384);
  for (const [i, b] of roots.entries()) {
    try {
      fromBase64(b);
    } catch {
      bad(`rules.recipients.roots[${i}] is not base64`, `rules.recipients.roots[${i}]`);
    }
  }
  strList(r.excluded, 'rules.recipients.excluded', THUMB, MAX_RULES_THUMBPRINTS);
  const roles = strList(r.roles, 'rules.recipients.roles', ROLE, 16, 16);
  if (roles.length === 0) bad('rules.recipients.roles names no certificate role', 'rules.recipients.roles');
  const formats = strList(o.formats, 'rules.formats', undefined, FORMAT_NAMES.length, 32);
  if (formats.length === 0) bad('rules.formats names no output format', 'rules.formats');
  for (const f of formats)
    if (!(FORMAT_NAMES as readonly string[]).includes(f))
      bad(`rules.formats: ${f} is not one of ${FORMAT_NAMES.join(', ')}`, 'rules.formats');
  if (thumbs.length === 0 && roots.length === 0)
    bad('rules name no recipient: give thumbprints or roots', 'rules.recipients');
  const l = obj(o.limits, 'rules.limits', ['maxKdmValidityDays', 'maxRecipients']);
  const maxDays = posInt(l.maxKdmValidityDays, 'rules.limits.maxKdmValidityDays');
  posInt(l.maxRecipients, 'rules.limits.maxRecipients');
  if (na - nb > maxDays * 86_400_000)
    bad(`rules.kdmWindow is longer than rules.limits.maxKdmValidityDays (${maxDays})`, 'rules.kdmWindow');
  if ('dkdmSigners' in o !== 'releases' in o)
    bad('rules.dkdmSigners and rules.releases go together', 'rules.dkdmSigners');
  if ('dkdmSigners' in o) {
    const signers = strList(o.dkdmSigners, 'rules.dkdmSigners', /^[A-Za-z0-9+/]+={0,2}$/, MAX_RULES_ROOTS, 16384);
    if (signers.length === 0) bad('rules.dkdmSigners is empty', 'rules.dkdmSigners');
    for (const [i, b] of signers.entries()) {
      const field = `rules.dkdmSigners[${i}]`;
      let c: ReturnType<typeof parseDcCertificate>;
      try {
        c = parseDcCertificate(fromBase64(b));
      } catch {
        bad(`${field} is not a DER certificate`, field);
      }
      if (Buffer.compare(c.issuerDer, c.subjectDer) !== 0 || c.basicConstraints?.ca !== true)
        bad(`${field} is not a self-signed CA (root) certificate`, field);
    }
    const rel = obj(o.releases, 'rules.releases', ['pcr0s', 'publishers']);
    const pcr0s = strList(rel.pcr0s, 'rules.releases.pcr0s', /^[0-9a-f]{96}$/, 1024);
    const pubs = strList(rel.publishers, 'rules.releases.publishers', /^[0-9a-f]{64}$/, 64);
    if (pcr0s.length === 0 && pubs.length === 0)
      bad('rules.releases names no release: give pcr0s or publishers', 'rules.releases');
  }
  if ('audit' in o) parseAuditField(o.audit);
  return o as unknown as ForwardRules;
}

/**
 * The raw 32-byte X25519 public key of a rules `audit` field value. Throws RULES_INVALID
 * unless it is exactly `{ "hpkeX25519": "<canonical base64 of 32 bytes>" }`.
 */
export function parseAuditField(v: unknown): Uint8Array {
  const a = obj(v, 'rules.audit', ['hpkeX25519']);
  const b64 = str(a.hpkeX25519, 'rules.audit.hpkeX25519', /^[A-Za-z0-9+/]{43}=$/, 44);
  let raw: Uint8Array;
  try {
    raw = fromBase64(b64);
  } catch {
    bad('rules.audit.hpkeX25519 is not canonical base64', 'rules.audit.hpkeX25519');
  }
  if (raw.length !== 32) bad('rules.audit.hpkeX25519 must be a raw 32-byte X25519 key', 'rules.audit.hpkeX25519');
  if (raw.every((b) => b === 0)) bad('rules.audit.hpkeX25519 is the all-zero point', 'rules.audit.hpkeX25519');
  return raw;
}

/** The studio's audit key (raw X25519) the rules name, or undefined when they name none. */
export function rulesAuditKey(rules: ForwardRules): Uint8Array | undefined {
  return rules.audit === undefined ? undefined : parseAuditField(rules.audit);
}

/** Canonical payload bytes of valid rules. */
export function formatRules(rules: ForwardRules): Uint8Array {
  return utf8(canonicalize(validateRules(rules)));
}

/** Parses payload bytes: strict JSON, schema, and canonical form. Throws RULES_INVALID / OVERSIZED. */
export function parseRules(payload: Uint8Array): ForwardRules {
  if (payload.length > MAX_RULES_BYTES)
    throw new VerifierError('OVERSIZED', `rules are ${payload.length} bytes, over ${MAX_RULES_BYTES}`, {
      size: payload.length,
      limit: MAX_RULES_BYTES,
    });
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload));
  } catch (e) {
    throw new VerifierError('RULES_INVALID', 'rules are not UTF-8 JSON', {}, { cause: e });
  }
  const rules = validateRules(v);
  // canonical form: sorted keys, no whitespace, one spelling — also rules out duplicate keys
  if (Buffer.compare(Buffer.from(utf8(canonicalize(rules))), Buffer.from(payload)) !== 0)
    bad('rules payload is not in canonical JSON form');
  return rules;
}

/** The digest OpenedRules.digest gives for these rules once signed: lowercase hex SHA-256 of the canonical payload (what sealed keys bind). */
export function rulesDigest(rules: ForwardRules): string {
  return toHex(createHash('sha256').update(formatRules(rules)).digest());
}

/** Signs rules with the studio's rules key (Ed25519 or P-256); returns the envelope JSON text. */
export function signRules(rules: ForwardRules, studioKey: KeyObject): string {
  const env: SignedEnvelope = signEnvelope(RULES_PAYLOAD_TYPE, formatRules(rules), studioKey);
  return JSON.stringify(env);
}

export interface OpenedRules {
  rules: ForwardRules;
  /** lowercase hex SHA-256 of the canonical payload */
  digest: string;
  /** lowercase hex SHA-256 of the signer's DER SPKI */
  signerSpkiSha256: string;
}

/**
 * Opens a rules envelope signed by `studioKey` (SPKI PEM/DER or a ReleaseSigner). Throws
 * RULES_INVALID (shape), RULES_SIGNATURE (wrong key or tampered), OVERSIZED.
 */
export function openRules(envelope: string | Uint8Array, studioKey: string | Uint8Array | ReleaseSigner): OpenedRules {
  const signer = typeof studioKey === 'object' && 'spkiSha256' in studioKey ? studioKey : parseTrustedKey(studioKey);
  const payload = openEnvelope(
    envelope,
    RULES_PAYLOAD_TYPE,
    signer,
    MAX_RULES_BYTES + 1024 * 1024,
    'RULES_INVALID',
    'RULES_SIGNATURE',
  );
  return {
    rules: parseRules(payload),
    digest: toHex(createHash('sha256').update(payload).digest()),
    signerSpkiSha256: signer.spkiSha256,
  };
}

/** Throws RULES_EXPIRED unless `now` lies in [forwardFrom, forwardUntil] and before the KDM window closes. */
export function checkRulesTime(rules: ForwardRules, now: Date): void {
  const t = now.getTime();
  if (t < parseInstant(rules.forwardFrom))
    throw new VerifierError('RULES_EXPIRED', 'rules are not valid yet', {
      forwardFrom: rules.forwardFrom,
      now: now.toISOString(),
    });
  if (t > parseInstant(rules.forwardUntil))
    throw new VerifierError('RULES_EXPIRED', 'rules have expired', {
      forwardUntil: rules.forwardUntil,
      now: now.toISOString(),
    });
  if (t >= parseInstant(rules.kdmWindow.notAfter))
    throw new VerifierError('RULES_EXPIRED', 'the KDM window has already closed', {
      notAfter: rules.kdmWindow.notAfter,
      now: now.toISOString(),
    });
}

/** The SPKI SHA-256 fingerprint (lowercase hex) of a public or private key. */
export function keyFingerprint(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return toHex(
    createHash('sha256')
      .update(pub.export({ type: 'spki', format: 'der' }))
      .digest(),
  );
}
