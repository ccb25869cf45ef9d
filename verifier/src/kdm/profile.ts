/**
 * SMPTE ST 430-2 certificate profile and chain checks, as ClairMeta implements ST 430-2:2017
 * §6.2 and as libdcp/DCP-o-matic chains and real Security Manager certificates look
 * (notes/kdm.md §5): RSA-2048 / 65537, sha256WithRSAEncryption, subject with O, OU, CN and a
 * dnQualifier equal to the key's thumbprint, issuer O = subject O, critical basicConstraints,
 * keyUsage per role, SKI (and AKI below the root), no unknown critical extension, CA CNs starting
 * with `.`, leaf CNs `<roles>.<name>`. Pure. Throws CERT_PROFILE / CERT_CHAIN / CERT_VALIDITY.
 */
import { verify as cryptoVerify } from 'node:crypto';
import { VerifierError } from '../errors.ts';
import {
  type DcCertificate,
  OID_SHA256_RSA,
  nameValue,
  publicKeyThumbprint,
  certificateThumbprint,
} from './certificate.ts';

export type DcRole = 'ca' | 'leaf';

function profile(c: DcCertificate, reason: string): never {
  throw new VerifierError('CERT_PROFILE', `certificate ${c.subject} is outside the ST 430-2 profile: ${reason}`, {
    subject: c.subject,
    thumbprint: certificateThumbprint(c),
    reason,
  });
}

/** The roles of a leaf CN (`SM LE.name` → ['SM', 'LE']); [] for a CN starting with `.`. */
export function cnRoles(cn: string): string[] {
  const dot = cn.indexOf('.');
  if (dot <= 0) return [];
  return cn.slice(0, dot).split(' ').filter(Boolean);
}

/** Throws CERT_PROFILE unless `c` fits the ST 430-2 profile for `role`; `requiredRole` (e.g. 'SM') must be among a leaf's CN roles. */
export function checkDcProfile(c: DcCertificate, role: DcRole, requiredRole?: string): void {
  if (c.keyType !== 'rsa') profile(c, 'an X25519 key is for raw-hpke receivers, not a D-cinema certificate');
  if (c.modulusBits !== 2048) profile(c, `RSA key is ${c.modulusBits} bits, not 2048`);
  if (c.exponent !== 65537n) profile(c, 'RSA public exponent is not 65537');
  if (c.signatureAlgorithm !== OID_SHA256_RSA) profile(c, 'not signed with sha256WithRSAEncryption');
  const counts = new Map<string, number>();
  for (const rdn of c.subjectRdns) for (const a of rdn) counts.set(a.type, (counts.get(a.type) ?? 0) + 1);
  for (const t of ['O', 'OU', 'CN', 'dnQualifier'])
    if (counts.get(t) !== 1) profile(c, `subject must carry exactly one ${t}`);
  if (nameValue(c.subjectRdns, 'dnQualifier') !== publicKeyThumbprint(c.pkcs1))
    profile(c, 'dnQualifier does not match the public key');
  if (nameValue(c.issuerRdns, 'O') !== nameValue(c.subjectRdns, 'O')) profile(c, 'issuer O differs from subject O');
  const bc = c.basicConstraints;
  if (!bc?.critical) profile(c, 'basicConstraints missing or not critical');
  const ku = c.keyUsage?.usages ?? new Set();
  const cn = nameValue(c.subjectRdns, 'CN')!;
  if (role === 'ca') {
    if (!bc.ca) profile(c, 'a CA certificate must have CA:TRUE');
    if (!ku.has('keyCertSign')) profile(c, 'a CA certificate needs keyCertSign');
    if (!cn.startsWith('.')) profile(c, 'a CA certificate CN must start with "."');
  } else {
    if (bc.ca) profile(c, 'a leaf certificate must have CA:FALSE');
    if (!ku.has('digitalSignature') || !ku.has('keyEncipherment'))
      profile(c, 'a leaf needs digitalSignature and keyEncipherment');
    if (ku.has('keyCertSign')) profile(c, 'a leaf must not have keyCertSign');
    if (requiredRole && !cnRoles(cn).includes(requiredRole)) profile(c, `leaf CN roles do not include ${requiredRole}`);
  }
  if (!c.hasSki) profile(c, 'subjectKeyIdentifier missing');
  if (c.unknownCritical.length > 0) profile(c, `unknown critical extension ${c.unknownCritical[0]}`);
}

/**
 * What makes a certificate a CA whatever the output format (issue 16: a raw format skipped this,
 * so a leaf — the excluded projector's own — could sign another leaf under a root with
 * pathLen ≥ 1): basicConstraints with CA:TRUE and a keyUsage with keyCertSign. Throws
 * CERT_CHAIN. The ST 430-2 profile (checkDcProfile 'ca') asks this and more.
 */
export function checkCaBasics(c: DcCertificate): void {
  const why = !c.basicConstraints?.ca
    ? 'it is not a CA (basicConstraints CA:FALSE or missing)'
    : !c.keyUsage?.usages.has('keyCertSign')
      ? 'its keyUsage does not allow keyCertSign'
      : null;
  if (why)
    throw new VerifierError('CERT_CHAIN', `certificate ${c.subject} cannot issue certificates: ${why}`, {
      subject: c.subject,
      thumbprint: certificateThumbprint(c),
      reason: why,
    });
}

