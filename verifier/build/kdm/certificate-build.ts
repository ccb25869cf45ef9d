/**
 * Writes SMPTE ST 430-2 certificates (RSA-2048, sha256WithRSAEncryption) shaped like the chains
 * DCP-o-matic and libdcp generate and like real Security Manager certificates (notes/kdm.md §5):
 * subject `O, OU, CN, dnQualifier` as PrintableString in that DER order, dnQualifier = the key's
 * thumbprint, issuer = the parent's subject bytes, critical basicConstraints, keyUsage, SKI and AKI.
 * A raw-hpke receiver's leaf may carry an X25519 key instead (signed by the RSA issuer as usual).
 * Uses the verifier's DER writer and extension encoders (x509/). Pure; never embeds a private key.
 */
import { createHash, createPublicKey, sign, type KeyObject } from 'node:crypto';
import {
  TAG,
  derInteger,
  derOctets,
  derOid,
  derPrintable,
  derTime,
  seq,
  tlv,
  derBits,
} from '../../src/encoding/der.ts';
import { basicConstraintsExt, keyUsageExt } from '../x509/build.ts';
import { OID_SHA256_RSA, publicKeyThumbprint, type DcCertificate } from '../../src/kdm/certificate.ts';

export interface DcCertificateInput {
  /** O (the chain's root name, same in every certificate), OU and CN (`<roles>.<name>`, `.name` for CAs) */
  subject: { O: string; OU: string; CN: string };
  /** the issuer certificate; omitted for a self-signed root */
  issuer?: DcCertificate;
  serial: bigint;
  notBefore: Date;
  notAfter: Date;
  /** the subject's RSA public key (or its private key); X25519 only for a raw-hpke receiver's leaf */
  publicKey: KeyObject;
  /** the issuer's RSA private key (the subject's own for a root) */
  issuerPrivateKey: KeyObject;
  ca: boolean;
  pathLen?: number;
  keyUsage: readonly string[];
}

const SHA256_RSA = seq(derOid(OID_SHA256_RSA), tlv(TAG.NULL));

/** The key bytes the dnQualifier and SKI hash: PKCS#1 for RSA, the 32 raw bytes for X25519. */
function pkcs1Of(key: KeyObject): Uint8Array {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  if (pub.asymmetricKeyType === 'x25519') return new Uint8Array(pub.export({ format: 'der', type: 'spki' })).slice(-32);
  if (pub.asymmetricKeyType !== 'rsa') throw new TypeError('buildDcCertificate: RSA or X25519 subject keys only');
  return new Uint8Array(pub.export({ type: 'pkcs1', format: 'der' }));
}

function attr(oid: string, value: string): Uint8Array {
  if (!/^[A-Za-z0-9 '()+,\-./:=?]+$/.test(value))
    throw new RangeError(`buildDcCertificate: ${JSON.stringify(value)} is not a PrintableString`);
  return tlv(TAG.SET, seq(derOid(oid), derPrintable(value)));
}

/** Builds and signs one certificate; returns its DER. */
export function buildDcCertificate(c: DcCertificateInput): Uint8Array {
  const pkcs1 = pkcs1Of(c.publicKey);
  const spki = new Uint8Array(
    (c.publicKey.type === 'private' ? createPublicKey(c.publicKey) : c.publicKey).export({
      type: 'spki',
      format: 'der',
    }),
  );
  const dnq = publicKeyThumbprint(pkcs1);
  const subject = seq(
    attr('2.5.4.10', c.subject.O),
    attr('2.5.4.11', c.subject.OU),
    attr('2.5.4.3', c.subject.CN),
    attr('2.5.4.46', dnq),
  );
  const ski = new Uint8Array(createHash('sha1').update(pkcs1).digest());
  const issuerName = c.issuer ? c.issuer.subjectDer : subject;
  const issuerSki = c.issuer ? new Uint8Array(createHash('sha1').update(c.issuer.pkcs1).digest()) : ski;
  if (c.serial <= 0n || c.serial >= 1n << 159n)
    throw new RangeError('buildDcCertificate: serial must be positive and fit 20 octets');
  const exts = seq(
    basicConstraintsExt(c.ca, c.pathLen),
    keyUsageExt(c.keyUsage, true),
    seq(derOid('2.5.29.14'), derOctets(derOctets(ski))),
    seq(derOid('2.5.29.35'), derOctets(seq(tlv(0x80, issuerSki)))),
  );
  const tbs = seq(
    tlv(0xa0, derInteger(2)),
    derInteger(c.serial),
    SHA256_RSA,
    issuerName,
    seq(derTime(c.notBefore), derTime(c.notAfter)),
    subject,
    spki,
    tlv(0xa3, exts),
  );
  const sig = sign('sha256', tbs, c.issuerPrivateKey);
  return seq(tbs, SHA256_RSA, derBits(new Uint8Array(sig)));
}
