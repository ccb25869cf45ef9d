/**
 * The forward request (the JSON body of POST /v1/forward) and its opening inside the enclave:
 *
 * ```json
 * { "sealedKeys": "<sealed content keys JSON text>", "rules": "<DSSE envelope JSON text>",
 *   "recipients": ["<PEM (leaf first, CAs may follow) or base64 DER>", …],
 *   "intermediates": ["<PEM or base64 DER>", …],        // optional, shared manufacturer CAs
 *   "format": "kdm" | "raw-rsa-oaep" }                   // optional, default "kdm"
 * ```
 * Opening: shape and size → replay → sealed keys open under this release's PCR0 and HPKE key
 * (which names the studio's rules key) → rules verify with that key and are in time → the keys
 * are exactly the rules' content keys for the rules' CPL → every recipient is allowed. Any
 * failure throws a coded EnclaveError and nothing is emitted. Pure apart from the replay guard.
 */
import { createHash } from 'node:crypto';
import { VerifierError, checkRulesTime, openRules, openSealedKeys, parseInstant, type FilmKeys, type OpenedRules } from '#verifier';
import { EnclaveError, type EnclaveErrorCode } from '../errors.ts';
import { checkRecipients, type Recipient } from './recipients.ts';
import type { ReplayGuard } from './replay.ts';

export const FORWARD_FORMATS = ['kdm', 'raw-rsa-oaep'] as const;
export type ForwardFormat = (typeof FORWARD_FORMATS)[number];
/** Hard cap on recipients per request, whatever the rules allow. */
export const MAX_FORWARD_RECIPIENTS = 100_000;
export const MAX_FORWARD_INTERMEDIATES = 64;

export interface ForwardRequest {
  sealedKeys: string;
  rules: string;
  recipients: Array<string | Uint8Array>;
  intermediates?: Array<string | Uint8Array>;
  format?: ForwardFormat;
}

/** What opening needs from the enclave: its HPKE key, its own PCR0, a replay guard and the time. */
export interface OpenContext {
  hpkePrivateKey: CryptoKey;
  pcr0: Uint8Array;
  now: Date;
  replay?: ReplayGuard;
  /**
   * Keep the parsed recipient certificates (default true). A runtime that only checks the whole
   * request here and emits from worker threads (each opening its own shard) passes false: memory
   * then stays flat in the number of recipients, and `thumbprints` still feeds the receipt.
   */
  retainCertificates?: boolean;
}

/** A request that passed every check: the pure forwarding core's input. */
export interface OpenedForward {
  film: FilmKeys;
  rules: OpenedRules;
  recipients: Recipient[];
  /** raw certificate thumbprints (SHA-1 of each TBSCertificate), request order */
  thumbprints: Uint8Array[];
  format: ForwardFormat;
  /** hex SHA-256 of the canonical request */
  requestDigest: string;
  now: Date;
}

function malformed(message: string): never {
  throw new EnclaveError('FORWARD_REQUEST_MALFORMED', message);
}

const MAP: Partial<Record<string, EnclaveErrorCode>> = {
  SEALED_INVALID: 'FORWARD_SEALED_INVALID',
  SEALED_BINDING: 'FORWARD_SEALED_BINDING',
  RULES_INVALID: 'FORWARD_RULES_INVALID',
  RULES_SIGNATURE: 'FORWARD_RULES_SIGNATURE',
  RULES_EXPIRED: 'FORWARD_RULES_EXPIRED',
  OVERSIZED: 'FORWARD_OVERSIZED',
  KEY_MALFORMED: 'FORWARD_SEALED_INVALID',
  SIGNER_NOT_ALLOWED: 'FORWARD_SEALED_INVALID',
};

/** A VerifierError as the matching EnclaveError (public evidence only); anything else unchanged. */
function lifted(e: unknown): unknown {
  if (e instanceof VerifierError) return new EnclaveError(MAP[e.code] ?? 'FORWARD_REQUEST_MALFORMED', e.message, { cause: e.code, ...e.toJSON().evidence });
  return e;
}

function lift<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw lifted(e);
  }
}

