/**
 * The DSSE envelope the forwarding formats share (rules signed by a studio, receipts signed by
 * the enclave): `{ payloadType, payload (base64), signatures: [{ keyid, sig (base64) }] }`, exactly
 * one signature, signed over DSSE PAE (release/dsse.ts) with Ed25519 or ECDSA P-256 (SHA-256).
 * Pure: node:crypto computation only.
 */
import { sign as cryptoSign, type KeyObject, createPublicKey } from 'node:crypto';
import { VerifierError, type VerifierErrorCode } from '../errors.ts';
import { dssePae, parseTrustedKey, verifyDsseSignature, type ReleaseSigner } from '../release/dsse.ts';
import { exactKeys, isObject, parseJsonStrict } from '../encoding/canonical-json.ts';
import { fromBase64, toBase64 } from '../encoding/bytes.ts';

export interface SignedEnvelope {
  payloadType: string;
  payload: string;
  signatures: [{ keyid: string; sig: string }];
}

/** Signs `payload` as a one-signature DSSE envelope with an Ed25519 or P-256 private key. */
export function signEnvelope(payloadType: string, payload: Uint8Array, privateKey: KeyObject): SignedEnvelope {
  if (privateKey.type !== 'private') throw new TypeError('signEnvelope: need a private key');
  const signer = parseTrustedKey(createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString());
  const alg = privateKey.asymmetricKeyType === 'ed25519' ? null : 'sha256';
  const sig = cryptoSign(alg, dssePae(payloadType, payload), privateKey);
  return {
    payloadType,
    payload: toBase64(payload),
    signatures: [{ keyid: signer.spkiSha256, sig: toBase64(new Uint8Array(sig)) }],
  };
}

/**
 * Parses an envelope (text or bytes, at most `maxBytes`), checks its type and its one signature
 * against `signer`; returns the payload bytes. Throws `malformedCode` for shape errors and
 * `signatureCode` when the signature does not verify.
 */
export function openEnvelope(
  input: string | Uint8Array,
  payloadType: string,
  signer: ReleaseSigner,
  maxBytes: number,
  malformedCode: VerifierErrorCode,
  signatureCode: VerifierErrorCode,
): Uint8Array {
  let env: unknown;
  try {
    env = parseJsonStrict(input, maxBytes, 'envelope');
  } catch (e) {
    if (e instanceof VerifierError && e.code === 'OVERSIZED') throw e;
    throw new VerifierError(malformedCode, 'envelope is not JSON', {}, { cause: e });
  }
  if (!isObject(env)) throw new VerifierError(malformedCode, 'envelope must be an object');
  try {
    exactKeys(env, ['payloadType', 'payload', 'signatures'], [], 'envelope');
  } catch (e) {
    throw new VerifierError(malformedCode, (e as Error).message);
  }
  if (env.payloadType !== payloadType)
    throw new VerifierError(malformedCode, `envelope payloadType must be ${payloadType}`, {
      payloadType: String(env.payloadType),
    });
  const sigs = env.signatures;
  if (!Array.isArray(sigs) || sigs.length !== 1 || !isObject(sigs[0]) || typeof sigs[0].sig !== 'string')
    throw new VerifierError(malformedCode, 'envelope must carry exactly one signature');
  if (typeof env.payload !== 'string') throw new VerifierError(malformedCode, 'envelope payload must be base64');
  let payload: Uint8Array;
  let sig: Uint8Array;
  try {
    payload = fromBase64(env.payload);
    sig = fromBase64(sigs[0].sig);
  } catch (e) {
    throw new VerifierError(malformedCode, 'envelope payload or signature is not base64', {}, { cause: e });
  }
  if (!verifyDsseSignature(signer, payloadType, payload, sig))
    throw new VerifierError(signatureCode, 'envelope signature does not verify with the expected key', {
      keyid: signer.spkiSha256,
    });
  return payload;
}
