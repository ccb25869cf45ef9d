/**
 * The `raw-rsa-oaep` delivery: a forward request's content keys for a non-DCI receiver holding an
 * RSA (≥ 2048) certificate, each key's 138-byte ST 430-1 key block under RSA-OAEP-SHA256 (MGF1
 * SHA-256) to the certificate's key. The enclave writes it, the receiver opens it.
 *
 * ```json
 * {"format":"keycast-raw-keys/v1","encryption":"RSA-OAEP-SHA256","recipient":"<base64 thumbprint>",
 *  "cplId":"urn:uuid:…","notBefore":"…","notAfter":"…",
 *  "keys":[{"id":"urn:uuid:…","type":"MDIK","ciphertext":"<base64>"},…]}
 * ```
 * Written without whitespace in exactly that key order (what JSON.stringify gives). Each block
 * carries the CPL, key id, key type and window itself, so the receiver checks them against the
 * header after decrypting; the delivery is bound to its recipient by the key it is encrypted to.
 *
 * The writer is prepared once per request (rawRsaOaepSealer): everything around a recipient's
 * thumbprint and ciphertexts is the same for every recipient, so only those are written per
 * delivery — this path runs 100,000 times a request.
 */
import { constants, privateDecrypt, publicEncrypt, type KeyObject } from 'node:crypto';
import { VerifierError } from '../errors.ts';
import { fromBase64 } from '../encoding/bytes.ts';
import { decodeKeyBlock, type KeyBlock } from '../kdm/block.ts';
import { RAW_KEYS_FORMAT, parseRawKeysFrame } from './raw-keys.ts';
import { MAX_CONTENT_KEYS } from './sealed-keys.ts';

export const RAW_RSA_OAEP_ENCRYPTION = 'RSA-OAEP-SHA256';

export interface RawRsaOaepHeader {
  cplId: string;
  notBefore: string;
  notAfter: string;
}

export interface RawRsaOaepSealer {
  /** One recipient's delivery: each block under RSA-OAEP-SHA256 to `recipientKey`; the document's bytes. */
  seal(recipientKey: KeyObject, thumbprint: string): Buffer;
}

/**
 * Prepares the writer for one request. `keys` hold the 138-byte blocks by reference (the caller
 * wipes them when the request is done; nothing here copies them).
 */
export function rawRsaOaepSealer(
  h: RawRsaOaepHeader,
  keys: ReadonlyArray<{ id: string; type: string; block: Uint8Array }>,
): RawRsaOaepSealer {
  if (keys.length === 0 || keys.length > MAX_CONTENT_KEYS) throw new RangeError('rawRsaOaepSealer: 1..16 keys');
  const j = JSON.stringify;
  const head = `{"format":${j(RAW_KEYS_FORMAT)},"encryption":${j(RAW_RSA_OAEP_ENCRYPTION)},"recipient":`;
  const middle = `,"cplId":${j(h.cplId)},"notBefore":${j(h.notBefore)},"notAfter":${j(h.notAfter)},"keys":[`;
  const keyOpen = keys.map((k, i) => `${i === 0 ? '' : ','}{"id":${j(k.id)},"type":${j(k.type)},"ciphertext":"`);
  return {
    seal(recipientKey, thumbprint) {
      let s = `${head}${j(thumbprint)}${middle}`;
      for (const [i, k] of keys.entries()) {
        const ct = publicEncrypt(
          { key: recipientKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
          k.block,
        );
        s += `${keyOpen[i]}${ct.toString('base64')}"}`;
      }
      return Buffer.from(`${s}]}`, 'utf8');
    },
  };
}

export interface OpenedRawRsaOaep extends RawRsaOaepHeader {
  /** the decoded key blocks, in delivery order */
  keys: KeyBlock[];
}

/**
 * Opens a raw-rsa-oaep delivery with the recipient's RSA private key, expecting it to name
 * `expected.recipient` (the receiver's own base64 thumbprint) and, when given, `expected.cplId`.
 * Every block must decrypt and agree with the header (CPL, key id and type, window). Throws
 * RAW_DELIVERY_MALFORMED (not such a document) or RAW_DELIVERY_BINDING (another recipient or CPL,
 * the wrong key, or tampered). The error never carries key material.
 */
export function openRawRsaOaepDelivery(
  bytes: Uint8Array | string,
  recipientPrivateKey: KeyObject,
  expected: { recipient: string; cplId?: string },
): OpenedRawRsaOaep {
  const h = parseRawKeysFrame(bytes, 'raw-rsa-oaep', RAW_RSA_OAEP_ENCRYPTION);
  const keys = h.keys;
  const want = { recipient: expected.recipient, cplId: expected.cplId ?? h.cplId };
  for (const f of ['recipient', 'cplId'] as const)
    if (h[f] !== want[f])
      throw new VerifierError('RAW_DELIVERY_BINDING', `raw-rsa-oaep delivery names another ${f}`, {
        field: f,
        found: h[f],
        expected: want[f],
      });
  const blocks: KeyBlock[] = [];
  try {
    for (const k of keys) {
      const plain = privateDecrypt(
        { key: recipientPrivateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
        fromBase64(k.ciphertext),
      );
      // a Uint8Array copy: Buffer#slice would share memory, and the key must outlive the wipe
      const copy = new Uint8Array(plain);
      plain.fill(0);
      let b: KeyBlock;
      try {
        b = decodeKeyBlock(copy);
      } finally {
        copy.fill(0);
      }
      blocks.push(b);
      if (
        b.keyId !== k.id ||
        b.keyType !== k.type ||
        b.cplId !== h.cplId ||
        b.notBefore !== h.notBefore ||
        b.notAfter !== h.notAfter
      )
        throw new Error('block disagrees');
    }
  } catch {
    for (const b of blocks) b.key.fill(0);
    // never attach the cause: it could quote plaintext
    throw new VerifierError(
      'RAW_DELIVERY_BINDING',
      'raw-rsa-oaep delivery does not open with this key, or its blocks disagree with its header',
      { recipient: expected.recipient },
    );
  }
  return { cplId: h.cplId, notBefore: h.notBefore, notAfter: h.notAfter, keys: blocks };
}