/** Validates the request's shape and returns it typed. */
export function validateForwardRequest(body: unknown): ForwardRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) malformed('request must be a JSON object');
  const o = body as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!['sealedKeys', 'rules', 'recipients', 'intermediates', 'format'].includes(k)) malformed(`unknown field ${k}`);
  if (typeof o.sealedKeys !== 'string' || typeof o.rules !== 'string') malformed('sealedKeys and rules must be strings');
  if (!Array.isArray(o.recipients) || o.recipients.length === 0) malformed('recipients must be a non-empty list');
  if (o.recipients.length > MAX_FORWARD_RECIPIENTS) throw new EnclaveError('FORWARD_OVERSIZED', `at most ${MAX_FORWARD_RECIPIENTS} recipients per request`, { recipients: o.recipients.length, limit: MAX_FORWARD_RECIPIENTS });
  const ints = o.intermediates ?? [];
  if (!Array.isArray(ints) || ints.length > MAX_FORWARD_INTERMEDIATES) malformed(`intermediates must be a list of at most ${MAX_FORWARD_INTERMEDIATES}`);
  const certOk = (c: unknown) => typeof c === 'string' || c instanceof Uint8Array;
  if (!o.recipients.every(certOk) || !ints.every(certOk)) malformed('certificates must be PEM or base64 DER strings');
  const format = (o.format ?? 'kdm') as ForwardFormat;
  if (!FORWARD_FORMATS.includes(format)) malformed(`format must be one of ${FORWARD_FORMATS.join(', ')}`);
  return { sealedKeys: o.sealedKeys, rules: o.rules, recipients: o.recipients as ForwardRequest['recipients'], intermediates: ints as ForwardRequest['intermediates'], format };
}

/**
 * Hex SHA-256 of the canonical request (canonical JSON, DER certificates as base64): what receipts
 * and replay checks name. Hashed piece by piece — the same bytes canonicalize() would give, without
 * building a second copy of a request that may hold 100,000 certificates.
 */
export function forwardRequestDigest(r: ForwardRequest): string {
  const h = createHash('sha256');
  const str = (c: string | Uint8Array) => JSON.stringify(typeof c === 'string' ? c : Buffer.from(c).toString('base64'));
  const list = (l: Array<string | Uint8Array>) => {
    h.update('[');
    l.forEach((c, i) => h.update(i === 0 ? str(c) : `,${str(c)}`));
    h.update(']');
  };
  h.update(`{"format":${JSON.stringify(r.format ?? 'kdm')},"intermediates":`);
  list(r.intermediates ?? []);
  h.update(',"recipients":');
  list(r.recipients);
  h.update(`,"rules":${JSON.stringify(r.rules)},"sealedKeys":${JSON.stringify(r.sealedKeys)}}`);
  return h.digest('hex');
}

/** Opens and checks a forward request. Throws coded EnclaveErrors; emits nothing. */
export async function openForwardRequest(body: unknown, ctx: OpenContext): Promise<OpenedForward> {
  const req = validateForwardRequest(body);
  const requestDigest = forwardRequestDigest(req);
  let film: Awaited<ReturnType<typeof openSealedKeys>>;
  try {
    film = await openSealedKeys(req.sealedKeys, ctx.hpkePrivateKey, ctx.pcr0);
  } catch (e) {
    throw lifted(e);
  }
  try {
    const rules = lift(() => openRules(req.rules, film.rulesKey));
    lift(() => checkRulesTime(rules.rules, ctx.now));
    const r = rules.rules;
    const want = new Set(r.contentKeyIds);
    if (film.cplId !== r.film.cplId || film.keys.length !== want.size || !film.keys.every((k) => want.has(k.id))) {
      throw new EnclaveError('FORWARD_KEYS_MISMATCH', 'the sealed keys are not exactly the content keys and CPL the rules name', { rulesCplId: r.film.cplId, sealedCplId: film.cplId });
    }
    if (req.recipients.length > r.limits.maxRecipients) throw new EnclaveError('FORWARD_OVERSIZED', `the rules allow at most ${r.limits.maxRecipients} recipients`, { recipients: req.recipients.length, limit: r.limits.maxRecipients });
    const thumbprints: Uint8Array[] = [];
    const recipients = checkRecipients(req.recipients, { rules: r, intermediates: req.intermediates ?? [], now: ctx.now, kdm: req.format === 'kdm', retain: ctx.retainCertificates !== false, onChecked: (c) => thumbprints.push(c.thumbprint) });
    // claimed last: a refused request can be corrected and sent again
    if (ctx.replay && !ctx.replay.claim(requestDigest, new Date(parseInstant(r.forwardUntil)), ctx.now)) {
      throw new EnclaveError('FORWARD_REPLAY', 'this request has already been served', { requestDigest });
    }
    return { film: { cplId: film.cplId, keys: film.keys }, rules, recipients, thumbprints, format: req.format ?? 'kdm', requestDigest, now: ctx.now };
  } catch (e) {
    for (const k of film.keys) k.key.fill(0);
    throw e;
  }
}
