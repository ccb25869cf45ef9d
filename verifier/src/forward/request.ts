/**
 * The forward request (the JSON body of POST /v1/forward, from the studio through the host to
 * the enclave) and the enclave's answer: one format, written by the studio's `keycast forward`
 * and read by the enclave, so both sides share it here.
 *
 * ```json
 * { "sealedKeys": "<sealed content keys JSON text>", "rules": "<DSSE envelope JSON text>",
 *   "recipients": ["<PEM (leaf first, CAs may follow) or base64 DER>", …],
 *   "intermediates": ["<PEM or base64 DER>", …],        // optional, shared manufacturer CAs
 *   "format": "kdm" | "raw-rsa-oaep" | "raw-hpke" }      // optional, default "kdm"
 * ```
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

export const FORWARD_FORMATS = ['kdm', 'raw-rsa-oaep', 'raw-hpke'] as const;
export type ForwardFormat = (typeof FORWARD_FORMATS)[number];
/** Hard cap on recipients per request, whatever the rules allow. */
export const MAX_FORWARD_RECIPIENTS = 100_000;
export const MAX_FORWARD_INTERMEDIATES = 64;

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
      ].includes(k)
    )
      malformed(`unknown field ${k}`);
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
  if (!FORWARD_FORMATS.includes(format)) malformed(`format must be one of ${FORWARD_FORMATS.join(', ')}`);
  return {
    ...(viaDkdm
      ? { dkdm: o.dkdm as string, rulesKey: o.rulesKey as string, rulesEndorsement: o.rulesEndorsement as string }
      : { sealedKeys: o.sealedKeys as string }),
    rules: o.rules,
    recipients: o.recipients as ForwardRequest['recipients'],
    intermediates: ints as ForwardRequest['intermediates'],
    format,
  };
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
  // keys in canonical (sorted) order: dkdm < format < intermediates < recipients < rules < rulesEndorsement < rulesKey < sealedKeys
  h.update(r.dkdm !== undefined ? `{"dkdm":${JSON.stringify(r.dkdm)},"format":` : '{"format":');
  h.update(`${JSON.stringify(r.format ?? 'kdm')},"intermediates":`);
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
      !FORWARD_FORMATS.includes(o.format as ForwardFormat)
    )
      bad(`output ${i} is malformed`);
    try {
      if (fromBase64((o as { thumbprint: string }).thumbprint).length !== 20) throw new Error('length');
      fromBase64((o as { bytes: string }).bytes);
    } catch {
      bad(`output ${i} is not base64`);
    }
  }
  return v as unknown as ForwardAnswer;
}
