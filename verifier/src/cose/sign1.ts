/**
 * COSE_Sign1 with ES384 as the AWS Nitro Secure Module emits it (RFC 9052 §4.2 and §4.4,
 * RFC 9053 §2.1; notes/nitro.md §3.1): the array [protected, unprotected, payload, signature],
 * untagged on the wire (tag 18 also accepted when reading), protected header exactly
 * `a1 01 38 22` ({1: -35}), empty unprotected map, attached payload, and a raw 96-byte r‖s
 * P-384 signature over Sig_structure ["Signature1", protected, h'', payload].
 *
 * Reading goes through the strict CBOR codec (encoding/cbor.ts) and uses the received protected
 * and payload bytes verbatim (never re-encoded). Pure: decodeCoseSign1 throws VerifierError
 * COSE_MALFORMED; verifyCoseSign1 is a raw primitive and returns a boolean.
 */
import { sign, verify, type KeyObject } from 'node:crypto';
import { bytesEqual } from '../encoding/bytes.ts';
import { VerifierError } from '../errors.ts';
import { CborTag, decodeCbor, encodeCbor, type CborValue } from '../encoding/cbor.ts';

/** The only protected header accepted and produced: {1: -35} (alg ES384). */
export const ES384_PROTECTED = Uint8Array.from([0xa1, 0x01, 0x38, 0x22]);
export const ES384_SIGNATURE_BYTES = 96;
/** Upper bound on a COSE_Sign1 we will read (NSM documents are ~5 KiB; responses cap at 12 KiB). */
export const MAX_COSE_BYTES = 64 * 1024;

export interface CoseSign1 {
  /** the protected header bstr content, as received */
  protected: Uint8Array;
  payload: Uint8Array;
  /** raw r‖s */
  signature: Uint8Array;
  /** whether the input carried CBOR tag 18 */
  tagged: boolean;
}

function malformed(reason: string, evidence: Record<string, unknown> = {}): never {
  throw new VerifierError('COSE_MALFORMED', `COSE_Sign1: ${reason}`, { reason, ...evidence });
}

/** Parses a COSE_Sign1 (tag 18 optional) with an ES384 protected header. */
export function decodeCoseSign1(bytes: Uint8Array): CoseSign1 {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('decodeCoseSign1: expected bytes');
  let item: CborValue = decodeCbor(bytes, {
    code: 'COSE_MALFORMED',
    maxBytes: MAX_COSE_BYTES,
    maxDepth: 4,
    tags: [18],
  });
  const tagged = item instanceof CborTag;
  if (item instanceof CborTag) item = item.value;
  if (!Array.isArray(item) || item.length !== 4) malformed('not a 4-element array');
  const [prot, unprotected, payload, signature] = item;
  if (!(prot instanceof Uint8Array)) malformed('protected header is not a byte string');
  if (!bytesEqual(prot, ES384_PROTECTED))
    malformed('protected header must be exactly {1: -35} (ES384)', { protected: prot });
  if (!(unprotected instanceof Map) || unprotected.size !== 0) malformed('unprotected header must be an empty map');
  if (!(payload instanceof Uint8Array)) malformed('payload is not an attached byte string');
  if (!(signature instanceof Uint8Array)) malformed('signature is not a byte string');
  if (signature.length !== ES384_SIGNATURE_BYTES)
    malformed(`signature must be ${ES384_SIGNATURE_BYTES} bytes`, { length: signature.length });
  return { protected: prot, payload, signature, tagged };
}

/** Sig_structure = ["Signature1", body_protected, external_aad = h'', payload] (RFC 9052 §4.4). */
export function sigStructure(protectedBytes: Uint8Array, payload: Uint8Array): Uint8Array {
  return encodeCbor(['Signature1', protectedBytes, new Uint8Array(0), payload]);
}

/** Verifies the ES384 signature of a COSE_Sign1 (bytes or decoded) under a P-384 public key. */
export function verifyCoseSign1(doc: Uint8Array | CoseSign1, publicKey: KeyObject): boolean {
  const c = doc instanceof Uint8Array ? decodeCoseSign1(doc) : doc;
  return verify(
    'sha384',
    sigStructure(c.protected, c.payload),
    { key: publicKey, dsaEncoding: 'ieee-p1363' },
    c.signature,
  );
}

/** Signs `payload` as an untagged ES384 COSE_Sign1, exactly as the NSM emits it. */
export function signCoseSign1(payload: Uint8Array, privateKey: KeyObject): Uint8Array {
  if (privateKey.type !== 'private' || privateKey.asymmetricKeyDetails?.namedCurve !== 'secp384r1')
    throw new TypeError('signCoseSign1: need a P-384 private key');
  const signature = sign('sha384', sigStructure(ES384_PROTECTED, payload), {
    key: privateKey,
    dsaEncoding: 'ieee-p1363',
  });
  return encodeCbor([ES384_PROTECTED, new Map(), payload, new Uint8Array(signature)]);
}
