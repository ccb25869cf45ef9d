/**
 * Delivery manifests (issue 19): who received what in one delivery, readable only by the studio.
 * Plaintext = canonical JSON
 *
 * ```json
 * { "type": "keycast-delivery-manifest/v1", "requestDigest": "<64 hex>",
 *   "rules": "<base64 of the signed rules envelope as given>",
 *   "recipients": [{ "thumbprint": "<base64 SHA-1 of TBSCertificate>", "subject": "<RFC 4514>",
 *                    "outputDigest": "<64 hex>" }, …] }
 * ```
 * in request order, so that the RFC 6962 tree over `deliveryLeaf(thumbprint, outputDigest)`
 * (forward/receipt.ts) reproduces the delivery entry's `root`. Sealed with HPKE base mode
 * (DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM: the sealed keys' suite) to the rules'
 * `audit.hpkeX25519`, info = "keycast-delivery-manifest/v1", aad = the request digest (hex, UTF-8);
 * sealed bytes = enc (32) ‖ ciphertext. Not compressed.
 */
import { createHash, createPrivateKey, type KeyObject } from 'node:crypto';
import { VerifierError } from '../errors.ts';
import { canonicalize, exactKeys, isObject } from '../encoding/canonical-json.ts';
import { concatBytes, fromBase64, fromHex, toHex, utf8 } from '../encoding/bytes.ts';
import { hashLeaf } from '../tlog/hash.ts';
import { MemoryTree } from '../tlog/index.ts';
import { deliveryLeaf } from '../forward/receipt.ts';
import { hpkeSuite } from '../forward/sealed-keys.ts';
import { x25519PublicBytes } from '../forward/raw-hpke.ts';
import { MAX_FORWARD_RECIPIENTS } from '../forward/request.ts';
import { MAX_MANIFEST_BYTES, type DeliveryEntry } from './entry.ts';

export const MANIFEST_TYPE = 'keycast-delivery-manifest/v1';
const INFO = utf8(MANIFEST_TYPE);
const ENC_BYTES = 32;
const AEAD_TAG_BYTES = 16;
const MAX_SUBJECT_CHARS = 4096;
const THUMB = /^[A-Za-z0-9+/]{27}=$/;

export interface ManifestRecipient {
  thumbprint: string;
  subject: string;
  outputDigest: string;
}

export interface DeliveryManifest {
  type: typeof MANIFEST_TYPE;
  requestDigest: string;
  /** base64 of the signed rules envelope bytes as the request gave them */
  rules: string;
  recipients: ManifestRecipient[];
}

export interface SealedManifest {
  sealed: Uint8Array;
  /** hex SHA-256 of `sealed` */
  sha256: string;
  size: number;
}

function bad(message: string, field?: string): never {
  throw new VerifierError('MANIFEST_INVALID', message, field ? { field } : {});
}

/** Checks a parsed manifest against the schema; returns it typed. Throws MANIFEST_INVALID. */
export function validateManifest(v: unknown): DeliveryManifest {
  if (!isObject(v)) bad('manifest must be an object');
  try {
    exactKeys(v, ['type', 'requestDigest', 'rules', 'recipients'], [], 'manifest');
  } catch (e) {
    bad((e as Error).message);
  }
  if (v.type !== MANIFEST_TYPE) bad(`manifest.type must be ${MANIFEST_TYPE}`, 'manifest.type');
  if (typeof v.requestDigest !== 'string' || !/^[0-9a-f]{64}$/.test(v.requestDigest))
    bad('manifest.requestDigest must be 64 lowercase hex', 'manifest.requestDigest');
  if (typeof v.rules !== 'string' || v.rules.length === 0) bad('manifest.rules must be base64', 'manifest.rules');
  try {
    fromBase64(v.rules);
  } catch {
    bad('manifest.rules is not canonical base64', 'manifest.rules');
  }
  const rs = v.recipients;
  if (!Array.isArray(rs) || rs.length === 0 || rs.length > MAX_FORWARD_RECIPIENTS)
    bad(`manifest.recipients must list 1 to ${MAX_FORWARD_RECIPIENTS}`, 'manifest.recipients');
  for (const [i, r] of rs.entries()) {
    const field = `manifest.recipients[${i}]`;
    if (!isObject(r)) bad(`${field} must be an object`, field);
    try {
      exactKeys(r, ['thumbprint', 'subject', 'outputDigest'], [], field);
    } catch (e) {
      bad((e as Error).message, field);
    }
    if (typeof r.thumbprint !== 'string' || !THUMB.test(r.thumbprint)) bad(`${field}.thumbprint is malformed`, field);
    if (typeof r.subject !== 'string' || r.subject.length > MAX_SUBJECT_CHARS)
      bad(`${field}.subject is malformed`, field);
    if (typeof r.outputDigest !== 'string' || !/^[0-9a-f]{64}$/.test(r.outputDigest))
      bad(`${field}.outputDigest must be 64 lowercase hex`, field);
  }
  return v as unknown as DeliveryManifest;
}

