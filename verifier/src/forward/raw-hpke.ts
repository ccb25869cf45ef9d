/**
 * The `raw-hpke` delivery: a forward request's content keys for a non-DCI receiver holding an
 * X25519 certificate, sealed with HPKE (RFC 9180 base mode, the sealed keys' suite: DHKEM(X25519,
 * HKDF-SHA256), HKDF-SHA256, AES-256-GCM). The enclave writes it, the receiver opens it.
 *
 * ```json
 * { "format": "keycast-raw-keys/v1", "encryption": "HPKE-X25519-SHA256-AES256GCM",
 *   "recipient": "<base64 certificate thumbprint>", "cplId": "urn:uuid:…", "requestDigest": "<hex>",
 *   "notBefore": "…", "notAfter": "…", "enc": "<base64 HPKE encapsulated key>",
 *   "keys": [{ "id": "urn:uuid:…", "type": "MDIK", "ciphertext": "<base64>" }, …] }
 * ```
 * Each key's ciphertext seals the same 138-byte ST 430-1 key block the raw-rsa-oaep format carries,
 * in order, under one HPKE context (so blocks can't be reordered). HPKE `info` =
 * "keycast-raw-hpke/v1" ‖ 0x00 ‖ thumbprint (20) ‖ 0x00 ‖ cplId ‖ 0x00 ‖ requestDigest (hex); each
 * block's `aad` = the canonical JSON of the header fields with that key's id and type. A delivery
 * therefore opens only for its recipient, its CPL and its request: replayed to another recipient
 * or presented as the answer to another request, it is refused.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { VerifierError } from '../errors.ts';
import { canonicalize } from '../encoding/canonical-json.ts';
import { concatBytes, fromBase64, toBase64, utf8 } from '../encoding/bytes.ts';
import { decodeKeyBlock, type KeyBlock } from '../kdm/block.ts';
import { hpkeSuite } from './sealed-keys.ts';
import { RAW_KEYS_FORMAT, parseRawKeysFrame } from './raw-keys.ts';

export { RAW_KEYS_FORMAT };
export const RAW_HPKE_ENCRYPTION = 'HPKE-X25519-SHA256-AES256GCM';
const INFO_TAG = 'keycast-raw-hpke/v1';

/** What binds a delivery: the recipient, the film and the request it answers. */
export interface RawHpkeContext {
  /** base64 SHA-1 thumbprint of the recipient certificate's TBSCertificate */
  recipient: string;
  cplId: string;
  /** hex SHA-256 of the forward request */
  requestDigest: string;
}

export interface RawHpkeKey {
  id: string;
  type: string;
  /** the 138-byte key block (wiped by the caller after sealing) */
  block: Uint8Array;
}

/** The raw 32 bytes of an X25519 KeyObject (public, or the public half of a private key). */
export function x25519PublicBytes(key: KeyObject): Uint8Array {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  if (pub.asymmetricKeyType !== 'x25519') throw new TypeError('raw-hpke: an X25519 key is required');
  return new Uint8Array(pub.export({ format: 'der', type: 'spki' })).slice(-32);
}

function info(c: RawHpkeContext): ArrayBuffer {
  const zero = new Uint8Array(1);
  return concatBytes(
    utf8(INFO_TAG),
    zero,
    fromBase64(c.recipient),
    zero,
    utf8(c.cplId),
    zero,
    utf8(c.requestDigest),
  ).slice().buffer;
}

interface Header extends RawHpkeContext {
  notBefore: string;
  notAfter: string;
}

function aad(h: Header, k: { id: string; type: string }): ArrayBuffer {
  return utf8(
    canonicalize({
      format: RAW_KEYS_FORMAT,
      encryption: RAW_HPKE_ENCRYPTION,
      recipient: h.recipient,
      cplId: h.cplId,
      requestDigest: h.requestDigest,
      notBefore: h.notBefore,
      notAfter: h.notAfter,
      id: k.id,
      type: k.type,
    }),
  ).slice().buffer;
}

