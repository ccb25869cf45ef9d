/**
 * Verifying an AWS Nitro attestation document end to end (NSM API
 * docs/attestation_process.md §3; notes/nitro.md §3): structure (document.ts), the
 * certificate chain from the leaf through `cabundle` to a trusted root at time `at`
 * (x509/chain.ts; default trust: the pinned AWS Nitro Enclaves Root G1 only), the ES384
 * COSE signature under the leaf key, the document timestamp inside the leaf's validity, then
 * policy (policy.ts). Every check runs on every call. Pure and synchronous; throws a coded
 * VerifierError whose evidence names the certificate, PCR or field that failed.
 */
import { VerifierError } from '../errors.ts';
import { toHex } from '../encoding/bytes.ts';
import { verifyCoseSign1 } from '../cose/sign1.ts';
import { verifyCertificateChain, type CertificateInfo } from '../x509/chain.ts';
import { awsNitroRootG1 } from './aws-root.ts';
import { parseAttestationDocument, type AttestationDocument } from './document.ts';
import { checkPolicy, expectedPcrEntries, isDebugMode, type AttestationPolicy } from './policy.ts';

export interface VerifyAttestationOptions {
  /** DER certificates to trust as roots; default: the AWS Nitro Enclaves Root G1 only */
  trustedRoots?: readonly Uint8Array[];
  /** the time to validate the chain at; default now (use the document time for archives) */
  at?: Date;
  policy?: AttestationPolicy;
}

export interface VerifiedAttestation {
  document: AttestationDocument;
  moduleId: string;
  timestamp: number;
  pcrs: Map<number, Uint8Array>;
  debug: boolean;
  publicKey: Uint8Array | null;
  userData: Uint8Array | null;
  nonce: Uint8Array | null;
  /** root first, leaf last */
  chain: CertificateInfo[];
  rootSha256: string;
  verifiedAt: Date;
}

const AWS_ROOTS: readonly Uint8Array[] = [awsNitroRootG1()];

export function verifyAttestationDocument(
  bytes: Uint8Array,
  options: VerifyAttestationOptions = {},
): VerifiedAttestation {
  const at = options.at ?? new Date();
  if (!(at instanceof Date) || Number.isNaN(at.getTime()))
    throw new TypeError('verifyAttestationDocument: `at` must be a valid Date');
  const policy = options.policy ?? {};
  expectedPcrEntries(policy.expectedPcrs); // refuse a malformed policy before looking at the document
  const doc = parseAttestationDocument(bytes);
  const chain = verifyCertificateChain(doc.cabundle, doc.certificate, options.trustedRoots ?? AWS_ROOTS, at);
  const leaf = chain.certificates[chain.certificates.length - 1]!;
  if (!verifyCoseSign1(doc, chain.leafKey)) {
    throw new VerifierError(
      'ATTESTATION_SIGNATURE',
      'the COSE_Sign1 signature does not verify under the document certificate',
      { subject: leaf.subject, signature: toHex(doc.signature) },
    );
  }
  if (doc.timestamp < chain.leafNotBefore.getTime() || doc.timestamp > chain.leafNotAfter.getTime()) {
    throw new VerifierError('CERT_VALIDITY', 'the document timestamp lies outside its certificate validity', {
      ...leaf,
      timestamp: new Date(doc.timestamp).toISOString(),
    });
  }
  checkPolicy(doc, policy, at);
  return {
    document: doc,
    moduleId: doc.moduleId,
    timestamp: doc.timestamp,
    pcrs: doc.pcrs,
    debug: isDebugMode(doc.pcrs),
    publicKey: doc.publicKey,
    userData: doc.userData,
    nonce: doc.nonce,
    chain: chain.certificates,
    rootSha256: chain.rootSha256,
    verifiedAt: at,
  };
}
