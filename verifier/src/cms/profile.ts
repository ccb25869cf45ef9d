/**
 * The one CMS profile AWS KMS uses for `CiphertextForRecipient` (RFC 5652 EnvelopedData as
 * aws-nitro-enclaves-sdk-c source/cms.c parses it; notes/peers.md §4.1):
 *
 *   ContentInfo { id-envelopedData, [0] EnvelopedData }            BER, indefinite lengths
 *   EnvelopedData v2 { SET OF one KeyTransRecipientInfo, EncryptedContentInfo }
 *   KeyTransRecipientInfo v2 { rid [0] subjectKeyIdentifier,
 *                              rsaesOaep { [0] sha256, [1] mgf1(sha256) }, encryptedKey }
 *   EncryptedContentInfo { id-data, aes256-CBC (16-byte IV), [0] chunked OCTET STRING }
 *
 * Nothing else is written or accepted: no originatorInfo, no unprotectedAttrs, no other
 * recipient kinds, no SHA-1 OAEP defaults, no other content cipher.
 */
export const OID = {
  data: '1.2.840.113549.1.7.1',
  envelopedData: '1.2.840.113549.1.7.3',
  rsaesOaep: '1.2.840.113549.1.1.7',
  mgf1: '1.2.840.113549.1.1.8',
  pSpecified: '1.2.840.113549.1.1.9',
  sha256: '2.16.840.1.101.3.4.2.1',
  aes256Cbc: '2.16.840.1.101.3.4.1.42',
} as const;

export const ENVELOPED_DATA_VERSION = 2;
export const KTRI_VERSION = 2;
export const CEK_BYTES = 32;
export const IV_BYTES = 16;
/** RSA-2048: the only recipient key KMS accepts */
export const RSA_MODULUS_BITS = 2048;
/** chunk size of the encryptedContent OCTET STRING (what `openssl cms -stream` writes) */
export const CONTENT_CHUNK = 4096;
/** CiphertextForRecipient holds at most a 4 KiB plaintext; this leaves ample room */
export const MAX_CMS_BYTES = 64 * 1024;
