/**
 * The 138-byte key block each KDM `enc:CipherValue` carries, RSA-OAEP encrypted (SHA-1, MGF1-SHA-1,
 * empty label, as ST 430-1 requires) to the recipient (notes/kdm.md §2; libdcp DecryptedKDM::encrypt,
 * cinemaslides, CTP kdm-decrypt.cpp):
 *
 * | off | len | field |
 * |----:|----:|-------|
 * |   0 |  16 | structure id f1dc1244 60169a0e 85bc3006 42f866ab |
 * |  16 |  20 | signer certificate thumbprint (SHA-1 of its TBSCertificate) |
 * |  36 |  16 | CompositionPlaylistId (UUID bytes) |
 * |  52 |   4 | KeyType (ASCII) |
 * |  56 |  16 | KeyId (UUID bytes) |
 * |  72 |  25 | not valid before (ASCII, as in the XML) |
 * |  97 |  25 | not valid after |
 * | 122 |  16 | AES-128 content key |
 * Pure.
 */
import { constants, privateDecrypt, publicEncrypt, type KeyObject } from 'node:crypto';
import { VerifierError } from '../errors.ts';

export const KEY_BLOCK_BYTES = 138;
export const KEY_BLOCK_STRUCTURE_ID = Uint8Array.from([
  0xf1, 0xdc, 0x12, 0x44, 0x60, 0x16, 0x9a, 0x0e, 0x85, 0xbc, 0x30, 0x06, 0x42, 0xf8, 0x66, 0xab,
]);

export interface KeyBlock {
  signerThumbprint: Uint8Array;
  cplId: string;
  keyType: string;
  keyId: string;
  notBefore: string;
  notAfter: string;
  key: Uint8Array;
}

/** The 16 bytes of `urn:uuid:…` (hex digits in text order). */
export function uuidBytes(urn: string): Uint8Array {
  const m = /^urn:uuid:([0-9a-fA-F]{8})-([0-9a-fA-F]{4})-([0-9a-fA-F]{4})-([0-9a-fA-F]{4})-([0-9a-fA-F]{12})$/.exec(
    urn,
  );
  if (!m) throw new RangeError(`not a urn:uuid: ${urn}`);
  return new Uint8Array(Buffer.from(m.slice(1).join(''), 'hex'));
}

export function uuidUrn(b: Uint8Array): string {
  const h = Buffer.from(b).toString('hex');
  return `urn:uuid:${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const ASCII = (s: string, n: number): Uint8Array => {
  if (s.length !== n || !/^[\x20-\x7e]*$/.test(s))
    throw new RangeError(`key block: ${JSON.stringify(s)} must be ${n} ASCII characters`);
  return new Uint8Array(Buffer.from(s, 'latin1'));
};

/** Encodes one block. The caller must wipe the result after encrypting it. */
export function encodeKeyBlock(b: KeyBlock): Uint8Array {
  if (b.signerThumbprint.length !== 20 || b.key.length !== 16)
    throw new RangeError('key block: 20-byte thumbprint and 16-byte key');
  const out = new Uint8Array(KEY_BLOCK_BYTES);
  out.set(KEY_BLOCK_STRUCTURE_ID, 0);
  out.set(b.signerThumbprint, 16);
  out.set(uuidBytes(b.cplId), 36);
  out.set(ASCII(b.keyType, 4), 52);
  out.set(uuidBytes(b.keyId), 56);
  out.set(ASCII(b.notBefore, 25), 72);
  out.set(ASCII(b.notAfter, 25), 97);
  out.set(b.key, 122);
  return out;
}

/** Decodes one block. Throws KDM_MALFORMED on a wrong length or structure id. */
export function decodeKeyBlock(p: Uint8Array): KeyBlock {
  if (p.length !== KEY_BLOCK_BYTES)
    throw new VerifierError('KDM_MALFORMED', `key block is ${p.length} bytes, not ${KEY_BLOCK_BYTES}`, {
      length: p.length,
    });
  if (Buffer.compare(p.subarray(0, 16), KEY_BLOCK_STRUCTURE_ID) !== 0)
    throw new VerifierError('KDM_MALFORMED', 'key block structure id is wrong');
  const latin = (a: number, b: number) => Buffer.from(p.subarray(a, b)).toString('latin1');
  return {
    signerThumbprint: p.slice(16, 36),
    cplId: uuidUrn(p.subarray(36, 52)),
    keyType: latin(52, 56),
    keyId: uuidUrn(p.subarray(56, 72)),
    notBefore: latin(72, 97),
    notAfter: latin(97, 122),
    key: p.slice(122, 138),
  };
}

/** RSAES-OAEP (SHA-1, MGF1-SHA-1, empty label) encryption of one block to a recipient key. */
export function encryptKeyBlock(block: Uint8Array, recipient: KeyObject): Uint8Array {
  return new Uint8Array(
    publicEncrypt({ key: recipient, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, block),
  );
}

/** RSAES-OAEP (SHA-1, MGF1-SHA-1, empty label) decryption of one CipherValue; the caller wipes the result. */
export function oaepSha1Decrypt(cipher: Uint8Array, privateKey: KeyObject): Uint8Array {
  const b = privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, cipher);
  // a view, not a copy: wiping the result wipes the only plaintext
  return new Uint8Array(b.buffer, b.byteOffset, b.length);
}

/** Decrypts one CipherValue with a recipient private key. Throws KDM_DECRYPT. */
export function decryptKeyBlock(cipher: Uint8Array, privateKey: KeyObject): KeyBlock {
  let p: Uint8Array;
  try {
    p = oaepSha1Decrypt(cipher, privateKey);
  } catch (e) {
    throw new VerifierError(
      'KDM_DECRYPT',
      'a key block does not decrypt with this private key (RSA-OAEP SHA-1)',
      {},
      { cause: e },
    );
  }
  try {
    return decodeKeyBlock(p);
  } finally {
    p.fill(0);
  }
}
