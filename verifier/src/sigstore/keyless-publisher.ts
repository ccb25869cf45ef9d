/**
 * Publishers pinned by identity (keyless, Fulcio) rather than by key, as a log, a studio or an
 * enclave names them: the identity policies and the Sigstore trust root whose Fulcio CAs issue
 * their certificates.
 *
 * Two checks, for the two things a verifier may hold:
 *  - a whole bundle (`keylessBundleSigner`): stock verification — chain to the CA, SCT, an RFC
 *    3161 (or SET) timestamp inside the certificate's validity, the signature — then the identity
 *    (verify-bundle.ts; `tlogThreshold` 0 before the bundle is logged, at admission);
 *  - a logged leaf, which keeps only the signing certificate (`keylessLeafSigner`): the
 *    certificate was issued by a Fulcio CA of the trust root (its signature, and the CA valid at
 *    the certificate's notBefore), and the identity matches. The signing time is not in a leaf:
 *    it was checked (TSA timestamp inside the certificate's validity) when the log admitted the
 *    bundle and is checked again by `verify release --bundle`; a reader of the leaf alone relies
 *    on that admission for it (builder/README.md, "Keyless releases").
 * Pure. Throws IDENTITY_MISMATCH, SIGNER_NOT_ALLOWED, CERT_CHAIN, CERT_MALFORMED, SIGSTORE_INVALID.
 */
import { X509Certificate } from 'node:crypto';
import { VerifierError } from '../errors.ts';
import { fromBase64 } from '../encoding/bytes.ts';
import { isObject } from '../encoding/canonical-json.ts';
import type { FulcioIdentity } from './fulcio-identity.ts';
import { matchCertificateIdentity, parseIdentityPolicy, type IdentityPolicy } from './identity-policy.ts';
import { checkTrustedRoot, verifySigstoreBundle } from './verify-bundle.ts';

export interface KeylessPublishers {
  policies: IdentityPolicy[];
  /** A Sigstore TrustedRoot (JSON) whose certificateAuthorities issue the publishers' certificates. */
  trustedRoot: Record<string, unknown>;
}

/** Checks the parts (policies parse, root is well-formed); returns them normalised. */
export function keylessPublishers(policies: unknown[], trustedRoot: unknown): KeylessPublishers {
  checkTrustedRoot(trustedRoot);
  return { policies: policies.map(parseIdentityPolicy), trustedRoot: trustedRoot as Record<string, unknown> };
}

export interface KeylessSigner {
  policy: IdentityPolicy;
  identity: FulcioIdentity;
  certificate: Uint8Array;
}

/** A whole keyless bundle: stock verification under the root, then one of the pinned identities. */
export function keylessBundleSigner(
  bundle: string | Uint8Array | Record<string, unknown>,
  pubs: KeylessPublishers,
  tlogThreshold: number,
): KeylessSigner {
  const r = verifySigstoreBundle({
    bundle,
    trustedRoot: pubs.trustedRoot,
    signer: { anyOf: pubs.policies },
    tlogThreshold,
  });
  return { policy: r.policy!, identity: r.identity!, certificate: r.certificate! };
}

interface CaEntry {
  certs: X509Certificate[];
  start: number;
  end: number;
}

function cas(root: Record<string, unknown>): CaEntry[] {
  const list = Array.isArray(root.certificateAuthorities) ? root.certificateAuthorities : [];
  return list.filter(isObject).map((ca) => {
    const chain = isObject(ca.certChain) && Array.isArray(ca.certChain.certificates) ? ca.certChain.certificates : [];
    const v = isObject(ca.validFor) ? ca.validFor : {};
    return {
      certs: chain.filter(isObject).map((c) => new X509Certificate(Buffer.from(fromBase64(c.rawBytes as string)))),
      start: Date.parse(String(v.start)),
      end: typeof v.end === 'string' ? Date.parse(v.end) : Number.POSITIVE_INFINITY,
    };
  });
}

/** The certificate was issued by a CA of the root that was valid when the certificate was issued. */
export function checkFulcioIssued(certDer: Uint8Array, root: Record<string, unknown>): void {
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(Buffer.from(certDer));
  } catch (e) {
    throw new VerifierError('CERT_MALFORMED', 'the signing certificate does not parse', {}, { cause: e });
  }
  const issued = new Date(leaf.validFrom).getTime();
  for (const ca of cas(root)) {
    const issuer = ca.certs[0];
    if (!issuer || issued < ca.start || issued > ca.end) continue;
    const caFrom = new Date(issuer.validFrom).getTime();
    const caTo = new Date(issuer.validTo).getTime();
    if (issued < caFrom || issued > caTo) continue;
    if (leaf.checkIssued(issuer) && leaf.verify(issuer.publicKey)) return;
  }
  throw new VerifierError('CERT_CHAIN', 'the signing certificate was not issued by a Fulcio CA of the trusted root', {
    subject: leaf.subject,
    issuer: leaf.issuer,
    notBefore: leaf.validFrom,
  });
}

/** A logged leaf's signing certificate: issued by the root's Fulcio, and one of the pinned identities. */
export function keylessLeafSigner(certDer: Uint8Array, pubs: KeylessPublishers): KeylessSigner {
  checkFulcioIssued(certDer, pubs.trustedRoot);
  const m = matchCertificateIdentity(pubs.policies, certDer);
  return { ...m, certificate: certDer };
}
