/**
 * X.509 v3 certificate writer (RFC 5280 §4.1) for test PKIs shaped like AWS Nitro's
 * (notes/nitro.md §3.3): ECDSA P-384 keys, ecdsa-with-SHA384 (RFC 5758 §3.2), basicConstraints
 * (critical) and keyUsage (critical on CAs, non-critical on leaves, as AWS issues them).
 * The output parses with node's X509Certificate and with parseCertificate, and chains
 * through verifyCertificateChain when its root is passed as trusted.
 *
 * Deterministic given its inputs (ECDSA signatures aside). Never logs or embeds the private key.
 */
import { createPublicKey, sign, type KeyObject } from 'node:crypto';
import { TAG, derBits, derBoolean, derInteger, derOctets, derOid, derTime, seq, tlv } from '../../src/encoding/der.ts';
import { encodeName, type NameInput } from '../../src/x509/names.ts';
import { KEY_USAGE_BITS, OID, type KeyUsage } from '../../src/x509/certificate.ts';

export interface CertificateInput {
  subject: NameInput;
  issuer: NameInput;
  /** positive serial: big-endian bytes (≤ 20 after stripping leading zeros) or a bigint */
  serial: Uint8Array | bigint;
  notBefore: Date;
  notAfter: Date;
  /** the subject's P-384 public key, as a KeyObject or SPKI DER */
  publicKey: KeyObject | Uint8Array;
  /** the issuer's P-384 private key (the subject's own for a self-signed root) */
  issuerPrivateKey: KeyObject;
  ca: boolean;
  /** pathLenConstraint; CA certificates only */
  pathLen?: number;
  keyUsage: readonly KeyUsage[] | readonly string[];
}

const ECDSA_SHA384 = seq(derOid(OID.ecdsaWithSHA384));

/** Builds and signs one certificate; returns its DER. Throws RangeError/TypeError on bad input. */
export function buildCertificate(c: CertificateInput): Uint8Array {
  const spki = spkiOf(c.publicKey);
  if (c.issuerPrivateKey.type !== 'private' || c.issuerPrivateKey.asymmetricKeyDetails?.namedCurve !== 'secp384r1')
    throw new TypeError('buildCertificate: issuerPrivateKey must be a P-384 private key');
  if (!(c.notBefore.getTime() <= c.notAfter.getTime()))
    throw new RangeError('buildCertificate: notBefore must not be after notAfter');
  if (c.pathLen !== undefined && (!c.ca || !Number.isInteger(c.pathLen) || c.pathLen < 0 || c.pathLen > 255))
    throw new RangeError('buildCertificate: pathLen needs ca and an integer 0..255');
  const serial =
    typeof c.serial === 'bigint' ? c.serial : BigInt('0x' + (Buffer.from(c.serial).toString('hex') || '0'));
  if (serial <= 0n || serial >= 1n << 160n)
    throw new RangeError('buildCertificate: serial must be positive and fit in 20 octets');
  const tbs = seq(
    tlv(0xa0, derInteger(2)),
    derInteger(serial),
    ECDSA_SHA384,
    encodeName(c.issuer),
    seq(derTime(c.notBefore), derTime(c.notAfter)),
    encodeName(c.subject),
    spki,
    tlv(0xa3, seq(basicConstraintsExt(c.ca, c.pathLen), keyUsageExt(c.keyUsage, c.ca))),
  );
  const signature = sign('sha384', tbs, c.issuerPrivateKey);
  return seq(tbs, ECDSA_SHA384, derBits(new Uint8Array(signature)));
}

function spkiOf(k: KeyObject | Uint8Array): Uint8Array {
  const key =
    k instanceof Uint8Array
      ? createPublicKey({ key: Buffer.from(k), format: 'der', type: 'spki' })
      : k.type === 'private'
        ? createPublicKey(k)
        : k;
  if (key.asymmetricKeyDetails?.namedCurve !== 'secp384r1')
    throw new TypeError('buildCertificate: publicKey must be EC P-384');
  return new Uint8Array(key.export({ type: 'spki', format: 'der' }));
}

export function basicConstraintsExt(ca: boolean, pathLen: number | undefined): Uint8Array {
  // DER omits DEFAULT FALSE, so a leaf's value is the empty SEQUENCE (openssl prints CA:FALSE).
  const inner = ca ? seq(derBoolean(true), ...(pathLen === undefined ? [] : [derInteger(pathLen)])) : seq();
  return seq(derOid(OID.basicConstraints), derBoolean(true), derOctets(inner));
}

export function keyUsageExt(usages: readonly string[], critical: boolean): Uint8Array {
  let bits = 0;
  for (const u of usages) {
    const i = KEY_USAGE_BITS.indexOf(u as KeyUsage);
    if (i < 0) throw new RangeError(`buildCertificate: unknown key usage ${u}`);
    bits |= 1 << i;
  }
  if (bits === 0) throw new RangeError('buildCertificate: keyUsage must name at least one usage');
  const highest = 31 - Math.clz32(bits);
  const nbytes = (highest >> 3) + 1;
  const out = new Uint8Array(nbytes);
  for (let i = 0; i <= highest; i++) if (bits & (1 << i)) out[i >> 3]! |= 0x80 >> (i & 7);
  const unused = nbytes * 8 - (highest + 1);
  const value = tlv(TAG.BIT_STRING, Uint8Array.of(unused), out);
  return seq(derOid(OID.keyUsage), ...(critical ? [derBoolean(true)] : []), derOctets(value));
}
