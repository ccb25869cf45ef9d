/**
 * Establishing the enclave's identity through KMS, only behind an open gate:
 *
 *  first boot  generate the keys; an ephemeral RSA-2048 key goes into a fresh attestation
 *              document (public_key = its DER SPKI); KMS GenerateDataKey with that Recipient
 *              answers CiphertextForRecipient (CMS for the RSA key) and CiphertextBlob; the data
 *              key, opened inside the enclave, seals the private keys (seal.ts); the host gets
 *              the sealed blob and CiphertextBlob to store.
 *  later boots the host passes both back; KMS Decrypt with a new Recipient opens the data key,
 *              which unseals the same keys. Another enclave of the same image (scale-out), or a
 *              logged release the key policy lists, unseals them the same way; an image KMS does
 *              not accept never gets the data key.
 *
 * The data key and raw private bytes are zeroed after use; the RSA key lives for one call.
 * Nothing here reaches KMS unless the gate is open (the caller's requireOpen runs first).
 */
import { generateKeyPairSync } from 'node:crypto';
import { isVerifierError, openForRecipient } from '#verifier';
import { EnclaveError } from '../errors.ts';
import type { KmsPort } from '../kms/port.ts';
import type { Nsm } from '../nsm/types.ts';
import { generateIdentity, publicIdentity, type IdentityKeys, type PublicIdentity } from './keys.ts';
import { sealIdentity, unsealIdentity } from './seal.ts';

export interface StoredIdentity {
  sealed: Uint8Array;
  ciphertextBlob: Uint8Array;
}

export type Established =
  | { created: true; identity: PublicIdentity; stored: StoredIdentity }
  | { created: false; identity: PublicIdentity };

export class IdentityKeeper {
  private keys: IdentityKeys | null = null;
  private busy = false;

  constructor(private readonly deps: { nsm: Nsm; kms: KmsPort; keyArn: string; beforeKms: () => void }) {}

  get current(): IdentityKeys | null {
    return this.keys;
  }

  get publicKeys(): PublicIdentity | null {
    return this.keys ? publicIdentity(this.keys) : null;
  }

  /** Creates (stored = null) or unseals the identity. IDENTITY_EXISTS once one is held. */
  async establish(stored: StoredIdentity | null): Promise<Established> {
    if (this.keys || this.busy)
      throw new EnclaveError('IDENTITY_EXISTS', 'this enclave already holds its identity (or is establishing it)');
    this.busy = true;
    try {
      if (stored === null) {
        const keys = generateIdentity();
        const { ciphertextBlob, dataKey } = await this.dataKey(async (doc) => {
          const r = await this.deps.kms.generateDataKey({ keyId: this.deps.keyArn, attestationDocument: doc });
          return { cfr: r.ciphertextForRecipient, ciphertextBlob: r.ciphertextBlob };
        });
        try {
          const sealed = sealIdentity(keys, dataKey, this.deps.keyArn);
          this.keys = keys;
          return { created: true, identity: publicIdentity(keys), stored: { sealed, ciphertextBlob } };
        } finally {
          dataKey.fill(0);
        }
      }
      const { dataKey } = await this.dataKey(async (doc) => {
        const r = await this.deps.kms.decrypt({
          keyId: this.deps.keyArn,
          attestationDocument: doc,
          ciphertextBlob: stored.ciphertextBlob,
        });
        return { cfr: r.ciphertextForRecipient, ciphertextBlob: stored.ciphertextBlob };
      });
      try {
        this.keys = unsealIdentity(stored.sealed, dataKey, this.deps.keyArn);
        return { created: false, identity: publicIdentity(this.keys) };
      } finally {
        dataKey.fill(0);
      }
    } finally {
      this.busy = false;
    }
  }

  /** One KMS call with a fresh Recipient; opens the data key it returns for us. */
  private async dataKey(
    call: (doc: Uint8Array) => Promise<{ cfr: Uint8Array; ciphertextBlob: Uint8Array }>,
  ): Promise<{ dataKey: Uint8Array; ciphertextBlob: Uint8Array }> {
    this.deps.beforeKms();
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const spki = new Uint8Array(rsa.publicKey.export({ format: 'der', type: 'spki' }));
    const doc = await this.deps.nsm.attestation({ publicKey: spki, userData: null, nonce: null });
    const { cfr, ciphertextBlob } = await call(doc);
    let dataKey: Uint8Array;
    try {
      dataKey = await openForRecipient(cfr, rsa.privateKey);
    } catch (e) {
      if (isVerifierError(e))
        throw new EnclaveError(
          'KMS_INVALID_CIPHERTEXT',
          `KMS answered a CiphertextForRecipient this enclave cannot open (${e.code})`,
          { cause: e.code },
        );
      throw e;
    }
    if (dataKey.length !== 32) {
      dataKey.fill(0);
      throw new EnclaveError('KMS_INVALID_CIPHERTEXT', 'the data key KMS returned is not 32 bytes', {
        size: dataKey.length,
      });
    }
    return { dataKey, ciphertextBlob };
  }
}
