/**
 * The in-process KmsPort (port.ts contract) over a KmsCore, for tests and the demo: the same
 * policy and attestation checks dev-kms and the AWS SDK path go through, without HTTP.
 * `memoryKms()` builds a core over a MemoryKeyStore. Refusals propagate as the core's
 * EnclaveErrors: KMS_DENIED, KMS_INVALID_CIPHERTEXT, and KMS_NOT_FOUND / KMS_VALIDATION for
 * requests no KMS could answer.
 */
import { EnclaveError } from '../../common/errors.ts';
import { KmsCore, type KmsCoreOptions } from './core.ts';
import {
  KEY_ENCRYPTION_ALGORITHM,
  type DataKeyForRecipient,
  type KmsPort,
  type RecipientCall,
} from '../../common/kms/port.ts';
import { MemoryKeyStore } from './store.ts';

function recipientOf(call: RecipientCall) {
  if (!(call.attestationDocument instanceof Uint8Array))
    throw new TypeError('KmsPort: attestationDocument must be bytes');
  return { attestationDocument: call.attestationDocument, keyEncryptionAlgorithm: KEY_ENCRYPTION_ALGORITHM };
}

export class MemoryKmsPort implements KmsPort {
  constructor(
    readonly core: KmsCore,
    /** the IAM principal ARN the enclave calls as */
    readonly principal: string,
  ) {}

  async generateDataKey(call: RecipientCall): Promise<DataKeyForRecipient> {
    const r = await this.core.generateDataKey(this.principal, {
      keyId: call.keyId,
      keySpec: 'AES_256',
      recipient: recipientOf(call),
    });
    if (r.plaintext || !r.ciphertextForRecipient)
      throw new EnclaveError('KMS_UNAVAILABLE', 'the KMS answered without CiphertextForRecipient');
    return { keyId: r.keyId, ciphertextBlob: r.ciphertextBlob, ciphertextForRecipient: r.ciphertextForRecipient };
  }

  async decrypt(
    call: RecipientCall & { ciphertextBlob: Uint8Array },
  ): Promise<{ keyId: string; ciphertextForRecipient: Uint8Array }> {
    const r = await this.core.decrypt(this.principal, {
      ciphertextBlob: call.ciphertextBlob,
      keyId: call.keyId,
      recipient: recipientOf(call),
    });
    if (r.plaintext || !r.ciphertextForRecipient)
      throw new EnclaveError('KMS_UNAVAILABLE', 'the KMS answered without CiphertextForRecipient');
    return { keyId: r.keyId, ciphertextForRecipient: r.ciphertextForRecipient };
  }
}

/** A KmsCore over memory, and the port that calls it as `principal`. */
export function memoryKms(
  principal: string,
  options: Omit<KmsCoreOptions, 'store'> = {},
): { core: KmsCore; port: MemoryKmsPort } {
  const core = new KmsCore({ ...options, store: new MemoryKeyStore() });
  return { core, port: new MemoryKmsPort(core, principal) };
}
