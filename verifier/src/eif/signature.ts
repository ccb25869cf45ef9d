/**
 * The EIF signature section and PCR8 (IMGFMT README "EifSectionSignature", src/defs/mod.rs
 * `PcrSignature`/`PcrInfo`, src/utils/eif_signer.rs):
 *   section = CBOR [ { "signing_certificate": [PEM bytes as uints], "signature": [COSE bytes as uints] } ]
 *   COSE_Sign1 (untagged) = [ bstr protected {1: alg}, {}, bstr payload, bstr r‖s ]
 *   payload = CBOR { "register_index": 0, "register_value": [48 uints of PCR0] }
 * alg: ES256 -7 / ES384 -35 / ES512 -36 by the key's curve. Only PCR0 is signed.
 * Pure: encoding, decoding and verification; signing takes a caller-supplied sign function.
 */
import { X509Certificate, createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { VerifierError } from '../errors.ts';
import { cborDecode, cborEncode, mapGet, bytesFromUintArray, uintArray, type CborValue } from './cbor.ts';

export const COSE_ALGS = { 'P-256': { alg: -7, hash: 'sha256' }, 'P-384': { alg: -35, hash: 'sha384' }, 'P-521': { alg: -36, hash: 'sha512' } } as const;

export interface EifSignature { certificatePem: string; certificateDer: Uint8Array; cose: Uint8Array }

function bad(msg: string, ev: Record<string, unknown> = {}): VerifierError {
  return new VerifierError('EIF_MALFORMED', `signature section: ${msg}`, ev);
}

/** PEM → DER of the first CERTIFICATE block. */
export function pemToDer(pem: string): Uint8Array {
  const m = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----/.exec(pem);
  if (!m) throw bad('signing_certificate is not a PEM certificate');
  return new Uint8Array(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'));
}

export function pcrPayload(pcr0: Uint8Array): Uint8Array {
  return cborEncode({ map: [['register_index', 0], ['register_value', uintArray(pcr0)]] });
}

function sigStructure(protectedHdr: Uint8Array, payload: Uint8Array): Uint8Array {
  return cborEncode(['Signature1', protectedHdr, new Uint8Array(0), payload]);
}

/** Which COSE algorithm a certificate's EC key implies. */
export function coseAlgFor(certPem: string): (typeof COSE_ALGS)[keyof typeof COSE_ALGS] {
  const key = new X509Certificate(certPem).publicKey;
  const curve = key.asymmetricKeyDetails?.namedCurve;
  const name = curve === 'prime256v1' ? 'P-256' : curve === 'secp384r1' ? 'P-384' : curve === 'secp521r1' ? 'P-521' : undefined;
  if (!name) throw bad('signing certificate must carry a P-256/P-384/P-521 key', { curve });
  return COSE_ALGS[name];
}

/**
 * Builds the signature section for `pcr0`. `sign(toBeSigned, hash)` must return the raw
 * r‖s (IEEE P1363) signature by the certificate's key — the key never enters this module.
 */
export function encodeSignatureSection(certPem: string, pcr0: Uint8Array, sign: (tbs: Uint8Array, hash: string) => Uint8Array): Uint8Array {
  const { alg, hash } = coseAlgFor(certPem);
  const protectedHdr = cborEncode({ map: [[1, alg]] });
  const payload = pcrPayload(pcr0);
  const sig = sign(sigStructure(protectedHdr, payload), hash);
  const cose = cborEncode([protectedHdr, { map: [] }, payload, sig]);
  return cborEncode([{ map: [['signing_certificate', uintArray(Buffer.from(certPem, 'utf8'))], ['signature', uintArray(cose)]] }]);
}

export function decodeSignatureSection(b: Uint8Array): EifSignature {
  const v = cborDecode(b);
  if (!Array.isArray(v) || v.length < 1) throw bad('not a non-empty array');
  const pem = bytesFromUintArray(mapGet(v[0]!, 'signing_certificate'));
  const cose = bytesFromUintArray(mapGet(v[0]!, 'signature'));
  if (!pem || !cose) throw bad('missing signing_certificate or signature');
  let certificatePem: string;
  try { certificatePem = new TextDecoder('utf-8', { fatal: true }).decode(pem); } catch { throw bad('certificate is not UTF-8 PEM'); }
  return { certificatePem, certificateDer: pemToDer(certificatePem), cose };
}

/** describe-eif's SignatureCheck: the COSE signature verifies and signs this PCR0. */
export function checkSignature(s: EifSignature, pcr0: Uint8Array): boolean {
  try {
    const c = cborDecode(s.cose) as CborValue[];
    if (!Array.isArray(c) || c.length !== 4) return false;
    const [p, , payload, sig] = c;
    if (!(p instanceof Uint8Array) || !(payload instanceof Uint8Array) || !(sig instanceof Uint8Array)) return false;
    const { alg, hash } = coseAlgFor(s.certificatePem);
    if (mapGet(cborDecode(p), 1) !== alg) return false;
    if (Buffer.compare(Buffer.from(payload), Buffer.from(pcrPayload(pcr0))) !== 0) return false;
    const key = createPublicKey(s.certificatePem);
    return cryptoVerify(hash, sigStructure(p, payload), { key, dsaEncoding: 'ieee-p1363' }, sig);
  } catch {
    return false;
  }
}
