/**
 * Opening a forward request inside the enclave (the request's format, shared with the studio's
 * `keycast forward`, is the verifier's: verifier/src/forward/request.ts).
 * Opening: shape and size → the request's expiry → the sealed keys' header (which names the
 * studio's rules key and the rules digest) → rules verify with that key, are in time and allow
 * this output format → the sealed keys open under this release's PCR0, HPKE key and exactly these
 * rules → the keys are exactly the rules' content keys for the rules' CPL → every recipient is
 * allowed → only then the replay claim (so no check can fail after a request was marked served).
 * Any failure throws a coded EnclaveError and nothing is emitted. Pure apart from the replay guard.
 */
import {
  checkForwardRequestTime,
  checkRulesTime,
  parseSealedKeys,
  parseForwardRequest,
  openRules,
  openSealedKeys,
  type FilmKeys,
  type Measurement,
  type OpenedRules,
} from '#verifier';
import { deliveryFormat, forwardRequestDigest, parseInstant } from '#verifier/build';
import { EnclaveError } from '../../common/errors.ts';
import { checkRecipients, type Recipient } from './recipients.ts';
import { openDkdm, type DkdmContext } from './dkdm-open.ts';
import type { ReplayGuard } from './replay.ts';

export { FORMAT_NAMES } from '#verifier';
export { MAX_FORWARD_RECIPIENTS, MAX_FORWARD_INTERMEDIATES, forwardRequestDigest } from '#verifier/build';
export type { ForwardFormat, ForwardRequest } from '#verifier';
import type { ForwardFormat, ForwardRequest } from '#verifier';

/** What opening needs from the enclave: its HPKE key, its own PCR0, a replay guard and the time. */
export interface OpenContext {
  hpkePrivateKey: CryptoKey;
  /** this release's PCR0 */
  pcr0: Measurement;
  now: Date;
  replay?: ReplayGuard;
  /**
   * Keep the parsed recipient certificates (default true). A runtime that only checks the whole
   * request here and emits from worker threads (each opening its own shard) passes false: memory
   * then stays flat in the number of recipients, and `thumbprints` still feeds the receipt.
   */
  retainCertificates?: boolean;
  /**
   * What a request carrying a DKDM instead of sealed keys needs (dkdm-open.ts): the identity's
   * KDM signer chain and decryption key, and the publishers of this release's log entry. A DKDM
   * request without it is refused.
   */
  dkdm?: Omit<DkdmContext, 'pcr0' | 'now'>;
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
  /** the request's expiry (bound into requestDigest) */
  expires: Date;
  now: Date;
}

/** Validates the request's shape and returns it typed (the verifier's MALFORMED, OVERSIZED). */
export function validateForwardRequest(body: unknown): ForwardRequest {
  return parseForwardRequest(body);
}

/** Opens and checks a forward request. Throws coded EnclaveErrors; emits nothing. */
export async function openForwardRequest(body: unknown, ctx: OpenContext): Promise<OpenedForward> {
  const req = validateForwardRequest(body);
  const format = req.format ?? 'kdm';
  const expires = checkForwardRequestTime(req, ctx.now);
  const requestDigest = forwardRequestDigest(req);
  const formatAllowed = (r: OpenedRules['rules']) => {
    if (!r.formats.includes(format))
      throw new EnclaveError('FORWARD_FORMAT_NOT_ALLOWED', `the rules do not allow the ${format} format`, {
        format,
        allowed: r.formats,
      });
  };
  let rules: OpenedRules;
  let film: FilmKeys;
  if (req.dkdm !== undefined) {
    // keys in as a DKDM (dkdm-open.ts): every check before its blocks are opened
    if (!ctx.dkdm) throw new EnclaveError('FORWARD_REQUEST_MALFORMED', 'this enclave takes no DKDM here');
    const o = await openDkdm(
      { dkdm: req.dkdm, rules: req.rules, rulesKey: req.rulesKey!, rulesEndorsement: req.rulesEndorsement! },
      { ...ctx.dkdm, pcr0: ctx.pcr0, now: ctx.now },
    );
    film = o.film;
    rules = o.rules;
    try {
      formatAllowed(rules.rules);
    } catch (e) {
      for (const k of film.keys) k.key.fill(0);
      throw e;
    }
  } else {
    const header = parseSealedKeys(req.sealedKeys!);
    rules = openRules(req.rules, header.rulesKey);
    checkRulesTime(rules.rules, ctx.now);
    formatAllowed(rules.rules);
    film = await openSealedKeys(header, ctx.hpkePrivateKey, ctx.pcr0.bytes, rules.digest);
  }
  const r = rules.rules;
  try {
    const want = new Set(r.contentKeyIds);
    if (film.cplId !== r.film.cplId || film.keys.length !== want.size || !film.keys.every((k) => want.has(k.id))) {
      throw new EnclaveError(
        'FORWARD_KEYS_MISMATCH',
        'the sealed keys are not exactly the content keys and CPL the rules name',
        { rulesCplId: r.film.cplId, sealedCplId: film.cplId },
      );
    }
    if (req.recipients.length > r.limits.maxRecipients)
      throw new EnclaveError('FORWARD_OVERSIZED', `the rules allow at most ${r.limits.maxRecipients} recipients`, {
        recipients: req.recipients.length,
        limit: r.limits.maxRecipients,
      });
    const thumbprints: Uint8Array[] = [];
    const recipients = checkRecipients(req.recipients, {
      rules: r,
      intermediates: req.intermediates ?? [],
      now: ctx.now,
      format: deliveryFormat(format),
      retain: ctx.retainCertificates !== false,
      onChecked: (c) => thumbprints.push(c.thumbprint),
    });
    // claimed last: a refused request can be corrected and sent again
    const until = new Date(Math.min(expires.getTime(), parseInstant(r.forwardUntil)));
    if (ctx.replay && !ctx.replay.claim(requestDigest, until, ctx.now)) {
      throw new EnclaveError('FORWARD_REPLAY', 'this request has already been served', { requestDigest });
    }
    return {
      film: { cplId: film.cplId, keys: film.keys },
      rules,
      recipients,
      thumbprints,
      format,
      requestDigest,
      expires,
      now: ctx.now,
    };
  } catch (e) {
    for (const k of film.keys) k.key.fill(0);
    throw e;
  }
}
