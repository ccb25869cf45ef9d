/**
 * Certificate path validation for AWS Nitro attestation chains (RFC 5280 §6.1, restricted to
 * the Nitro profile; NSM API docs/attestation_process.md §3.2.3; notes/nitro.md §3.3):
 *
 *   trusted root (byte-identical to cabundle[0]) → cabundle[1] → … → cabundle[n-1] → leaf
 *
 * Every certificate, the root included, must be valid at `at`; each link's issuer name must
 * equal its parent's subject (DER bytes) and its signature must verify under the parent's
 * key; every CA needs basicConstraints cA=TRUE, keyUsage keyCertSign and a pathLenConstraint
 * (if any) not smaller than the number of CAs below it; the leaf must not be a CA and needs
 * keyUsage digitalSignature. Unknown critical extensions are refused. No CRL/OCSP (the NSM
 * spec disables revocation checks); AKI/SKI are not required (AWS's leaves omit them).
 *
 * Pure and synchronous. Parsed certificates and their public KeyObjects are cached by SHA-256
 * of the DER (parsing is a function of the bytes); signatures, names, times and constraints
 * are checked on every call. Throws VerifierError ROOT_UNTRUSTED, CERT_MALFORMED, CERT_CHAIN,
 * CERT_VALIDITY or CERT_CONSTRAINTS with the certificate's index, role, subject and validity.
 */
import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { VerifierError, type VerifierErrorCode } from '../errors.ts';
import { parseCertificate, type ParsedCertificate } from './certificate.ts';

export interface CertificateInfo {
  /** 0 = root … n-1 = leaf */
  index: number;
  role: string;
  subject: string;
  issuer: string;
  serialHex: string;
  notBefore: string;
  notAfter: string;
  sha256: string;
}

export interface VerifiedChain {
  /** root first, leaf last */
  certificates: CertificateInfo[];
  /** the leaf's public key, for the document signature */
  leafKey: KeyObject;
  /** the leaf's validity (fresh copies: cached certificates are never handed out) */
  leafNotBefore: Date;
  leafNotAfter: Date;
  rootSha256: string;
}

interface Entry {
  cert: ParsedCertificate;
  key: KeyObject;
  sha256: string;
}

const CACHE_MAX = 256;
const cache = new Map<string, Entry>();

function load(der: Uint8Array, index: number, role: string): Entry {
  const sha256 = createHash('sha256').update(der).digest('hex');
  const hit = cache.get(sha256);
  if (hit) return hit;
  let cert: ParsedCertificate;
  try {
    // parse a private copy: the cached views must not alias a buffer the caller may change
    cert = parseCertificate(new Uint8Array(der));
  } catch (e) {
    if (e instanceof VerifierError)
      throw new VerifierError(e.code, `${role}: ${e.message}`, { ...e.evidence, index, role, sha256 }, { cause: e });
    throw e;
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(cert.spki), format: 'der', type: 'spki' });
  } catch (e) {
    // e.g. a point not on P-384: OpenSSL refuses to load it
    throw new VerifierError(
      'CERT_MALFORMED',
      `${role}: unusable public key (${(e as Error).message})`,
      { reason: 'unusable public key', index, role, subject: cert.subject, sha256 },
      { cause: e },
    );
  }
  const entry = { cert, key, sha256 };
  if (cache.size >= CACHE_MAX) cache.clear();
  cache.set(sha256, entry);
  return entry;
}

function info(e: Entry, index: number, role: string): CertificateInfo {
  const c = e.cert;
  return {
    index,
    role,
    subject: c.subject,
    issuer: c.issuer,
    serialHex: c.serialHex,
    notBefore: c.notBefore.toISOString(),
    notAfter: c.notAfter.toISOString(),
    sha256: e.sha256,
  };
}

function fail(
  code: VerifierErrorCode,
  message: string,
  who: CertificateInfo,
  extra: Record<string, unknown> = {},
): never {
  throw new VerifierError(code, `${who.role} (${who.subject}): ${message}`, { ...who, ...extra });
}

/**
 * Validates `leaf` through `cabundle` (root first, as in the attestation document) to one of
 * `trustedRoots` (DER) at time `at`.
 */
