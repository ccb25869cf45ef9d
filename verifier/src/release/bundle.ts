/**
 * Reading a Sigstore bundle (protobuf-specs sigstore_bundle.proto, JSON form; media types
 * v0.2 and v0.3) that carries a DSSE envelope. Only the parts a release entry is made of are
 * extracted and checked strictly: the envelope (exactly one signature, canonical base64) and
 * the signer material (a public-key hint, or a certificate / chain whose first certificate is
 * the signer). Transparency-log entries and timestamps are passed through untouched: they are
 * checked by verifyReleaseBundleWithSigstore, not by the log's admission.
 */
import { VerifierError } from '../errors.ts';
import { fromBase64 } from '../encoding/bytes.ts';
import { exactKeys, isObject, parseJsonStrict } from '../encoding/canonical-json.ts';

export const BUNDLE_MEDIA_TYPES = [
  'application/vnd.dev.sigstore.bundle.v0.3+json',
  'application/vnd.dev.sigstore.bundle+json;version=0.2',
];
/** Bundles larger than this are refused before parsing (a release bundle is a few KiB). */
export const MAX_BUNDLE_BYTES = 256 * 1024;

/** The DSSE envelope as JSON (payload and sig standard base64), the form a leaf stores. */
export interface EnvelopeJson {
  payloadType: string;
  payload: string;
  signatures: [{ sig: string }];
}

export interface ParsedBundle {
  mediaType: string;
  envelope: EnvelopeJson;
  payload: Uint8Array;
  signature: Uint8Array;
  /** verificationMaterial.publicKey.hint, for public-key bundles. */
  hint?: string;
  /** The signing certificate (DER), for keyless bundles. */
  certificate?: Uint8Array;
  /** verificationMaterial.tlogEntries as given (JSON), possibly empty. */
  tlogEntries: unknown[];
  /** The whole bundle JSON value. */
  json: Record<string, unknown>;
}

function malformed(message: string, evidence: Record<string, unknown> = {}): VerifierError {
  return new VerifierError('RELEASE_MALFORMED', message, evidence);
}

function b64(v: unknown, field: string, allowEmpty = false): Uint8Array {
  try {
    if (typeof v !== 'string') throw new TypeError('not a string');
    const out = fromBase64(v);
    if (out.length === 0 && !allowEmpty) throw new TypeError('empty');
    return out;
  } catch {
    throw malformed(`${field} must be non-empty canonical base64`, { field });
  }
}

/**
 * Validates a DSSE envelope JSON object and returns it normalised. The signature's `keyid` is
 * checked for shape but dropped: DSSE does not sign it, so keeping it would let anyone make a
 * second leaf for the same signed statement by editing it.
 */
export function parseEnvelope(v: unknown): { envelope: EnvelopeJson; payload: Uint8Array; signature: Uint8Array } {
  if (!isObject(v)) throw malformed('dsseEnvelope must be an object');
  exactKeys(v, ['payloadType', 'payload', 'signatures'], [], 'dsseEnvelope');
  if (typeof v.payloadType !== 'string' || v.payloadType.length === 0 || v.payloadType.length > 128)
    throw malformed('dsseEnvelope.payloadType must be a short string');
  const payload = b64(v.payload, 'dsseEnvelope.payload');
  if (!Array.isArray(v.signatures) || v.signatures.length !== 1) {
    throw malformed('dsseEnvelope must carry exactly one signature', {
      count: Array.isArray(v.signatures) ? v.signatures.length : null,
    });
  }
  const s = v.signatures[0];
  if (!isObject(s)) throw malformed('dsseEnvelope.signatures[0] must be an object');
  exactKeys(s, ['sig'], ['keyid'], 'dsseEnvelope.signatures[0]');
  const signature = b64(s.sig, 'dsseEnvelope.signatures[0].sig');
  if (signature.length > 1024) throw malformed('the DSSE signature is implausibly long', { length: signature.length });
  if (s.keyid !== undefined && (typeof s.keyid !== 'string' || s.keyid.length > 256))
    throw malformed('dsseEnvelope.signatures[0].keyid must be a short string');
  // b64 accepted only the canonical spelling, so the strings are already normalised.
  return {
    envelope: { payloadType: v.payloadType, payload: v.payload as string, signatures: [{ sig: s.sig as string }] },
    payload,
    signature,
  };
}

function signerMaterial(vm: Record<string, unknown>): { hint?: string; certificate?: Uint8Array } {
  if (isObject(vm.publicKey)) {
    const hint = vm.publicKey.hint;
    if (hint !== undefined && (typeof hint !== 'string' || hint.length > 256))
      throw malformed('verificationMaterial.publicKey.hint must be a short string');
    return { hint: typeof hint === 'string' ? hint : '' };
  }
  if (isObject(vm.certificate))
    return { certificate: b64(vm.certificate.rawBytes, 'verificationMaterial.certificate.rawBytes') };
  const chain = isObject(vm.x509CertificateChain) ? vm.x509CertificateChain.certificates : undefined;
  if (Array.isArray(chain) && chain.length > 0 && isObject(chain[0])) {
    return {
      certificate: b64(chain[0].rawBytes, 'verificationMaterial.x509CertificateChain.certificates[0].rawBytes'),
    };
  }
  throw malformed('verificationMaterial must name a publicKey, certificate or x509CertificateChain');
}

/** Parses a Sigstore DSSE bundle from JSON text or a parsed value. Throws OVERSIZED / RELEASE_MALFORMED. */
export function parseBundle(input: string | Uint8Array | Record<string, unknown>): ParsedBundle {
  const json =
    typeof input === 'string' || input instanceof Uint8Array
      ? parseJsonStrict(input, MAX_BUNDLE_BYTES, 'the bundle')
      : input;
  if (!isObject(json)) throw malformed('the bundle must be a JSON object');
  if (typeof json.mediaType !== 'string' || !BUNDLE_MEDIA_TYPES.includes(json.mediaType)) {
    throw malformed('unsupported bundle mediaType', {
      mediaType: String(json.mediaType).slice(0, 200),
      supported: BUNDLE_MEDIA_TYPES,
    });
  }
  if (json.messageSignature !== undefined)
    throw malformed('a release bundle carries a dsseEnvelope, not a messageSignature');
  const vm = json.verificationMaterial;
  if (!isObject(vm)) throw malformed('the bundle has no verificationMaterial');
  const tlogEntries = vm.tlogEntries === undefined ? [] : vm.tlogEntries;
  if (!Array.isArray(tlogEntries)) throw malformed('verificationMaterial.tlogEntries must be an array');
  return { mediaType: json.mediaType, ...parseEnvelope(json.dsseEnvelope), ...signerMaterial(vm), tlogEntries, json };
}