/** Seals one recipient's delivery to its X25519 public key; returns the JSON document's bytes. */
export async function sealRawHpkeDelivery(
  recipientKey: KeyObject,
  h: RawHpkeContext & { notBefore: string; notAfter: string },
  keys: readonly RawHpkeKey[],
): Promise<Uint8Array> {
  const suite = hpkeSuite();
  const recipientPublicKey = await suite.kem.deserializePublicKey(x25519PublicBytes(recipientKey).slice().buffer);
  const ctx = await suite.createSenderContext({ recipientPublicKey, info: info(h) });
  const out: Array<{ id: string; type: string; ciphertext: string }> = [];
  for (const k of keys) {
    const plain = k.block.slice();
    const ct = await ctx.seal(plain.buffer, aad(h, k)).finally(() => plain.fill(0));
    out.push({ id: k.id, type: k.type, ciphertext: toBase64(new Uint8Array(ct)) });
  }
  const doc = {
    format: RAW_KEYS_FORMAT,
    encryption: RAW_HPKE_ENCRYPTION,
    recipient: h.recipient,
    cplId: h.cplId,
    requestDigest: h.requestDigest,
    notBefore: h.notBefore,
    notAfter: h.notAfter,
    enc: toBase64(new Uint8Array(ctx.enc)),
    keys: out,
  };
  return utf8(JSON.stringify(doc));
}

export interface OpenedRawHpke {
  cplId: string;
  notBefore: string;
  notAfter: string;
  /** the decoded key blocks, in delivery order */
  keys: KeyBlock[];
}

/**
 * Opens a raw-hpke delivery with the recipient's X25519 private key, expecting it to name
 * `expected` (the receiver's own thumbprint, the CPL and the request digest the receipt names).
 * Throws RAW_DELIVERY_MALFORMED (not a raw-hpke document), RAW_DELIVERY_BINDING (it names another
 * recipient, CPL or request, or does not open with this key and context: tampered, or for someone
 * else). The error never carries key material.
 */
export async function openRawHpkeDelivery(
  bytes: Uint8Array | string,
  recipientPrivateKey: KeyObject,
  expected: RawHpkeContext,
): Promise<OpenedRawHpke> {
  const f = parseRawKeysFrame(bytes, 'raw-hpke', RAW_HPKE_ENCRYPTION, ['requestDigest', 'enc']);
  const keys = f.keys;
  const h = { ...f, requestDigest: f.extra.requestDigest!, enc: f.extra.enc! };
  for (const f of ['recipient', 'cplId', 'requestDigest'] as const)
    if (h[f] !== expected[f])
      throw new VerifierError('RAW_DELIVERY_BINDING', `raw-hpke delivery names another ${f}`, {
        field: f,
        found: h[f],
        expected: expected[f],
      });
  const blocks: KeyBlock[] = [];
  try {
    const suite = hpkeSuite();
    const raw = new Uint8Array(Buffer.from(recipientPrivateKey.export({ format: 'jwk' }).d ?? '', 'base64url'));
    const recipientKey = await suite.kem.deserializePrivateKey(raw.buffer).finally(() => raw.fill(0));
    const ctx = await suite.createRecipientContext({
      recipientKey,
      enc: fromBase64(h.enc).slice().buffer,
      info: info(expected),
    });
    for (const k of keys) {
      const plain = new Uint8Array(await ctx.open(fromBase64(k.ciphertext).slice().buffer, aad(h, k)));
      const b = decodeKeyBlock(plain);
      plain.fill(0);
      if (b.keyId !== k.id || b.keyType !== k.type || b.cplId !== h.cplId) throw new Error('block disagrees');
      blocks.push(b);
    }
  } catch {
    for (const b of blocks) b.key.fill(0);
    // never attach the cause: it could quote plaintext
    throw new VerifierError(
      'RAW_DELIVERY_BINDING',
      'raw-hpke delivery does not open with this key for this recipient, CPL and request',
      { recipient: expected.recipient, requestDigest: expected.requestDigest },
    );
  }
  return { cplId: h.cplId, notBefore: h.notBefore, notAfter: h.notAfter, keys: blocks };
}