/** The canonical plaintext bytes of a manifest. */
export function encodeManifest(m: DeliveryManifest): Uint8Array {
  return utf8(canonicalize(validateManifest(m)));
}

/** Parses manifest plaintext: JSON, schema, canonical form. Throws MANIFEST_INVALID. */
export function parseManifest(plain: Uint8Array): DeliveryManifest {
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(plain));
  } catch {
    bad('manifest plaintext is not UTF-8 JSON');
  }
  const m = validateManifest(v);
  if (Buffer.compare(Buffer.from(utf8(canonicalize(m))), Buffer.from(plain)) !== 0)
    bad('manifest plaintext is not canonical JSON');
  return m;
}

/** The RFC 6962 root (hex) over the manifest's deliveries, as the receipt computes it. */
export function manifestRoot(m: DeliveryManifest): string {
  const tree = new MemoryTree();
  for (const r of m.recipients)
    tree.appendLeafHash(hashLeaf(deliveryLeaf(fromBase64(r.thumbprint), fromHex(r.outputDigest))));
  return toHex(tree.root());
}

function aad(requestDigest: string): ArrayBuffer {
  return utf8(requestDigest).slice().buffer;
}

/** Seals a manifest to the studio's audit key (raw 32-byte X25519, the rules' `audit.hpkeX25519`). */
export async function sealManifest(m: DeliveryManifest, auditKey: Uint8Array): Promise<SealedManifest> {
  if (!(auditKey instanceof Uint8Array) || auditKey.length !== 32)
    throw new RangeError('sealManifest: the audit key is a raw 32-byte X25519 public key');
  const plain = encodeManifest(m);
  if (plain.length + ENC_BYTES + AEAD_TAG_BYTES > MAX_MANIFEST_BYTES)
    throw new VerifierError('OVERSIZED', `the sealed manifest would be over ${MAX_MANIFEST_BYTES} bytes`, {
      size: plain.length + ENC_BYTES + AEAD_TAG_BYTES,
      limit: MAX_MANIFEST_BYTES,
    });
  const suite = hpkeSuite();
  const recipientPublicKey = await suite.kem.deserializePublicKey(auditKey.slice().buffer);
  const ctx = await suite.createSenderContext({ recipientPublicKey, info: INFO.slice().buffer });
  const ct = new Uint8Array(await ctx.seal(plain.slice().buffer, aad(m.requestDigest)));
  const sealed = concatBytes(new Uint8Array(ctx.enc), ct);
  return { sealed, sha256: toHex(createHash('sha256').update(sealed).digest()), size: sealed.length };
}

/**
 * The studio's audit private key from the PKCS#8 PEM `openssl genpkey -algorithm X25519` writes.
 * Throws TypeError (never quoting the key) when it is not an X25519 private key.
 */
export function parseAuditPrivateKey(pem: string | Uint8Array): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: Buffer.from(pem), format: 'pem' });
  } catch {
    throw new TypeError('the audit key is not a PKCS#8 PEM private key');
  }
  if (key.asymmetricKeyType !== 'x25519') throw new TypeError('the audit key must be an X25519 private key');
  return key;
}

