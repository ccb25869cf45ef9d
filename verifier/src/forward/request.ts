/**
 * The forward request (the JSON body of POST /v1/forward, from the studio through the host to
 * the enclave) and the enclave's answer: one format, written by the studio's `keycast forward`
 * and read by the enclave, so both sides share it here.
 *
 * ```json
 * { "sealedKeys": "<sealed content keys JSON text>", "rules": "<DSSE envelope JSON text>",
 *   "recipients": ["<PEM (leaf first, CAs may follow) or base64 DER>", …],
 *   "intermediates": ["<PEM or base64 DER>", …],        // optional, shared manufacturer CAs
 *   "format": "kdm" | "raw-rsa-oaep" | "raw-hpke",       // optional, default "kdm"
 *   "expires": "2026-01-01T12:00:00Z" }                  // required: no forwarding after this instant
 * ```
 * `expires` (ISO 8601, whole seconds, `Z`) is part of the digest, so a request is served once
 * until it expires and refused after (issue 23: the set of served digests then only needs to be
 * kept until each expiry; the host keeps it in its store). It may lie at most
 * MAX_FORWARD_REQUEST_LIFETIME_MS ahead of the enclave's clock. A request without it (the format
 * before issue 23) is refused with REQUEST_OUTDATED.
 * Keys in as a DKDM instead of sealed keys (issue 24): no `sealedKeys`, but
 * `"dkdm": "<the DKDM's XML text>", "rulesKey": "<SPKI PEM of the key the rules are signed with>",
 * "rulesEndorsement": "<base64: the DKDM signer's endorsement of the rules (dkdm-endorsement.ts)>"`.
 * Answer (200, application/json):
 * ```json
 * { "requestDigest": "<hex>", "receipt": "<DSSE envelope JSON text>",
 *   "outputs": [{ "index": 0, "thumbprint": "<base64>", "subject": "…", "format": "kdm", "bytes": "<base64>" }, …] }
 * ```
 * Parsing throws MALFORMED (or OVERSIZED past the recipient cap); the digest is what receipts
 * and the enclave's replay check name.
 */
import { createHash } from 'node:crypto';
import { VerifierError } from '../errors.ts';
import { isObject } from '../encoding/canonical-json.ts';
import { fromBase64 } from '../encoding/bytes.ts';
import { FORMAT_NAMES, type FormatName } from './format-names.ts';

/** A request's output format: one of the formats' names (formats/format.ts). */
export type ForwardFormat = FormatName;
/** Hard cap on recipients per request, whatever the rules allow. */
export const MAX_FORWARD_RECIPIENTS = 100_000;
export const MAX_FORWARD_INTERMEDIATES = 64;
/** How far ahead of now a request's `expires` may lie: 24 hours. */
export const MAX_FORWARD_REQUEST_LIFETIME_MS = 24 * 3600 * 1000;
/** The request body's JSON shape bound (object → list → string): what a bounded reader enforces while the body streams in. */
export const FORWARD_JSON_LIMITS = Object.freeze({
  maxDepth: 3,
  maxValues: MAX_FORWARD_RECIPIENTS + MAX_FORWARD_INTERMEDIATES + 64,
});
const ISO_Z_SECONDS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

export interface ForwardRequest {
  /** sealed content keys; or, instead, `dkdm` with `rulesKey` and `rulesEndorsement` */
  sealedKeys?: string;
  dkdm?: string;
  rulesKey?: string;
  rulesEndorsement?: string;
  rules: string;
  recipients: Array<string | Uint8Array>;
  intermediates?: Array<string | Uint8Array>;
  format?: ForwardFormat;
  /** ISO 8601 `YYYY-MM-DDThh:mm:ssZ`: the request is refused after this instant */
  expires: string;
}

export interface ForwardOutputJson {
  index: number;
  /** base64 SHA-1 thumbprint of the recipient certificate's TBSCertificate */
  thumbprint: string;
  subject: string;
  format: ForwardFormat;
  /** base64 of the KDM (UTF-8 XML) or raw JSON document */
  bytes: string;
}

export interface ForwardAnswer {
  requestDigest: string;
  receipt: string;
  outputs: ForwardOutputJson[];
  /** from a host whose enclave logs its deliveries (issue 19): the log's entry for this request */
  delivery?: { index: number; transparencyLogEntry: Record<string, unknown> };
}

