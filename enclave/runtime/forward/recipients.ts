/**
 * Recipient certificates of a forward request, checked against the studio's rules before anything
 * is emitted: parse (PEM — leaf first, optionally followed by its CAs — or base64 DER), plain
 * names (no control character, no multi-valued RDN: FORWARD_RECIPIENT_NAME), no duplicates, not
 * excluded, a CN role the rules allow (`recipients.roles`), explicitly listed by thumbprint or
 * chaining to a named manufacturer root — for every format the full chain check: each
 * certificate above the leaf a CA with keyCertSign and the path lengths kept —, valid now and
 * through the KDM window, and what the output format accepts (its `recipients` contract,
 * verifier/src/forward/formats/format.ts: the ST 430-2 profile with the Security Manager role for
 * KDMs, a leaf of the right key type for a raw format). The first
 * failure throws an EnclaveError naming the recipient (index, thumbprint, subject); the caller
 * then emits nothing.
 */
import {
  VerifierError,
  checkDcNames,
  checkDcProfile,
  parseDcCertificate,
  verifyDcChain,
  type DcCertificate,
  type ForwardRules,
} from '#verifier';
import type { DeliveryFormat } from '#verifier/build';
import { certificateThumbprint, cnRoles, nameValue, pemCertificates, parseInstant } from '#verifier/build';
import { EnclaveError } from '../../common/errors.ts';

export const MAX_CERTIFICATE_TEXT = 16 * 1024;

export interface Recipient {
  index: number;
  certificate: DcCertificate;
  thumbprint: string;
}

function decode(text: string | Uint8Array, what: string): DcCertificate[] {
  try {
    if (text instanceof Uint8Array) return [parseDcCertificate(text)];
    if (typeof text !== 'string' || text.length > MAX_CERTIFICATE_TEXT)
      throw new Error('not a string of at most 16 KiB');
    if (text.includes('-----BEGIN')) return pemCertificates(text).map(parseDcCertificate);
    const der = Buffer.from(text, 'base64');
    if (der.toString('base64') !== text.replace(/\s+/g, '')) throw new Error('neither PEM nor base64 DER');
    return [parseDcCertificate(new Uint8Array(der))];
  } catch (e) {
    throw new EnclaveError('FORWARD_RECIPIENT_INVALID', `${what} is not a valid certificate: ${(e as Error).message}`, {
      what,
      cause: e instanceof VerifierError ? e.code : 'MALFORMED',
    });
  }
}

/** Parses the rules' root certificates once. */
export function rulesRoots(rules: ForwardRules): DcCertificate[] {
  return rules.recipients.roots.map((b, i) => decode(b, `rules root ${i}`)[0]!);
}

export interface RecipientCheck {
  rules: ForwardRules;
  roots: DcCertificate[];
  intermediates: DcCertificate[];
  now: Date;
  /** the output format: which recipients it accepts */
  format: Pick<DeliveryFormat, 'recipients'>;
}

/** Parses and checks every recipient; returns them in request order or throws on the first refusal. */
export function checkRecipients(
  inputs: ReadonlyArray<string | Uint8Array>,
  ctx: Omit<RecipientCheck, 'roots' | 'intermediates'> & {
    intermediates: ReadonlyArray<string | Uint8Array>;
    retain?: boolean;
    onChecked?: (c: DcCertificate) => void;
  },
): Recipient[] {
  const roots = rulesRoots(ctx.rules);
  const intermediates = ctx.intermediates.flatMap((t, i) => decode(t, `intermediate ${i}`));
  const allowed = new Set(ctx.rules.recipients.thumbprints);
  const excluded = new Set(ctx.rules.recipients.excluded);
  const allowedRoles = new Set(ctx.rules.recipients.roles);
  const windowEnd = parseInstant(ctx.rules.kdmWindow.notAfter);
  const seen = new Set<string>();
  const verifiedCas = new Map<string, DcCertificate[]>();
  const out: Recipient[] = [];
  for (const [index, text] of inputs.entries()) {
    const [leaf, ...extra] = decode(text, `recipient ${index}`);
    const thumbprint = certificateThumbprint(leaf!);
    const who = { index, thumbprint, subject: leaf!.subject };
    const refuse = (reason: string, cause?: string): never => {
      throw new EnclaveError(
        'FORWARD_RECIPIENT_NOT_ALLOWED',
        `recipient ${index} (${leaf!.subject}, thumbprint ${thumbprint}) is outside the rules: ${reason}`,
        cause ? { ...who, cause } : who,
      );
    };
    const { dci, refuse: formatRefuses } = ctx.format.recipients;
    const formatCheck = (c: DcCertificate) => {
      const reason = formatRefuses?.(c);
      if (reason !== undefined) refuse(reason, 'CERT_KEY_TYPE');
    };
    try {
      checkDcNames(leaf!);
    } catch (e) {
      if (!(e instanceof VerifierError)) throw e;
      throw new EnclaveError('FORWARD_RECIPIENT_NAME', `recipient ${index}: ${e.message}`, {
        index,
        thumbprint,
        cause: e.code,
        ...e.toJSON().evidence,
      });
    }
    if (seen.has(thumbprint)) refuse('listed twice in this request');
    seen.add(thumbprint);
    if (excluded.has(thumbprint)) refuse('excluded by the rules');
    const roles = cnRoles(nameValue(leaf!.subjectRdns, 'CN') ?? '');
    if (!roles.some((r) => allowedRoles.has(r)))
      refuse(`its CN roles (${roles.join(' ') || 'none'}) are not among the roles the rules allow`, 'CERT_ROLE');
    try {
      if (allowed.has(thumbprint)) {
        if (dci) checkDcProfile(leaf!, 'leaf', 'SM');
        formatCheck(leaf!);
        if (ctx.now < leaf!.notBefore || ctx.now > leaf!.notAfter)
          refuse('certificate is not valid now', 'CERT_VALIDITY');
      } else if (roots.length > 0) {
        // every format: CAs above the leaf must be CAs (keyCertSign, path lengths); KDMs also the ST 430-2 profile
        verifyDcChain(leaf!, {
          intermediates: [...extra, ...intermediates],
          roots,
          at: ctx.now,
          requiredRole: dci ? 'SM' : undefined,
          profile: dci,
          verifiedCas,
        });
        formatCheck(leaf!);
      } else refuse('not listed by thumbprint');
    } catch (e) {
      if (e instanceof VerifierError) refuse(e.message, e.code);
      throw e;
    }
    if (leaf!.notAfter.getTime() < windowEnd) refuse('certificate expires before the KDM window ends', 'CERT_VALIDITY');
    ctx.onChecked?.(leaf!);
    if (ctx.retain !== false) out.push({ index, certificate: leaf!, thumbprint });
  }
  return out;
}