/** The raw 32-byte public half of an audit private key (what the rules' `audit.hpkeX25519` names). */
export function auditPublicKey(key: KeyObject): Uint8Array {
  return x25519PublicBytes(key);
}

/**
 * Opens a sealed manifest with the studio's audit private key, for the request `requestDigest`
 * names (the entry's). Throws MANIFEST_UNOPENABLE when it does not open (sealed to another key,
 * for another request, or altered), MANIFEST_INVALID when the plaintext is not a manifest,
 * OVERSIZED. The error never carries plaintext or key material.
 */
export async function openManifest(
  sealed: Uint8Array,
  auditKey: KeyObject,
  requestDigest: string,
): Promise<DeliveryManifest> {
  if (sealed.length > MAX_MANIFEST_BYTES)
    throw new VerifierError('OVERSIZED', `the sealed manifest is over ${MAX_MANIFEST_BYTES} bytes`, {
      size: sealed.length,
      limit: MAX_MANIFEST_BYTES,
    });
  if (auditKey.type !== 'private' || auditKey.asymmetricKeyType !== 'x25519')
    throw new TypeError('openManifest: the audit key must be an X25519 private key');
  let plain: Uint8Array;
  try {
    if (sealed.length < ENC_BYTES + AEAD_TAG_BYTES) throw new Error('short');
    const suite = hpkeSuite();
    const raw = new Uint8Array(Buffer.from(auditKey.export({ format: 'jwk' }).d ?? '', 'base64url'));
    const recipientKey = await suite.kem.deserializePrivateKey(raw.slice().buffer).finally(() => raw.fill(0));
    const ctx = await suite.createRecipientContext({
      recipientKey,
      enc: sealed.slice(0, ENC_BYTES).buffer,
      info: INFO.slice().buffer,
    });
    plain = new Uint8Array(await ctx.open(sealed.slice(ENC_BYTES).buffer, aad(requestDigest)));
  } catch {
    // never attach the cause
    throw new VerifierError('MANIFEST_UNOPENABLE', 'the manifest does not open with this audit key for this request', {
      requestDigest,
      size: sealed.length,
    });
  }
  const m = parseManifest(plain);
  if (m.requestDigest !== requestDigest)
    throw new VerifierError('MANIFEST_MISMATCH', 'the manifest names another request than its entry', {
      field: 'requestDigest',
      expected: requestDigest,
    });
  return m;
}

/**
 * Checks that a manifest reproduces its delivery entry: the request digest, the count, the
 * Merkle root over its deliveries, and (when given) that `sealed` is the sealed manifest the
 * entry names (digest and size). Throws MANIFEST_MISMATCH with the field that differs.
 */
export function checkManifest(entry: DeliveryEntry, m: DeliveryManifest, sealed?: Uint8Array): void {
  const mismatch = (field: string, evidence: Record<string, unknown>): never => {
    throw new VerifierError('MANIFEST_MISMATCH', `the manifest does not match its delivery entry: ${field}`, {
      field,
      ...evidence,
    });
  };
  if (sealed) checkSealedManifest(entry, sealed);
  if (m.requestDigest !== entry.requestDigest)
    mismatch('requestDigest', { expected: entry.requestDigest, found: m.requestDigest });
  if (m.recipients.length !== entry.count) mismatch('count', { expected: entry.count, found: m.recipients.length });
  const root = manifestRoot(m);
  if (root !== entry.root) mismatch('root', { expected: entry.root, found: root });
}

/** Throws MANIFEST_MISMATCH unless `sealed` has the digest and size the entry names. */
export function checkSealedManifest(entry: DeliveryEntry, sealed: Uint8Array): void {
  const sha256 = toHex(createHash('sha256').update(sealed).digest());
  if (sealed.length !== entry.manifest.size || sha256 !== entry.manifest.sha256)
    throw new VerifierError('MANIFEST_MISMATCH', 'the sealed manifest is not the one the entry names', {
      field: 'manifest',
      expected: entry.manifest,
      found: { sha256, size: sealed.length },
    });
}
