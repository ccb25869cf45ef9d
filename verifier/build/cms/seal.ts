/**
 * The writer of KMS's CiphertextForRecipient (profile.ts): seals `plaintext` for the RSA-2048
 * key in `recipientSpkiDer`. Used by `keycast dev-kms` and tests; the enclave only reads
 * (open.ts). The rid is the key's subjectKeyIdentifier computed as RFC 5280 §4.2.1.2 method 1
 * (SHA-1 of the subjectPublicKey bits), as openssl does for a certificate without one.
 */
import {
  constants,
  createCipheriv,
  createHash,
  createPublicKey,
  publicEncrypt,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import { VerifierError } from '../../src/errors.ts';
import { concatBytes } from '../../src/encoding/bytes.ts';
import {
  children,
  DerError,
  derInteger,
  derOctets,
  derOid,
  readBitString,
  readOnly,
  seq,
  TAG,
  tlv,
} from '../../src/encoding/der.ts';
import {
  CEK_BYTES,
  CONTENT_CHUNK,
  ENVELOPED_DATA_VERSION,
  IV_BYTES,
  KTRI_VERSION,
  MAX_CMS_BYTES,
  OID,
  RSA_MODULUS_BITS,
} from '../../src/cms/profile.ts';

const EOC = Uint8Array.of(0, 0);

/** A BER constructed value with indefinite length (X.690 §8.1.3.6). */
function indefinite(tag: number, ...parts: Uint8Array[]): Uint8Array {
  return concatBytes(Uint8Array.of(tag, 0x80), ...parts, EOC);
}

/** The recipient's RSA-2048 public key and its subjectKeyIdentifier; VerifierError otherwise. */
export function recipientKey(spkiDer: Uint8Array): { key: KeyObject; skid: Uint8Array } {
  if (!(spkiDer instanceof Uint8Array)) throw new TypeError('recipient key: expected DER bytes');
  let key: KeyObject;
  let bits: Uint8Array;
  try {
    const spki = children(readOnly(spkiDer, TAG.SEQUENCE));
    if (spki.length !== 2) throw new DerError('SubjectPublicKeyInfo has two fields', 0);
    bits = readBitString(spki[1]!).bytes;
    key = createPublicKey({ key: Buffer.from(spkiDer), format: 'der', type: 'spki' });
  } catch (e) {
    throw new VerifierError(
      'CMS_UNSUPPORTED',
      'the recipient public key is not a DER SubjectPublicKeyInfo',
      { bytes: spkiDer.length },
      { cause: e },
    );
  }
  const d = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType !== 'rsa' || d?.modulusLength !== RSA_MODULUS_BITS) {
    throw new VerifierError('CMS_UNSUPPORTED', `the recipient key must be RSA-${RSA_MODULUS_BITS}`, {
      keyType: key.asymmetricKeyType ?? null,
      modulusBits: d?.modulusLength ?? null,
    });
  }
  return { key, skid: new Uint8Array(createHash('sha1').update(bits).digest()) };
}

const sha256Id = seq(derOid(OID.sha256));
const oaepSha256 = seq(derOid(OID.rsaesOaep), seq(tlv(0xa0, sha256Id), tlv(0xa1, seq(derOid(OID.mgf1), sha256Id))));

/** CMS EnvelopedData (BER) exactly as KMS returns it in CiphertextForRecipient. */
export function sealForRecipient(plaintext: Uint8Array, recipientSpkiDer: Uint8Array): Uint8Array {
  if (!(plaintext instanceof Uint8Array)) throw new TypeError('sealForRecipient: plaintext must be bytes');
  if (plaintext.length > MAX_CMS_BYTES / 2)
    throw new VerifierError('OVERSIZED', 'the plaintext is too large for a recipient envelope', {
      bytes: plaintext.length,
      max: MAX_CMS_BYTES / 2,
    });
  const { key, skid } = recipientKey(recipientSpkiDer);
  const cek = randomBytes(CEK_BYTES);
  const iv = randomBytes(IV_BYTES);
  try {
    const encryptedKey = publicEncrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, cek);
    const c = createCipheriv('aes-256-cbc', cek, iv);
    const ct = Buffer.concat([c.update(plaintext), c.final()]);
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < ct.length; i += CONTENT_CHUNK) chunks.push(derOctets(ct.subarray(i, i + CONTENT_CHUNK)));
    const ktri = seq(derInteger(KTRI_VERSION), tlv(0x80, skid), oaepSha256, derOctets(encryptedKey));
    const eci = indefinite(
      0x30,
      derOid(OID.data),
      seq(derOid(OID.aes256Cbc), derOctets(iv)),
      indefinite(0xa0, ...chunks),
    );
    const env = indefinite(0x30, derInteger(ENVELOPED_DATA_VERSION), tlv(TAG.SET, ktri), eci);
    return indefinite(0x30, derOid(OID.envelopedData), indefinite(0xa0, env));
  } finally {
    cek.fill(0);
  }
}
