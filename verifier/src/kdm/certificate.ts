/**
 * D-cinema (SMPTE ST 430-2) certificates: a strict parser for RSA X.509 v3 certificates built on
 * the verifier's own DER reader (encoding/der.ts) and extension parser (x509/certificate.ts), plus the
 * three identifiers KDMs use (notes/kdm.md §3):
 * - certificate thumbprint: SHA-1 over the DER TBSCertificate (ST 430-2 §5.4);
 * - public-key thumbprint (the `dnQualifier`): SHA-1 over the PKCS#1 RSAPublicKey;
 * - RFC 2253 names as OpenSSL prints them (last RDN first, `,` between, `+` escaped) and decimal serials.
 * The Nitro parser (x509/certificate.ts) accepts only ECDSA P-384; this one accepts RSA keys and
 * sha256WithRSAEncryption / sha1WithRSAEncryption signatures and keeps what the profile check needs.
 * Pure. Throws CERT_MALFORMED.
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { VerifierError } from '../errors.ts';
import {
  DerError,
  TAG,
  children,
  expect,
  readBitString,
  readInteger,
  readOid,
  readOnly,
  readTime,
  type Tlv,
} from '../encoding/der.ts';
import { extensions } from '../x509/certificate.ts';
import type { KeyUsage } from '../x509/certificate.ts';

export const OID_RSA = '1.2.840.113549.1.1.1';
export const OID_X25519 = '1.3.101.110';
export const OID_SHA256_RSA = '1.2.840.113549.1.1.11';
export const OID_SHA1_RSA = '1.2.840.113549.1.1.5';
const OID_SKI = '2.5.29.14';
const OID_AKI = '2.5.29.35';
export const MAX_DC_CERTIFICATE_BYTES = 8 * 1024;

const ATTR: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.46': 'dnQualifier',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.5': 'serialNumber',
};

export interface NameAttribute {
  /** short name (CN, O, OU, dnQualifier, …) or the dotted OID */
  type: string;
  /** DER string tag (0x13 PrintableString, 0x0c UTF8String, …) */
  tag: number;
  value: string;
}

export interface DcCertificate {
  der: Uint8Array;
  tbs: Uint8Array;
  /** SHA-1 of the TBSCertificate (20 bytes) */
  thumbprint: Uint8Array;
  serial: bigint;
  issuer: string;
  subject: string;
  issuerDer: Uint8Array;
  subjectDer: Uint8Array;
  /** attributes in DER order, one array per RDN */
  subjectRdns: NameAttribute[][];
  issuerRdns: NameAttribute[][];
  notBefore: Date;
  notAfter: Date;
  publicKey: KeyObject;
  /** 'x25519' only for raw-hpke receivers; every D-cinema certificate is 'rsa' */
  keyType: 'rsa' | 'x25519';
  /** DER RSAPublicKey (PKCS#1), or the 32 raw key bytes of an X25519 key */
  pkcs1: Uint8Array;
  /** RSA modulus size (0 for X25519) */
  modulusBits: number;
  exponent: bigint;
  signatureAlgorithm: string;
  signature: Uint8Array;
  basicConstraints: { ca: boolean; pathLen?: number; critical: boolean } | null;
  keyUsage: { usages: Set<KeyUsage>; critical: boolean } | null;
  hasSki: boolean;
  hasAki: boolean;
  unknownCritical: string[];
}