export function verifyCertificateChain(
  cabundle: readonly Uint8Array[],
  leaf: Uint8Array,
  trustedRoots: readonly Uint8Array[],
  at: Date,
): VerifiedChain {
  if (!(at instanceof Date) || Number.isNaN(at.getTime()))
    throw new TypeError('verifyCertificateChain: `at` must be a valid Date');
  if (trustedRoots.length === 0) throw new TypeError('verifyCertificateChain: at least one trusted root is required');
  const rootDer = cabundle[0];
  if (!rootDer) throw new VerifierError('CERT_CHAIN', 'cabundle is empty', {});
  if (!trustedRoots.some((r) => r.length === rootDer.length && Buffer.compare(r, rootDer) === 0)) {
    const sha256 = createHash('sha256').update(rootDer).digest('hex');
    let subject: string | null = null;
    try {
      subject = parseCertificate(rootDer).subject;
    } catch {
      subject = null;
    }
    const trusted = trustedRoots.map((r) => createHash('sha256').update(r).digest('hex'));
    throw new VerifierError(
      'ROOT_UNTRUSTED',
      `the document's root (${subject ?? 'unparseable'}) is not a trusted root`,
      { index: 0, role: 'root', subject, sha256, trusted },
    );
  }
  const ders = [...cabundle, leaf];
  const n = ders.length;
  const roleOf = (i: number) => (i === 0 ? 'root' : i === n - 1 ? 'certificate' : `cabundle[${i}]`);
  const entries = ders.map((d, i) => load(d, i, roleOf(i)));
  const infos = entries.map((e, i) => info(e, i, roleOf(i)));
  for (let i = 1; i < n; i++) checkLink(entries[i - 1]!, entries[i]!, infos[i]!);
  for (let i = 0; i < n; i++) checkValidity(entries[i]!.cert, infos[i]!, at);
  for (let i = 0; i < n; i++) checkConstraints(entries[i]!.cert, infos[i]!, i === n - 1, n - 2 - i);
  const last = entries[n - 1]!;
  return {
    certificates: infos,
    leafKey: last.key,
    leafNotBefore: new Date(last.cert.notBefore),
    leafNotAfter: new Date(last.cert.notAfter),
    rootSha256: entries[0]!.sha256,
  };
}

function checkLink(parent: Entry, child: Entry, who: CertificateInfo): void {
  if (Buffer.compare(child.cert.issuerDer, parent.cert.subjectDer) !== 0)
    fail('CERT_CHAIN', `issuer does not match the subject of the certificate above it (${parent.cert.subject})`, who, {
      expectedIssuer: parent.cert.subject,
    });
  if (!verify('sha384', child.cert.tbs, parent.key, child.cert.signature))
    fail('CERT_CHAIN', `signature does not verify under ${parent.cert.subject}`, who, { signer: parent.cert.subject });
}

function checkValidity(c: ParsedCertificate, who: CertificateInfo, at: Date): void {
  const t = at.getTime();
  if (t < c.notBefore.getTime())
    fail('CERT_VALIDITY', `not yet valid at ${at.toISOString()}`, who, { at: at.toISOString() });
  if (t > c.notAfter.getTime()) fail('CERT_VALIDITY', `expired at ${at.toISOString()}`, who, { at: at.toISOString() });
}

function checkConstraints(c: ParsedCertificate, who: CertificateInfo, isLeaf: boolean, casBelow: number): void {
  if (c.unknownCritical.length > 0)
    fail('CERT_CONSTRAINTS', `unknown critical extension ${c.unknownCritical.join(', ')}`, who, {
      unknownCritical: c.unknownCritical,
    });
  const bc = c.basicConstraints;
  const ku = c.keyUsage;
  if (isLeaf) {
    if (bc?.ca) fail('CERT_CONSTRAINTS', 'the document certificate must not be a CA', who);
    if (!ku?.usages.has('digitalSignature'))
      fail('CERT_CONSTRAINTS', 'the document certificate lacks keyUsage digitalSignature', who);
    return;
  }
  if (!bc?.ca) fail('CERT_CONSTRAINTS', 'an issuing certificate lacks basicConstraints cA=TRUE', who);
  if (!ku?.usages.has('keyCertSign'))
    fail('CERT_CONSTRAINTS', 'an issuing certificate lacks keyUsage keyCertSign', who);
  if (bc.pathLen !== undefined && casBelow > bc.pathLen)
    fail(
      'CERT_CONSTRAINTS',
      `pathLenConstraint ${bc.pathLen} allows fewer than the ${casBelow} CA certificates below it`,
      who,
      { pathLen: bc.pathLen, casBelow },
    );
}
