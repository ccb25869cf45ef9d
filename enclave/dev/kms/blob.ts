/**
 * dev-kms's CiphertextBlob: AES-256-GCM under the KMS key's material, binding the key id and
 * the encryption context as associated data, so a blob opens only under the key that made it
 * and only with the same context (KMS's own format is opaque; this is ours).
 *
 *   "KCB1" ‖ key id (36 ASCII) ‖ IV (12) ‖ GCM tag (16) ‖ ciphertext
 *   AAD = "KCB1" ‖ key id ‖ canonical JSON of the encryption context (keys sorted)
 *
 * Anything that does not open is KMS_INVALID_CIPHERTEXT, with no detail about why.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { canonicalize } from '#verifier/build';
import { EnclaveError } from '../../common/errors.ts';
import { UUID_RE } from './store.ts';

const MAGIC = Buffer.from('KCB1');
const ID = 36;
const IV = 12;
const TAG = 16;
const HEADER = MAGIC.length + ID + IV + TAG;
/** KMS's limit on Encrypt plaintext */
export const MAX_PLAINTEXT = 4096;
/** the largest blob this format makes */
export const MAX_BLOB = HEADER + MAX_PLAINTEXT;

export type EncryptionContext = Record<string, string>;

function aad(keyId: string, context: EncryptionContext): Buffer {
  return Buffer.concat([MAGIC, Buffer.from(keyId, 'ascii'), Buffer.from(canonicalize(context))]);
}

export function sealBlob(
  material: Uint8Array,
  keyId: string,
  plaintext: Uint8Array,
  context: EncryptionContext,
): Uint8Array {
  const iv = randomBytes(IV);
  const c = createCipheriv('aes-256-gcm', material, iv);
  c.setAAD(aad(keyId, context));
  const ct = Buffer.concat([c.update(plaintext), c.final()]);
  return new Uint8Array(Buffer.concat([MAGIC, Buffer.from(keyId, 'ascii'), iv, c.getAuthTag(), ct]));
}

const invalid = (): EnclaveError =>
  new EnclaveError(
    'KMS_INVALID_CIPHERTEXT',
    'the ciphertext blob does not open (tampered, truncated, another key, or another encryption context)',
  );

/** The key id a blob names, before anything is decrypted; KMS_INVALID_CIPHERTEXT if it has none. */
export function blobKeyId(blob: Uint8Array): string {
  if (blob.length < HEADER || blob.length > MAX_BLOB || !Buffer.from(blob.subarray(0, 4)).equals(MAGIC))
    throw invalid();
  const id = Buffer.from(blob.subarray(4, 4 + ID)).toString('latin1');
  if (!UUID_RE.test(id)) throw invalid();
  return id;
}

export function openBlob(material: Uint8Array, blob: Uint8Array, context: EncryptionContext): Uint8Array {
  const keyId = blobKeyId(blob);
  const iv = blob.subarray(4 + ID, 4 + ID + IV);
  const tag = blob.subarray(4 + ID + IV, HEADER);
  try {
    const d = createDecipheriv('aes-256-gcm', material, iv);
    d.setAAD(aad(keyId, context));
    d.setAuthTag(tag);
    return new Uint8Array(Buffer.concat([d.update(blob.subarray(HEADER)), d.final()]));
  } catch {
    throw invalid();
  }
}