function malformed(message: string): never {
  throw new VerifierError('MALFORMED', `forward request: ${message}`);
}

const certText = (c: string | Uint8Array) => (typeof c === 'string' ? c : Buffer.from(c).toString('base64'));

/** Validates a request's shape and returns it typed. */
export function parseForwardRequest(body: unknown): ForwardRequest {
  if (!isObject(body)) malformed('request must be a JSON object');
  const o = body;
  for (const k of Object.keys(o))
    if (
      ![
        'sealedKeys',
        'dkdm',
        'rulesKey',
        'rulesEndorsement',
        'rules',
        'recipients',
        'intermediates',
        'format',
        'expires',
      ].includes(k)
    )
      malformed(`unknown field ${k}`);
  if (o.expires === undefined)
    throw new VerifierError(
      'REQUEST_OUTDATED',
      'forward request without "expires": the format before replays were refused across restarts; send it again with an expiry',
      { missing: 'expires' },
    );
  if (typeof o.expires !== 'string' || !ISO_Z_SECONDS.test(o.expires) || !Number.isFinite(Date.parse(o.expires)))
    malformed('expires must be an ISO 8601 time in whole seconds with Z');
  if (typeof o.rules !== 'string') malformed('rules must be a string');
  const viaDkdm = 'dkdm' in o;
  if (viaDkdm === 'sealedKeys' in o) malformed('give exactly one of sealedKeys and dkdm');
  if (viaDkdm) {
    if (typeof o.dkdm !== 'string' || typeof o.rulesKey !== 'string' || typeof o.rulesEndorsement !== 'string')
      malformed('dkdm, rulesKey and rulesEndorsement must be strings');
  } else if (typeof o.sealedKeys !== 'string' || 'rulesKey' in o || 'rulesEndorsement' in o)
    malformed('sealedKeys must be a string (rulesKey and rulesEndorsement go with dkdm)');
  if (!Array.isArray(o.recipients) || o.recipients.length === 0) malformed('recipients must be a non-empty list');
  if (o.recipients.length > MAX_FORWARD_RECIPIENTS)
    throw new VerifierError('OVERSIZED', `at most ${MAX_FORWARD_RECIPIENTS} recipients per request`, {
      recipients: o.recipients.length,
      limit: MAX_FORWARD_RECIPIENTS,
    });
  const ints = o.intermediates ?? [];
  if (!Array.isArray(ints) || ints.length > MAX_FORWARD_INTERMEDIATES)
    malformed(`intermediates must be a list of at most ${MAX_FORWARD_INTERMEDIATES}`);
  const certOk = (c: unknown) => typeof c === 'string' || c instanceof Uint8Array;
  if (!o.recipients.every(certOk) || !ints.every(certOk)) malformed('certificates must be PEM or base64 DER strings');
  const format = (o.format ?? 'kdm') as ForwardFormat;
  if (!FORMAT_NAMES.includes(format)) malformed(`format must be one of ${FORMAT_NAMES.join(', ')}`);
  return {
    ...(viaDkdm
      ? { dkdm: o.dkdm as string, rulesKey: o.rulesKey as string, rulesEndorsement: o.rulesEndorsement as string }
      : { sealedKeys: o.sealedKeys as string }),
    rules: o.rules,
    recipients: o.recipients as ForwardRequest['recipients'],
    intermediates: ints as ForwardRequest['intermediates'],
    format,
    expires: o.expires,
  };
}

/**
 * Throws REQUEST_EXPIRED unless `now` is before the request's expiry and the expiry lies at most
 * MAX_FORWARD_REQUEST_LIFETIME_MS ahead (a request valid for years would need its digest kept
 * for years). Returns the expiry instant.
 */
