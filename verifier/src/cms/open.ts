/**
 * The reader of KMS's CiphertextForRecipient (profile.ts): parses the BER EnvelopedData with
 * asn1js, accepts exactly the profile KMS writes (any other version, recipient kind,
 * algorithm or extra field is CMS_UNSUPPORTED; broken encodings are CMS_MALFORMED), then
 * unwraps the content key with RSAES-OAEP-SHA-256 and decrypts AES-256-CBC (PKCS#7 padding).
 * A key that does not open it, and a tampered envelope, both give CMS_DECRYPT with the same
 * message (no padding oracle). The recipient's subjectKeyIdentifier is not compared with the
 * key: KMS does not document how it derives it, and sdk-c skips it too.
 */
import { constants, createDecipheriv, createPrivateKey, privateDecrypt, type KeyObject } from 'node:crypto';
import * as asn1js from 'asn1js';
import { VerifierError } from '../errors.ts';
import { CEK_BYTES, ENVELOPED_DATA_VERSION, IV_BYTES, KTRI_VERSION, MAX_CMS_BYTES, OID } from './profile.ts';

/** The fields of a CiphertextForRecipient, checked against the profile but not yet decrypted. */
export interface RecipientEnvelope {
  subjectKeyIdentifier: Uint8Array;
  encryptedKey: Uint8Array;
  iv: Uint8Array;
  /** the joined encryptedContent chunks */
  encryptedContent: Uint8Array;
}

type El = asn1js.AsnType & {
  idBlock: { tagClass: number; tagNumber: number; isConstructed: boolean };
  valueBlock: { value?: El[]; valueHexView?: Uint8Array; toString?: () => string };
};

const UNIVERSAL = 1;
const CONTEXT = 3;
const T = { INTEGER: 2, OCTET_STRING: 4, NULL: 5, OID: 6, SEQUENCE: 16, SET: 17 } as const;

const malformed = (what: string): VerifierError =>
  new VerifierError('CMS_MALFORMED', `CiphertextForRecipient: ${what}`);
const unsupported = (what: string, evidence = {}): VerifierError =>
  new VerifierError('CMS_UNSUPPORTED', `CiphertextForRecipient: ${what}`, evidence);

function is(el: El | undefined, cls: number, tag: number, constructed: boolean): el is El {
  return (
    el !== undefined &&
    el.idBlock.tagClass === cls &&
    el.idBlock.tagNumber === tag &&
    el.idBlock.isConstructed === constructed
  );
}

function kids(el: El | undefined, cls: number, tag: number, what: string, count?: [number, number]): El[] {
  if (!is(el, cls, tag, true)) throw malformed(`${what} is not the expected constructed value`);
  const v = el.valueBlock.value ?? [];
  if (count && (v.length < count[0] || v.length > count[1]))
    throw unsupported(`${what} has ${v.length} fields`, { field: what, fields: v.length });
  return v;
}

function prim(el: El | undefined, cls: number, tag: number, what: string): Uint8Array {
  if (!is(el, cls, tag, false) || !el.valueBlock.valueHexView)
    throw malformed(`${what} is not the expected primitive value`);
  return el.valueBlock.valueHexView;
}

function oid(el: El | undefined, what: string): string {
  if (!is(el, UNIVERSAL, T.OID, false) || typeof el.valueBlock.toString !== 'function')
    throw malformed(`${what} is not an OBJECT IDENTIFIER`);
  return el.valueBlock.toString();
}

function smallInt(el: El | undefined, what: string): number {
  const b = prim(el, UNIVERSAL, T.INTEGER, what);
  if (b.length !== 1 || b[0]! > 0x7f) throw unsupported(`${what} is not a small version number`);
  return b[0]!;
}

function requireOid(el: El | undefined, want: string, what: string): void {
  const got = oid(el, what);
  if (got !== want)
    throw unsupported(`${what} is ${got}, only ${want} is accepted`, { field: what, expected: want, actual: got });
}

