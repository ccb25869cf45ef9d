/**
 * KMS as the enclave uses it: the two calls that let only logged code hold its identity.
 *
 * Both calls carry a Recipient: an NSM attestation document whose `public_key` is the DER
 * SubjectPublicKeyInfo of an ephemeral RSA-2048 key the enclave just generated. KMS checks the
 * key policy's `kms:RecipientAttestation:ImageSha384` / `PCR<n>` conditions against that
 * document and answers `CiphertextForRecipient`: CMS EnvelopedData (BER) that only the
 * ephemeral key opens (KeyTransRecipientInfo, RSAES-OAEP-SHA-256, AES-256-CBC content). The
 * plaintext never crosses the host in the clear.
 *
 * Contract for every implementation (the AWS SDK client against real KMS or `keycast dev-kms`,
 * and the in-memory one for tests):
 *  - the answer holds only `ciphertextForRecipient` — never a plaintext data key;
 *  - a policy refusal rejects with an EnclaveError `KMS_DENIED`, a KMS that cannot be reached or
 *    answers malformed bytes with `KMS_UNAVAILABLE`, a blob KMS cannot open with `KMS_INVALID_CIPHERTEXT`;
 *  - no call is retried silently, and nothing secret is put into an error.
 */
export const KEY_ENCRYPTION_ALGORITHM = 'RSAES_OAEP_SHA_256';

export interface RecipientCall {
  /** KMS key id or ARN */
  keyId: string;
  /** the NSM attestation document (COSE_Sign1 bytes) carrying the ephemeral RSA-2048 public key */
  attestationDocument: Uint8Array;
}

export interface DataKeyForRecipient {
  /** the key that actually encrypted the data key (an ARN on AWS) */
  keyId: string;
  /** KMS's own ciphertext of the data key: stored by the host, passed back to decrypt */
  ciphertextBlob: Uint8Array;
  /** CMS EnvelopedData holding the 32-byte data key for the ephemeral RSA key */
  ciphertextForRecipient: Uint8Array;
}

export interface KmsPort {
  /** GenerateDataKey (KeySpec AES_256) with Recipient. */
  generateDataKey(call: RecipientCall): Promise<DataKeyForRecipient>;
  /** Decrypt of a CiphertextBlob with Recipient. */
  decrypt(
    call: RecipientCall & { ciphertextBlob: Uint8Array },
  ): Promise<{ keyId: string; ciphertextForRecipient: Uint8Array }>;
}
