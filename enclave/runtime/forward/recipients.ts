/**
 * Recipient certificates of a forward request, checked against the studio's rules before anything
 * is emitted: parse (PEM — leaf first, optionally followed by its CAs — or base64 DER), plain
 * names (no control character, no multi-valued RDN: FORWARD_RECIPIENT_NAME), no duplicates, not
 * excluded, a CN role the rules allow (`recipients.roles`), explicitly listed by thumbprint or
 * chaining to a named manufacturer root — for every format the full chain check: each
 * certificate above the leaf a CA with keyCertSign and the path lengths kept —, valid now and
 * through the KDM window, and (for KDMs) inside the ST 430-2 profile with the Security Manager
 * role; raw-rsa-oaep recipients hold RSA ≥ 2048 keys, raw-hpke recipients X25519 keys. The first
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
  kdm: boolean;
  /** raw-hpke: recipients must hold X25519 keys (raw-rsa-oaep: RSA ≥ 2048) */
  hpke?: boolean;
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
    const rawKeyCheck = (c: DcCertificate) => {
      if (ctx.hpke) {
        if (c.basicConstraints?.ca || c.keyType !== 'x25519')
          refuse('a raw-hpke recipient must be an X25519 end-entity certificate', 'CERT_KEY_TYPE');
      } else if (c.basicConstraints?.ca || c.keyType !== 'rsa' || c.modulusBits < 2048)
        refuse('a raw-rsa-oaep recipient must be an RSA ≥ 2048 end-entity certificate', 'CERT_KEY_TYPE');
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
        if (ctx.kdm) checkDcProfile(leaf!, 'leaf', 'SM');
        else rawKeyCheck(leaf!);
        if (ctx.now < leaf!.notBefore || ctx.now > leaf!.notAfter)
          refuse('certificate is not valid now', 'CERT_VALIDITY');
      } else if (roots.length > 0) {
        // every format: CAs above the leaf must be CAs (keyCertSign, path lengths); KDMs also the ST 430-2 profile
        verifyDcChain(leaf!, {
          intermediates: [...extra, ...intermediates],
          roots,
          at: ctx.now,
          requiredRole: ctx.kdm ? 'SM' : undefined,
          profile: ctx.kdm,
          verifiedCas,
        });
        if (!ctx.kdm) rawKeyCheck(leaf!);
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
