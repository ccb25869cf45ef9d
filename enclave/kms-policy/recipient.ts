/**
 * A KMS request's `Recipient`: the NSM attestation document is verified with the verifier
 * (chain to the trusted roots passed explicitly — by default only the AWS Nitro root —,
 * signature, certificate time, age), its `public_key` must be an RSA-2048 SubjectPublicKeyInfo,
 * and its PCRs become the `kms:RecipientAttestation:ImageSha384` / `PCR<n>` condition keys
 * (lower-case hex). A document that does not verify is a refusal (KMS_DENIED) carrying the
 * verifier's code, before any key material is touched.
 */
import { verifyAttestationDocument, isVerifierError } from '#verifier';
import { recipientKey, toHex } from '#verifier/build';
import { EnclaveError } from '../common/errors.ts';
import { KEY_ENCRYPTION_ALGORITHM } from '../common/kms/port.ts';

export interface RecipientInput {
  attestationDocument: Uint8Array;
  keyEncryptionAlgorithm: string;
}

export interface RecipientOptions {
  /** DER roots to trust for attestation documents; default: the AWS Nitro Enclaves Root G1 only */
  trustedRoots?: readonly Uint8Array[];
  /** refuse documents older than this (default 5 minutes) */
  maxAgeMs: number;
  at: Date;
}

export interface VerifiedRecipient {
  /** the RSA-2048 SubjectPublicKeyInfo to seal CiphertextForRecipient for */
  publicKey: Uint8Array;
  /** the RecipientAttestation condition keys */
  conditionKeys: Record<string, string>;
  moduleId: string;
}

export const IMAGE_SHA384 = 'kms:RecipientAttestation:ImageSha384';
export const pcrConditionKey = (i: number): string => `kms:RecipientAttestation:PCR${i}`;

export function verifyRecipient(r: RecipientInput, o: RecipientOptions): VerifiedRecipient {
  if (r.keyEncryptionAlgorithm !== KEY_ENCRYPTION_ALGORITHM) {
    throw new EnclaveError('KMS_VALIDATION', `Recipient.KeyEncryptionAlgorithm must be ${KEY_ENCRYPTION_ALGORITHM}`, {
      keyEncryptionAlgorithm: String(r.keyEncryptionAlgorithm).slice(0, 64),
    });
  }
  let v: ReturnType<typeof verifyAttestationDocument>;
  try {
    v = verifyAttestationDocument(r.attestationDocument, {
      ...(o.trustedRoots ? { trustedRoots: o.trustedRoots } : {}),
      at: o.at,
      policy: { allowDebug: true, maxAgeMs: o.maxAgeMs },
    });
  } catch (e) {
    if (!isVerifierError(e)) throw e;
    throw new EnclaveError('KMS_DENIED', `the Recipient attestation document does not verify (${e.code})`, {
      verifierCode: e.code,
    });
  }
  if (!v.publicKey || v.publicKey.length === 0)
    throw new EnclaveError('KMS_VALIDATION', 'the attestation document carries no public key to encrypt for');
  try {
    recipientKey(v.publicKey);
  } catch (e) {
    if (!isVerifierError(e)) throw e;
    throw new EnclaveError(
      'KMS_VALIDATION',
      'the attestation document public key must be an RSA-2048 SubjectPublicKeyInfo',
      { verifierCode: e.code },
    );
  }
  const conditionKeys: Record<string, string> = {};
  for (const [i, value] of v.pcrs) conditionKeys[pcrConditionKey(i)] = toHex(value);
  const pcr0 = v.pcrs.get(0);
  if (pcr0) conditionKeys[IMAGE_SHA384] = toHex(pcr0);
  return { publicKey: v.publicKey, conditionKeys, moduleId: v.moduleId };
}
