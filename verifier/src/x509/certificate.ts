/**
 * Strict parser for the X.509 v3 certificates of an AWS Nitro attestation chain (RFC 5280 §4.1,
 * §4.2.1.3 keyUsage, §4.2.1.9 basicConstraints; RFC 5480 EC keys; RFC 5758 §3.2 ecdsa-with-SHA384).
 *
 * Only what the Nitro profile uses is accepted (notes/nitro.md §3.3): v3, ECDSA P-384 keys,
 * ecdsa-with-SHA384 signatures with absent parameters, no unique IDs. Extensions are parsed for
 * basicConstraints and keyUsage; any other critical extension is reported so the chain check
 * can refuse it. Throws VerifierError CERT_MALFORMED (evidence: reason, byte offset). Pure.
 */
import { VerifierError } from '../errors.ts';
import {
  DerError,
  TAG,
  children,
  expect,
  readBitString,
  readBoolean,
  readInteger,
  readOid,
  readOnly,
  readTime,
  type Tlv,
} from '../encoding/der.ts';
import { nameToString } from './names.ts';

export const OID = {
  ecdsaWithSHA384: '1.2.840.10045.4.3.3',
  ecPublicKey: '1.2.840.10045.2.1',
  secp384r1: '1.3.132.0.34',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
} as const;

/** RFC 5280 §4.2.1.3 bit numbers. */
export const KEY_USAGE_BITS = [
  'digitalSignature',
  'nonRepudiation',
  'keyEncipherment',
  'dataEncipherment',
  'keyAgreement',
  'keyCertSign',
  'cRLSign',
  'encipherOnly',
  'decipherOnly',
] as const;
export type KeyUsage = (typeof KEY_USAGE_BITS)[number];

export const MAX_CERTIFICATE_BYTES = 16 * 1024;

export interface ParsedCertificate {
  der: Uint8Array;
  /** the signed TBSCertificate bytes */
  tbs: Uint8Array;
  serialHex: string;
  issuer: string;
  issuerDer: Uint8Array;
  subject: string;
  subjectDer: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  /** SubjectPublicKeyInfo DER (always EC P-384) */
  spki: Uint8Array;
  /** DER Ecdsa-Sig-Value from signatureValue */
  signature: Uint8Array;
  basicConstraints: { ca: boolean; pathLen?: number; critical: boolean } | null;
  keyUsage: { usages: Set<KeyUsage>; critical: boolean } | null;
  /** OIDs of critical extensions this parser does not understand */
  unknownCritical: string[];
}

function malformed(reason: string, at?: number): never {
  throw new VerifierError('CERT_MALFORMED', `certificate: ${reason}`, at === undefined ? { reason } : { reason, at });
}

/** Parses one DER certificate. Throws CERT_MALFORMED on anything outside the profile. */
export function parseCertificate(der: Uint8Array): ParsedCertificate {
  if (!(der instanceof Uint8Array)) throw new TypeError('parseCertificate: expected bytes');
  if (der.length > MAX_CERTIFICATE_BYTES) malformed(`too large (${der.length} bytes)`);
  try {
    return parse(der);
  } catch (e) {
    if (e instanceof DerError) malformed(e.message, e.at);
    if (e instanceof VerifierError) throw e;
    malformed(`undecodable: ${(e as Error).message}`); // e.g. invalid UTF-8 in a name
  }
}

function parse(der: Uint8Array): ParsedCertificate {
  const [tbsT, algT, sigT, extra] = children(readOnly(der, TAG.SEQUENCE));
  if (!tbsT || !algT || !sigT || extra) malformed('Certificate must have exactly 3 fields');
  checkSigAlg(algT);
  const sig = readBitString(sigT);
  if (sig.unused !== 0) malformed('signatureValue has unused bits');
  const f = children(expect(tbsT, TAG.SEQUENCE));
  const [verT, serialT, algT2, issuerT, validityT, subjectT, spkiT, ...rest] = f;
  if (!verT || !serialT || !algT2 || !issuerT || !validityT || !subjectT || !spkiT)
    malformed('TBSCertificate is missing fields');
  if (verT.tag !== 0xa0) malformed('only v3 certificates are accepted', verT.start);
  const [v, vx] = children(verT);
  if (!v || vx || readInteger(v) !== 2n) malformed('version must be v3', verT.start);
  const serial = readInteger(serialT);
  // RFC 5280 §4.1.2.2 says at most 20 octets, but AWS's instance certificates carry longer
  // serials; like most verifiers we accept up to 32 and require a positive value.
  if (serial <= 0n || serialT.content.length > 32)
    malformed('serial must be positive and at most 32 octets', serialT.start);
  checkSigAlg(algT2);
  if (!bytesEq(algT.bytes, algT2.bytes)) malformed('signature algorithms disagree');
  const [nb, na, vxx] = children(expect(validityT, TAG.SEQUENCE));
  if (!nb || !na || vxx) malformed('bad Validity', validityT.start);
  const spki = checkSpki(spkiT);
  let ext: Tlv | undefined;
  if (rest.length > 1 || (rest[0] && rest[0].tag !== 0xa3))
    malformed('unique identifiers or unknown TBS fields are not accepted');
  if (rest[0]) {
    const [e, ex] = children(rest[0]);
    if (!e || ex) malformed('bad extensions wrapper', rest[0].start);
    ext = e;
  }
  return {
    der,
    tbs: tbsT.bytes,
    serialHex: Buffer.from(serialT.content).toString('hex'),
    issuer: nameToString(issuerT),
    issuerDer: issuerT.bytes,
    subject: nameToString(subjectT),
    subjectDer: subjectT.bytes,
    notBefore: readTime(nb),
    notAfter: readTime(na),
    spki,
    signature: sig.bytes,
    ...extensions(ext),
  };
}

