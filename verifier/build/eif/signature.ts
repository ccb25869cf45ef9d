/**
 * The EIF signature section and PCR8 (IMGFMT README "EifSectionSignature", src/defs/mod.rs
 * `PcrSignature`/`PcrInfo`, src/utils/eif_signer.rs):
 *   section = CBOR [ { "signing_certificate": [PEM bytes as uints], "signature": [COSE bytes as uints] } ]
 *   COSE_Sign1 (untagged) = [ bstr protected {1: alg}, {}, bstr payload, bstr r‖s ]
 *   payload = CBOR { "register_index": 0, "register_value": [48 uints of PCR0] }
 * alg: ES256 -7 / ES384 -35 / ES512 -36 by the key's curve. Only PCR0 is signed.
 * serde_cbor writes a `Vec<u8>` as an array of uints, hence uintArray/bytesFromUintArray.
 * Pure: encoding, decoding (strict CBOR codec, EIF_MALFORMED) and verification; signing takes a
 * caller-supplied sign function.
 */
import { X509Certificate, createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { VerifierError } from '../../src/errors.ts';
import { decodeCbor, encodeCbor, type CborValue } from '../../src/encoding/cbor.ts';

export const COSE_ALGS = {
  'P-256': { alg: -7, hash: 'sha256' },
  'P-384': { alg: -35, hash: 'sha384' },
  'P-521': { alg: -36, hash: 'sha512' },
} as const;

export interface EifSignature {
  certificatePem: string;
  certificateDer: Uint8Array;
  cose: Uint8Array;
}

function bad(msg: string, ev: Record<string, unknown> = {}): VerifierError {
  return new VerifierError('EIF_MALFORMED', `signature section: ${msg}`, ev);
}

/** PEM → DER of the first CERTIFICATE block. */
export function pemToDer(pem: string): Uint8Array {
  const m = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----/.exec(pem);
  if (!m) throw bad('signing_certificate is not a PEM certificate');
  return new Uint8Array(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'));
}

/** A byte string as serde encodes a plain `Vec<u8>`: an array of uints. */
function uintArray(b: Uint8Array): number[] {
  return Array.from(b);
}

/** Reads a serde `Vec<u8>` (array of uints < 256) back into bytes, or undefined. */
function bytesFromUintArray(v: CborValue | undefined): Uint8Array | undefined {
  if (!Array.isArray(v)) return undefined;
  const out = new Uint8Array(v.length);
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    if (typeof x !== 'number' || x < 0 || x > 255) return undefined;
    out[i] = x;
  }
  return out;
}

function mapGet(m: CborValue | undefined, key: string | number): CborValue | undefined {
  return m instanceof Map ? m.get(key) : undefined;
}

const decode = (b: Uint8Array): CborValue => decodeCbor(b, { code: 'EIF_MALFORMED' });

export function pcrPayload(pcr0: Uint8Array): Uint8Array {
  return encodeCbor(
    new Map<string, CborValue>([
      ['register_index', 0],
      ['register_value', uintArray(pcr0)],
    ]),
  );
}

function sigStructure(protectedHdr: Uint8Array, payload: Uint8Array): Uint8Array {
  return encodeCbor(['Signature1', protectedHdr, new Uint8Array(0), payload]);
}

/** Which COSE algorithm a certificate's EC key implies. */
export function coseAlgFor(certPem: string): (typeof COSE_ALGS)[keyof typeof COSE_ALGS] {
  const key = new X509Certificate(certPem).publicKey;
  const curve = key.asymmetricKeyDetails?.namedCurve;
  const name =
    curve === 'prime256v1' ? 'P-256' : curve === 'secp384r1' ? 'P-384' : curve === 'secp521r1' ? 'P-521' : undefined;
  if (!name) throw bad('signing certificate must carry a P-256/P-384/P-521 key', { curve });
  return COSE_ALGS[name];
}

/**
 * Builds the signature section for `pcr0`. `sign(toBeSigned, hash)` must return the raw
 * r‖s (IEEE P1363) signature by the certificate's key — the key never enters this module.
 */
export function encodeSignatureSection(
  certPem: string,
  pcr0: Uint8Array,
  sign: (tbs: Uint8Array, hash: string) => Uint8Array,
): Uint8Array {
  const { alg, hash } = coseAlgFor(certPem);
  const protectedHdr = encodeCbor(new Map([[1, alg]]));
  const payload = pcrPayload(pcr0);
  const sig = sign(sigStructure(protectedHdr, payload), hash);
  const cose = encodeCbor([protectedHdr, new Map(), payload, sig]);
  return encodeCbor([
    new Map([
      ['signing_certificate', uintArray(Buffer.from(certPem, 'utf8'))],
      ['signature', uintArray(cose)],
    ]),
  ]);
}

export function decodeSignatureSection(b: Uint8Array): EifSignature {
  const v = decode(b);
  if (!Array.isArray(v) || v.length < 1) throw bad('not a non-empty array');
  const pem = bytesFromUintArray(mapGet(v[0]!, 'signing_certificate'));
  const cose = bytesFromUintArray(mapGet(v[0]!, 'signature'));
  if (!pem || !cose) throw bad('missing signing_certificate or signature');
  let certificatePem: string;
  try {
    certificatePem = new TextDecoder('utf-8', { fatal: true }).decode(pem);
  } catch {
    throw bad('certificate is not UTF-8 PEM');
  }
  return { certificatePem, certificateDer: pemToDer(certificatePem), cose };
}

/** describe-eif's SignatureCheck: the COSE signature verifies and signs this PCR0. */
export function checkSignature(s: EifSignature, pcr0: Uint8Array): boolean {
  try {
    const c = decode(s.cose);
    if (!Array.isArray(c) || c.length !== 4) return false;
    const [p, , payload, sig] = c;
    if (!(p instanceof Uint8Array) || !(payload instanceof Uint8Array) || !(sig instanceof Uint8Array)) return false;
    const { alg, hash } = coseAlgFor(s.certificatePem);
    if (mapGet(decode(p), 1) !== alg) return false;
    if (Buffer.compare(Buffer.from(payload), Buffer.from(pcrPayload(pcr0))) !== 0) return false;
    const key = createPublicKey(s.certificatePem);
    return cryptoVerify(hash, sigStructure(p, payload), { key, dsaEncoding: 'ieee-p1363' }, sig);
  } catch {
    return false;
  }
}