function malformed(reason: string, at?: number): never {
  throw new VerifierError('CERT_MALFORMED', `certificate: ${reason}`, at === undefined ? { reason } : { reason, at });
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

function readName(t: Tlv): NameAttribute[][] {
  expect(t, TAG.SEQUENCE);
  return children(t).map((rdn) => {
    expect(rdn, TAG.SET);
    const atvs = children(rdn);
    if (atvs.length === 0) malformed('empty RDN', rdn.start);
    return atvs.map((atv) => {
      const [type, value, extra] = children(expect(atv, TAG.SEQUENCE));
      if (!type || !value || extra) malformed('bad AttributeTypeAndValue', atv.start);
      const oid = readOid(type);
      if (![TAG.UTF8_STRING, TAG.PRINTABLE_STRING, TAG.IA5_STRING, 0x14].includes(value.tag as never))
        malformed(`unsupported name string tag 0x${value.tag.toString(16)}`, value.start);
      const text = value.tag === TAG.UTF8_STRING ? UTF8.decode(value.content) : String.fromCharCode(...value.content);
      return { type: ATTR[oid] ?? oid, tag: value.tag, value: text };
    });
  });
}

/** RFC 2253 value escaping as OpenSSL's XN_FLAG_RFC2253 does it (`/` and `=` stay as they are). */
function escape2253(v: string): string {
  let s = v.replace(/[\\,+"<>;]/g, (c) => `\\${c}`);
  if (s.startsWith('#') || s.startsWith(' ')) s = `\\${s}`;
  if (s.endsWith(' ') && s.length > 1) s = `${s.slice(0, -1)}\\ `;
  return s;
}

/** The RFC 2253 string of a name: last RDN first, `,` between RDNs, `+` inside a multi-valued RDN. */
export function rfc2253(rdns: NameAttribute[][]): string {
  return [...rdns]
    .reverse()
    .map((rdn) => rdn.map((a) => `${a.type}=${escape2253(a.value)}`).join('+'))
    .join(',');
}

/** The first value of attribute `type` in a name, or undefined. */
export function nameValue(rdns: NameAttribute[][], type: string): string | undefined {
  for (const rdn of rdns) for (const a of rdn) if (a.type === type) return a.value;
  return undefined;
}

/** Parses one DER certificate of the D-cinema (RSA) profile. Throws CERT_MALFORMED. */
export function parseDcCertificate(der: Uint8Array): DcCertificate {
  if (!(der instanceof Uint8Array)) throw new TypeError('parseDcCertificate: expected bytes');
  if (der.length > MAX_DC_CERTIFICATE_BYTES) malformed(`too large (${der.length} bytes)`);
  try {
    return parse(der);
  } catch (e) {
    if (e instanceof VerifierError) throw e;
    malformed(
      e instanceof DerError ? e.message : `undecodable: ${(e as Error).message}`,
      e instanceof DerError ? e.at : undefined,
    );
  }
}

function sigAlg(t: Tlv): string {
  const [oid, params, extra] = children(expect(t, TAG.SEQUENCE));
  if (!oid || extra || (params && params.tag !== TAG.NULL)) malformed('bad AlgorithmIdentifier', t.start);
  const o = readOid(oid);
  if (o !== OID_SHA256_RSA && o !== OID_SHA1_RSA) malformed(`signature algorithm ${o} is not RSA PKCS#1 v1.5`, t.start);
  return o;
}

function parse(der: Uint8Array): DcCertificate {
  const [tbsT, algT, sigT, extra] = children(readOnly(der, TAG.SEQUENCE));
  if (!tbsT || !algT || !sigT || extra) malformed('Certificate must have exactly 3 fields');
  const alg = sigAlg(algT);
  const sig = readBitString(sigT);
  if (sig.unused !== 0) malformed('signatureValue has unused bits');
  const [verT, serialT, alg2T, issuerT, validityT, subjectT, spkiT, ...rest] = children(expect(tbsT, TAG.SEQUENCE));
  if (!verT || !serialT || !alg2T || !issuerT || !validityT || !subjectT || !spkiT)
    malformed('TBSCertificate is missing fields');
  if (verT.tag !== 0xa0) malformed('only v3 certificates are accepted', verT.start);
  const [v, vx] = children(verT);
  if (!v || vx || readInteger(v) !== 2n) malformed('version must be v3', verT.start);
  const serial = readInteger(serialT);
  // RFC 5280 wants positive serials; real D-cinema CAs (easyDCP) have issued serial 0, so only negatives are refused
  if (serial < 0n || serialT.content.length > 21)
    malformed('serial must be non-negative and at most 20 octets', serialT.start);
  if (Buffer.compare(alg2T.bytes, algT.bytes) !== 0 || sigAlg(alg2T) !== alg)
    malformed('signature algorithms disagree');
  const [nb, na, vxx] = children(expect(validityT, TAG.SEQUENCE));
  if (!nb || !na || vxx) malformed('bad Validity', validityT.start);
  const [spkiAlg, spkiBits, sx] = children(expect(spkiT, TAG.SEQUENCE));
  if (!spkiAlg || !spkiBits || sx) malformed('bad SubjectPublicKeyInfo', spkiT.start);
  const [kOid, kParams, kx0] = children(expect(spkiAlg, TAG.SEQUENCE));
  const keyOid = kOid ? readOid(kOid) : '';
  const bits = readBitString(spkiBits);
  if (bits.unused !== 0) malformed('bad public key bits', spkiBits.start);
  let n = 0n;
  let exponent = 0n;
  if (keyOid === OID_X25519) {
    // raw-hpke receivers: RFC 8410 X25519 (no parameters, 32 key bytes); never a KDM recipient or CA
    if (kParams || bits.bytes.length !== 32) malformed('bad X25519 public key', spkiAlg.start);
  } else {
    if (keyOid !== OID_RSA || !kParams || kParams.tag !== TAG.NULL || kx0)
      malformed('public key must be rsaEncryption or X25519', spkiAlg.start);
    const [nT, eT, kx] = children(readOnly(bits.bytes, TAG.SEQUENCE));
    if (!nT || !eT || kx) malformed('bad RSAPublicKey', spkiBits.start);
    n = readInteger(nT);
    exponent = readInteger(eT);
  }
  if (rest.length > 1 || (rest[0] && rest[0].tag !== 0xa3))
    malformed('unique identifiers or unknown TBS fields are not accepted');
  let ext: Tlv | undefined;
  const oids: string[] = [];
  if (rest[0]) {
    const [e, ex] = children(rest[0]);
    if (!e || ex) malformed('bad extensions wrapper', rest[0].start);
    ext = e;
    for (const item of children(expect(e, TAG.SEQUENCE)))
      oids.push(readOid(children(expect(item, TAG.SEQUENCE))[0] ?? malformed('bad extension')));
  }
  const subjectRdns = readName(subjectT);
  const issuerRdns = readName(issuerT);
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: Buffer.from(spkiT.bytes), format: 'der', type: 'spki' });
  } catch (e) {
    malformed(`public key does not load: ${(e as Error).message}`);
  }
  return {
    der,
    tbs: tbsT.bytes,
    thumbprint: new Uint8Array(createHash('sha1').update(tbsT.bytes).digest()),
    serial,
    issuer: rfc2253(issuerRdns),
    subject: rfc2253(subjectRdns),
    issuerDer: issuerT.bytes,
    subjectDer: subjectT.bytes,
    subjectRdns,
    issuerRdns,
    notBefore: readTime(nb),
    notAfter: readTime(na),
    publicKey,
    pkcs1: bits.bytes,
    keyType: keyOid === OID_X25519 ? 'x25519' : 'rsa',
    modulusBits: n === 0n ? 0 : n.toString(2).length,
    exponent,
    signatureAlgorithm: alg,
    signature: sig.bytes,
    ...extensions(ext),
    hasSki: oids.includes(OID_SKI),
    hasAki: oids.includes(OID_AKI),
  };
}

/** Base64 SHA-1 of the PKCS#1 public key: what a D-cinema certificate's dnQualifier must hold. */
export function publicKeyThumbprint(pkcs1: Uint8Array): string {
  return createHash('sha1').update(pkcs1).digest('base64');
}

/** Base64 certificate thumbprint (SHA-1 of the TBSCertificate). */
export function certificateThumbprint(c: DcCertificate): string {
  return Buffer.from(c.thumbprint).toString('base64');
}

/** Splits PEM text into DER certificates (every CERTIFICATE block, in order). Throws CERT_MALFORMED. */
export function pemCertificates(pem: string): Uint8Array[] {
  const out: Uint8Array[] = [];
  const re = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]*?)-----END CERTIFICATE-----/g;
  for (let m = re.exec(pem); m; m = re.exec(pem))
    out.push(new Uint8Array(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64')));
  if (out.length === 0) malformed('no PEM CERTIFICATE block');
  return out;
}

/** PEM text of one DER certificate. */
export function certificatePem(der: Uint8Array): string {
  const b = Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN CERTIFICATE-----\n${b}${b.endsWith('\n') ? '' : '\n'}-----END CERTIFICATE-----\n`;
}