/**
 * Names a KDM writes (the recipient's subject and issuer) must be plain: one attribute per RDN
 * (a multi-valued RDN has no single RFC 2253 spelling that every reader agrees on) and no
 * control character (C0, DEL, C1) in any value. Throws CERT_NAME.
 */
export function checkDcNames(c: DcCertificate): void {
  for (const [which, rdns] of [
    ['subject', c.subjectRdns],
    ['issuer', c.issuerRdns],
  ] as const) {
    for (const rdn of rdns) {
      const why =
        rdn.length !== 1
          ? 'a multi-valued RDN'
          : /[\u0000-\u001f\u007f-\u009f]/.test(rdn[0]!.value)
            ? `a control character in ${rdn[0]!.type}`
            : null;
      if (why)
        throw new VerifierError('CERT_NAME', `certificate ${which} name carries ${why}`, {
          thumbprint: certificateThumbprint(c),
          name: which,
          reason: why,
        });
    }
  }
}

export interface DcChainOptions {
  /** extra certificates that may link the leaf to a root */
  intermediates: readonly DcCertificate[];
  /** trusted roots (self-signed) */
  roots: readonly DcCertificate[];
  at: Date;
  /** CN role the leaf must carry (e.g. 'SM') */
  requiredRole?: string;
  /** check every certificate against the ST 430-2 profile (default true) */
  profile?: boolean;
  /** a cache of certificate DER (base64) already proved to chain to a root: skips repeated work */
  verifiedCas?: Map<string, DcCertificate[]>;
}

function signedBy(child: DcCertificate, parent: DcCertificate): boolean {
  if (Buffer.compare(child.issuerDer, parent.subjectDer) !== 0) return false;
  try {
    return cryptoVerify(
      child.signatureAlgorithm === OID_SHA256_RSA ? 'sha256' : 'sha1',
      child.tbs,
      parent.publicKey,
      child.signature,
    );
  } catch {
    return false;
  }
}

function validAt(c: DcCertificate, at: Date): void {
  if (at < c.notBefore || at > c.notAfter)
    throw new VerifierError('CERT_VALIDITY', `certificate ${c.subject} is not valid at ${at.toISOString()}`, {
      subject: c.subject,
      notBefore: c.notBefore.toISOString(),
      notAfter: c.notAfter.toISOString(),
    });
}

/**
 * Builds and checks the path leaf → … → one of `roots`. Returns the path, leaf first and root
 * last. Throws CERT_CHAIN (no path), CERT_VALIDITY (a certificate outside its validity at `at`, or
 * a child outliving its parent), CERT_PROFILE.
 */
export function verifyDcChain(leaf: DcCertificate, o: DcChainOptions): DcCertificate[] {
  const check = o.profile !== false;
  if (check) checkDcProfile(leaf, 'leaf', o.requiredRole);
  else if (o.requiredRole && !cnRoles(nameValue(leaf.subjectRdns, 'CN') ?? '').includes(o.requiredRole))
    profile(leaf, `leaf CN roles do not include ${o.requiredRole}`);
  validAt(leaf, o.at);
  const path: DcCertificate[] = [leaf];
  let cur = leaf;
  for (let depth = 0; depth < 8; depth++) {
    const root = o.roots.find((r) => signedBy(cur, r));
    if (root) return finish(path, root, o, check);
    const parent = o.intermediates.find((p) => p !== cur && !path.includes(p) && signedBy(cur, p));
    if (!parent) break;
    const key = Buffer.from(parent.der).toString('base64');
    const cached = o.verifiedCas?.get(key);
    if (cached) {
      nested(cur, parent);
      return [...path, ...cached];
    }
    if (check) checkDcProfile(parent, 'ca');
    else checkCaBasics(parent);
    validAt(parent, o.at);
    nested(cur, parent);
    path.push(parent);
    cur = parent;
  }
  throw new VerifierError('CERT_CHAIN', `certificate ${leaf.subject} does not chain to an allowed root`, {
    subject: leaf.subject,
    thumbprint: certificateThumbprint(leaf),
  });
}

function nested(child: DcCertificate, parent: DcCertificate): void {
  if (child.notBefore < parent.notBefore || child.notAfter > parent.notAfter)
    throw new VerifierError('CERT_VALIDITY', `certificate ${child.subject} is valid outside its issuer's validity`, {
      subject: child.subject,
    });
}

function finish(path: DcCertificate[], root: DcCertificate, o: DcChainOptions, check: boolean): DcCertificate[] {
  if (check) checkDcProfile(root, 'ca');
  else checkCaBasics(root);
  validAt(root, o.at);
  nested(path[path.length - 1]!, root);
  const full = [...path, root];
  // pathLenConstraint: a CA may have at most pathLen CAs below it
  for (let i = 1; i < full.length; i++) {
    const pl = full[i]!.basicConstraints?.pathLen;
    if (pl !== undefined && i - 1 > pl)
      throw new VerifierError('CERT_CHAIN', 'pathLenConstraint exceeded', { subject: full[i]!.subject });
  }
  if (o.verifiedCas)
    for (let i = 1; i < full.length - 1; i++)
      o.verifiedCas.set(Buffer.from(full[i]!.der).toString('base64'), full.slice(i));
  return full;
}