export function checkForwardRequestTime(r: Pick<ForwardRequest, 'expires'>, now: Date): Date {
  const t = Date.parse(r.expires);
  if (!(now.getTime() < t))
    throw new VerifierError('REQUEST_EXPIRED', 'the forward request has expired', {
      expires: r.expires,
      now: now.toISOString(),
    });
  if (t - now.getTime() > MAX_FORWARD_REQUEST_LIFETIME_MS)
    throw new VerifierError('REQUEST_EXPIRED', 'the forward request expires too far ahead (at most 24 hours)', {
      expires: r.expires,
      now: now.toISOString(),
      maxLifetimeSeconds: MAX_FORWARD_REQUEST_LIFETIME_MS / 1000,
    });
  return new Date(t);
}

/** The request body as sent (JSON text; DER certificates as base64). */
export function formatForwardRequest(r: ForwardRequest): string {
  const req = parseForwardRequest(r);
  return JSON.stringify({
    ...(req.dkdm !== undefined
      ? { dkdm: req.dkdm, rulesKey: req.rulesKey, rulesEndorsement: req.rulesEndorsement }
      : { sealedKeys: req.sealedKeys }),
    rules: req.rules,
    recipients: req.recipients.map(certText),
    intermediates: (req.intermediates ?? []).map(certText),
    format: req.format ?? 'kdm',
    expires: req.expires,
  });
}

/**
 * Hex SHA-256 of the canonical request (canonical JSON, DER certificates as base64): what receipts
 * and replay checks name. Hashed piece by piece — the same bytes canonicalize() gives (keys in
 * order, strings as JSON.stringify writes them), without building a second copy of a request that
 * may hold 100,000 certificates.
 */
export function forwardRequestDigest(r: ForwardRequest): string {
  const h = createHash('sha256');
  const list = (l: Array<string | Uint8Array>) => {
    h.update('[');
    l.forEach((c, i) => h.update(i === 0 ? JSON.stringify(certText(c)) : `,${JSON.stringify(certText(c))}`));
    h.update(']');
  };
  // keys in canonical (sorted) order: dkdm < expires < format < intermediates < recipients < rules < rulesEndorsement < rulesKey < sealedKeys
  h.update(r.dkdm !== undefined ? `{"dkdm":${JSON.stringify(r.dkdm)},` : '{');
  h.update(`"expires":${JSON.stringify(r.expires)},"format":${JSON.stringify(r.format ?? 'kdm')},"intermediates":`);
  list(r.intermediates ?? []);
  h.update(',"recipients":');
  list(r.recipients);
  h.update(`,"rules":${JSON.stringify(r.rules)}`);
  if (r.dkdm !== undefined)
    h.update(`,"rulesEndorsement":${JSON.stringify(r.rulesEndorsement)},"rulesKey":${JSON.stringify(r.rulesKey)}}`);
  else h.update(`,"sealedKeys":${JSON.stringify(r.sealedKeys)}}`);
  return h.digest('hex');
}

/** Parses the enclave's 200 answer (already JSON-decoded). Throws MALFORMED. */
export function parseForwardAnswer(v: unknown): ForwardAnswer {
  const bad = (m: string): never => {
    throw new VerifierError('MALFORMED', `forward answer: ${m}`);
  };
  if (!isObject(v)) return bad('not a JSON object');
  if (typeof v.requestDigest !== 'string' || !/^[0-9a-f]{64}$/.test(v.requestDigest))
    bad('requestDigest must be 64 hex');
  if (typeof v.receipt !== 'string') bad('receipt must be a string');
  if (!Array.isArray(v.outputs)) bad('outputs must be a list');
  for (const [i, o] of (v.outputs as unknown[]).entries()) {
    if (
      !isObject(o) ||
      o.index !== i ||
      typeof o.thumbprint !== 'string' ||
      typeof o.subject !== 'string' ||
      typeof o.bytes !== 'string' ||
      !FORMAT_NAMES.includes(o.format as ForwardFormat)
    )
      bad(`output ${i} is malformed`);
    try {
      if (fromBase64((o as { thumbprint: string }).thumbprint).length !== 20) throw new Error('length');
      fromBase64((o as { bytes: string }).bytes);
    } catch {
      bad(`output ${i} is not base64`);
    }
  }
  if (
    v.delivery !== undefined &&
    (!isObject(v.delivery) || !Number.isSafeInteger(v.delivery.index) || !isObject(v.delivery.transparencyLogEntry))
  )
    bad('delivery must be { index, transparencyLogEntry }');
  return v as unknown as ForwardAnswer;
}