/** AlgorithmIdentifier sha256 with absent or NULL parameters (RFC 4055 §2.1). */
function sha256Id(el: El | undefined, what: string): void {
  const f = kids(el, UNIVERSAL, T.SEQUENCE, what, [1, 2]);
  requireOid(f[0], OID.sha256, what);
  if (f[1] !== undefined && prim(f[1], UNIVERSAL, T.NULL, `${what} parameters`).length !== 0)
    throw malformed(`${what} NULL is not empty`);
}

/** rsaesOaep with hashAlgorithm sha256 and maskGen mgf1(sha256); pSource only as the empty default. */
function oaepSha256(el: El | undefined): void {
  const [alg, params] = kids(el, UNIVERSAL, T.SEQUENCE, 'keyEncryptionAlgorithm', [2, 2]);
  requireOid(alg, OID.rsaesOaep, 'keyEncryptionAlgorithm');
  const p = kids(params, UNIVERSAL, T.SEQUENCE, 'RSAES-OAEP-params', [2, 3]);
  sha256Id(kids(p[0], CONTEXT, 0, 'OAEP hashAlgorithm', [1, 1])[0], 'OAEP hashAlgorithm');
  const mgf = kids(
    kids(p[1], CONTEXT, 1, 'OAEP maskGenAlgorithm', [1, 1])[0],
    UNIVERSAL,
    T.SEQUENCE,
    'OAEP maskGenAlgorithm',
    [2, 2],
  );
  requireOid(mgf[0], OID.mgf1, 'OAEP maskGenAlgorithm');
  sha256Id(mgf[1], 'MGF1 hash');
  if (p[2] !== undefined) {
    const src = kids(
      kids(p[2], CONTEXT, 2, 'OAEP pSourceAlgorithm', [1, 1])[0],
      UNIVERSAL,
      T.SEQUENCE,
      'OAEP pSourceAlgorithm',
      [2, 2],
    );
    requireOid(src[0], OID.pSpecified, 'OAEP pSourceAlgorithm');
    if (prim(src[1], UNIVERSAL, T.OCTET_STRING, 'OAEP label').length !== 0)
      throw unsupported('an OAEP label is not accepted');
  }
}

/** encryptedContent: [0] IMPLICIT OCTET STRING, primitive or constructed of primitive chunks. */
function content(el: El | undefined): Uint8Array {
  if (is(el, CONTEXT, 0, false)) return prim(el, CONTEXT, 0, 'encryptedContent');
  const parts = kids(el, CONTEXT, 0, 'encryptedContent').map((c) =>
    prim(c, UNIVERSAL, T.OCTET_STRING, 'encryptedContent chunk'),
  );
  return Uint8Array.from(Buffer.concat(parts));
}

/** Parses and checks a CiphertextForRecipient against the KMS profile. */
export function parseRecipientEnvelope(cms: Uint8Array): RecipientEnvelope {
  if (!(cms instanceof Uint8Array)) throw new TypeError('parseRecipientEnvelope: expected bytes');
  if (cms.length > MAX_CMS_BYTES)
    throw new VerifierError('OVERSIZED', 'CiphertextForRecipient is too large', {
      bytes: cms.length,
      max: MAX_CMS_BYTES,
    });
  // asn1js can throw its own plain Errors on hostile bytes (e.g. an OID it cannot print): every
  // refusal leaves here coded.
  try {
    return readEnvelope(cms);
  } catch (e) {
    if (e instanceof VerifierError) throw e;
    throw malformed('the ASN.1 parser refused the encoding');
  }
}

