/**
 * DSSE v1 (https://github.com/secure-systems-lab/dsse/blob/master/protocol.md): the
 * pre-authentication encoding PAE(type, body) = "DSSEv1" SP len(type) SP type SP len(body)
 * SP body, and signature checks over it with node:crypto (pure computation, no I/O).
 *
 * Signer keys: ECDSA P-256 (signatures DER, SHA-256) and Ed25519 — the two kinds
 * @sigstore/verify checks with `crypto.verify(undefined, …)` the same way, so a signature
 * accepted here is accepted there. Keys come as SPKI PEM, SPKI DER, or inside an X.509
 * certificate (keyless bundles).
 */
import { createHash, createPublicKey, verify as cryptoVerify, X509Certificate, type KeyObject } from 'node:crypto';
import { VerifierError } from '../errors.ts';
import { toHex, utf8, concatBytes } from '../encoding/bytes.ts';

/** The pre-authentication encoding DSSE signs. */
export function dssePae(payloadType: string, payload: Uint8Array): Uint8Array {
  const type = utf8(payloadType);
  return concatBytes(utf8(`DSSEv1 ${type.length} `), type, utf8(` ${payload.length} `), payload);
}

/** A signer's public identity, as a log entry records it. */
export interface ReleaseSigner {
  readonly key: KeyObject;
  /** What the leaf's `spec.signatures[0].verifier` holds (base64 of this): SPKI or certificate PEM. */
  readonly pem: string;
  readonly certificate: boolean;
  /** Lowercase hex SHA-256 of the DER SPKI: the stable key fingerprint and the bundle `publicKey.hint` our signer uses. */
  readonly spkiSha256: string;
}

function checkKeyType(key: KeyObject): void {
  const t = key.asymmetricKeyType;
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (t === 'ed25519' || (t === 'ec' && curve === 'prime256v1')) return;
  throw new VerifierError('SIGNER_NOT_ALLOWED', 'only ECDSA P-256 and Ed25519 signer keys are supported', {
    keyType: `${t ?? '?'}${curve ? `/${curve}` : ''}`,
  });
}

function fromKey(key: KeyObject, pem: string, certificate: boolean): ReleaseSigner {
  if (key.type !== 'public') throw new TypeError('a signer key must be a public key');
  checkKeyType(key);
  const der = key.export({ format: 'der', type: 'spki' });
  return Object.freeze({ key, pem, certificate, spkiSha256: createHash('sha256').update(der).digest('hex') });
}

/**
 * Parses a trusted signer key: SPKI PEM text, SPKI DER bytes, or a certificate PEM. Never
 * accepts private keys (a PEM private key is refused, not silently reduced to its public half).
 * Throws KEY_MALFORMED.
 */
export function parseTrustedKey(input: string | Uint8Array): ReleaseSigner {
  const id = typeof input === 'string' ? `s:${input}` : `b:${toHex(input)}`;
  const hit = KEY_CACHE.get(id);
  if (hit) return hit;
  const k = parseUncached(input);
  if (KEY_CACHE.size >= KEY_CACHE_MAX) KEY_CACHE.delete(KEY_CACHE.keys().next().value!);
  KEY_CACHE.set(id, k);
  return k;
}

/**
 * Parsed keys by their input text: OpenSSL's PEM decoder costs ~0.2–0.5 ms a key, more than the
 * signature check itself, and a log or monitor sees the same few signers over and over. Entries
 * are immutable public values; the oldest is dropped past KEY_CACHE_MAX.
 */
const KEY_CACHE = new Map<string, ReleaseSigner>();
const KEY_CACHE_MAX = 256;

function parseUncached(input: string | Uint8Array): ReleaseSigner {
  try {
    if (typeof input === 'string') {
      if (input.includes('PRIVATE KEY')) throw new TypeError('private key given where a public key is expected');
      if (input.includes('-----BEGIN CERTIFICATE-----')) return certificateKey(input);
      const key = createPublicKey({ key: input, format: 'pem' });
      return fromKey(key, key.export({ format: 'pem', type: 'spki' }).toString(), false);
    }
    const key = createPublicKey({ key: Buffer.from(input), format: 'der', type: 'spki' });
    return fromKey(key, key.export({ format: 'pem', type: 'spki' }).toString(), false);
  } catch (e) {
    if (e instanceof VerifierError) throw e;
    throw new VerifierError('KEY_MALFORMED', 'not a public key (SPKI PEM/DER) or certificate', {}, { cause: e });
  }
}

/** The public key of an X.509 certificate (PEM or DER), keeping the certificate PEM as the identity. */
export function certificateKey(cert: string | Uint8Array): ReleaseSigner {
  let x: X509Certificate;
  try {
    x = new X509Certificate(typeof cert === 'string' ? cert : Buffer.from(cert));
  } catch (e) {
    throw new VerifierError('KEY_MALFORMED', 'not an X.509 certificate', {}, { cause: e });
  }
  return fromKey(x.publicKey, x.toString(), true);
}

/** Verifies one DSSE signature over PAE(payloadType, payload). Never throws for a bad signature. */
export function verifyDsseSignature(
  signer: ReleaseSigner,
  payloadType: string,
  payload: Uint8Array,
  sig: Uint8Array,
): boolean {
  try {
    const alg = signer.key.asymmetricKeyType === 'ed25519' ? null : 'sha256';
    return cryptoVerify(alg, dssePae(payloadType, payload), signer.key, sig);
  } catch {
    return false;
  }
}

/** Lowercase hex SHA-256. */
export function sha256Hex(b: Uint8Array): string {
  return toHex(createHash('sha256').update(b).digest());
}