const ECDSA_SHA384_ALG = Uint8Array.from([0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03]);
/** SEQUENCE { SEQUENCE { ecPublicKey, secp384r1 }, BIT STRING (0 unused, 0x04 ‖ X ‖ Y) } prefix */
const P384_SPKI_PREFIX = Uint8Array.from([
  0x30, 0x76, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00,
  0x22, 0x03, 0x62, 0x00, 0x04,
]);

function checkSigAlg(t: Tlv): void {
  if (!bytesEq(t.bytes, ECDSA_SHA384_ALG))
    malformed('signature algorithm must be ecdsa-with-SHA384 without parameters', t.start);
}

function checkSpki(t: Tlv): Uint8Array {
  if (t.bytes.length !== 120 || !bytesEq(t.bytes.subarray(0, P384_SPKI_PREFIX.length), P384_SPKI_PREFIX))
    malformed('public key must be an uncompressed EC P-384 point', t.start);
  return t.bytes;
}

/** Parses an Extensions SEQUENCE for basicConstraints, keyUsage and unknown critical extensions (shared with the ST 430-2 parser). */
export function extensions(
  ext: Tlv | undefined,
): Pick<ParsedCertificate, 'basicConstraints' | 'keyUsage' | 'unknownCritical'> {
  const out: Pick<ParsedCertificate, 'basicConstraints' | 'keyUsage' | 'unknownCritical'> = {
    basicConstraints: null,
    keyUsage: null,
    unknownCritical: [],
  };
  if (!ext) return out;
  const items = children(expect(ext, TAG.SEQUENCE));
  if (items.length === 0) malformed('empty extensions', ext.start);
  const seen = new Set<string>();
  for (const item of items) {
    const f = children(expect(item, TAG.SEQUENCE));
    const oid = readOid(f[0] ?? malformed('bad extension', item.start));
    if (seen.has(oid)) malformed(`duplicate extension ${oid}`, item.start);
    seen.add(oid);
    let critical = false;
    let valueT = f[1];
    if (f.length === 3) {
      critical = readBoolean(f[1]!);
      valueT = f[2];
    } else if (f.length !== 2) malformed('bad extension', item.start);
    const value = expect(valueT!, TAG.OCTET_STRING).content;
    if (oid === OID.basicConstraints) out.basicConstraints = { ...basicConstraints(value), critical };
    else if (oid === OID.keyUsage) out.keyUsage = { usages: keyUsage(value), critical };
    else if (critical) out.unknownCritical.push(oid);
  }
  return out;
}

function basicConstraints(value: Uint8Array): { ca: boolean; pathLen?: number } {
  const f = children(readOnly(value, TAG.SEQUENCE));
  let i = 0;
  let ca = false;
  if (f[i]?.tag === TAG.BOOLEAN) ca = readBoolean(f[i++]!);
  let pathLen: number | undefined;
  if (f[i]) {
    const n = readInteger(f[i++]!);
    if (n < 0n || n > 255n) malformed('pathLenConstraint out of range');
    pathLen = Number(n);
  }
  if (i !== f.length) malformed('bad basicConstraints');
  return pathLen === undefined ? { ca } : { ca, pathLen };
}

function keyUsage(value: Uint8Array): Set<KeyUsage> {
  const { bytes, unused } = readBitString(readOnly(value, TAG.BIT_STRING));
  const set = new Set<KeyUsage>();
  const nbits = bytes.length * 8 - unused;
  for (let i = 0; i < nbits; i++) {
    if (bytes[i >> 3]! & (0x80 >> (i & 7))) {
      const name = KEY_USAGE_BITS[i];
      if (!name) malformed(`unknown keyUsage bit ${i}`);
      set.add(name);
    }
  }
  if (set.size === 0) malformed('keyUsage with no bits set');
  return set;
}

function bytesEq(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}