function readEnvelope(cms: Uint8Array): RecipientEnvelope {
  const r = asn1js.fromBER(cms);
  if (r.offset === -1 || r.result.error !== '' || r.offset !== cms.length)
    throw malformed(r.offset === -1 ? 'not BER' : 'trailing bytes or a broken encoding');
  const ci = kids(r.result as El, UNIVERSAL, T.SEQUENCE, 'ContentInfo', [2, 2]);
  requireOid(ci[0], OID.envelopedData, 'ContentInfo contentType');
  const [envEl] = kids(ci[1], CONTEXT, 0, 'ContentInfo content', [1, 1]);
  const env = kids(envEl, UNIVERSAL, T.SEQUENCE, 'EnvelopedData', [3, 3]);
  const version = smallInt(env[0], 'EnvelopedData version');
  if (version !== ENVELOPED_DATA_VERSION)
    throw unsupported(`EnvelopedData version ${version}`, {
      field: 'version',
      expected: ENVELOPED_DATA_VERSION,
      actual: version,
    });
  const [riEl] = kids(env[1], UNIVERSAL, T.SET, 'recipientInfos', [1, 1]);
  const ri = kids(riEl, UNIVERSAL, T.SEQUENCE, 'KeyTransRecipientInfo', [4, 4]);
  const riVersion = smallInt(ri[0], 'KeyTransRecipientInfo version');
  if (riVersion !== KTRI_VERSION)
    throw unsupported(`KeyTransRecipientInfo version ${riVersion}`, {
      field: 'ktriVersion',
      expected: KTRI_VERSION,
      actual: riVersion,
    });
  const subjectKeyIdentifier = prim(ri[1], CONTEXT, 0, 'recipient subjectKeyIdentifier');
  if (subjectKeyIdentifier.length === 0 || subjectKeyIdentifier.length > 64)
    throw malformed('the subjectKeyIdentifier length is out of range');
  oaepSha256(ri[2]);
  const encryptedKey = prim(ri[3], UNIVERSAL, T.OCTET_STRING, 'encryptedKey');
  const eci = kids(env[2], UNIVERSAL, T.SEQUENCE, 'EncryptedContentInfo', [3, 3]);
  requireOid(eci[0], OID.data, 'EncryptedContentInfo contentType');
  const alg = kids(eci[1], UNIVERSAL, T.SEQUENCE, 'contentEncryptionAlgorithm', [2, 2]);
  requireOid(alg[0], OID.aes256Cbc, 'contentEncryptionAlgorithm');
  const iv = prim(alg[1], UNIVERSAL, T.OCTET_STRING, 'AES-CBC IV');
  if (iv.length !== IV_BYTES) throw unsupported(`the IV has ${iv.length} bytes, not ${IV_BYTES}`);
  const encryptedContent = content(eci[2]);
  if (encryptedContent.length === 0 || encryptedContent.length % 16 !== 0)
    throw malformed('encryptedContent is not a whole number of AES blocks');
  return {
    subjectKeyIdentifier: Uint8Array.from(subjectKeyIdentifier),
    encryptedKey: Uint8Array.from(encryptedKey),
    iv: Uint8Array.from(iv),
    encryptedContent,
  };
}

function privateKey(k: KeyObject | Uint8Array): KeyObject {
  if (k instanceof Uint8Array) {
    try {
      return createPrivateKey({ key: Buffer.from(k), format: 'der', type: 'pkcs8' });
    } catch {
      throw new TypeError('openForRecipient: the private key is not PKCS#8 DER');
    }
  }
  if (typeof k !== 'object' || k === null || (k as KeyObject).type !== 'private')
    throw new TypeError('openForRecipient: expected a private KeyObject or PKCS#8 DER');
  return k;
}

const cannotOpen = (): VerifierError =>
  new VerifierError(
    'CMS_DECRYPT',
    'CiphertextForRecipient does not open with this key (wrong key or tampered envelope)',
  );

/** Opens a CiphertextForRecipient with the recipient's RSA private key; returns the plaintext. */
export async function openForRecipient(
  cms: Uint8Array,
  recipientPrivateKey: KeyObject | Uint8Array,
): Promise<Uint8Array> {
  const key = privateKey(recipientPrivateKey);
  if (key.asymmetricKeyType !== 'rsa') throw new TypeError('openForRecipient: the recipient key must be RSA');
  const env = parseRecipientEnvelope(cms);
  let cek: Buffer;
  try {
    cek = privateDecrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, env.encryptedKey);
  } catch {
    throw cannotOpen();
  }
  try {
    if (cek.length !== CEK_BYTES) throw cannotOpen();
    const d = createDecipheriv('aes-256-cbc', cek, env.iv);
    return new Uint8Array(Buffer.concat([d.update(env.encryptedContent), d.final()]));
  } catch {
    throw cannotOpen();
  } finally {
    cek.fill(0);
  }
}
