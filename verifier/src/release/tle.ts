/**
 * What a Keycast log hands back for an entry, in Sigstore's own formats (protobuf-specs
 * sigstore_rekor.proto TransparencyLogEntry and sigstore_trustroot.proto TrustedRoot, JSON
 * form: int64 as decimal strings, bytes as standard base64), shaped as notes/tlog.md §3.4
 * says @sigstore/verify 3.1.x accepts from a custom log:
 *  - logId.keyId = the untruncated C2SP key hash SHA-256(origin ‖ 0x0A ‖ 0x01 ‖ Ed25519 pub),
 *    the same value as the trusted root's logId and checkpointKeyId (Rekor v2 convention);
 *  - kindVersion dsse/0.0.1, canonicalizedBody = the leaf (leaf.ts);
 *  - integratedTime "0" and no SET: time comes from elsewhere (verifiers of public-key
 *    bundles use timestampThreshold 0);
 *  - inclusionProof with the log's signed checkpoint (C2SP signed note) as envelope.
 */
import { VerifierError } from '../errors.ts';
import { concatBytes, fromHex, toBase64, utf8 } from '../encoding/bytes.ts';
import { sha256 } from '../tlog/hash.ts';

export interface TleJson {
  logIndex: string;
  logId: { keyId: string };
  kindVersion: { kind: string; version: string };
  integratedTime: string;
  inclusionProof: {
    logIndex: string;
    rootHash: string;
    treeSize: string;
    hashes: string[];
    checkpoint: { envelope: string };
  };
  canonicalizedBody: string;
}

export interface TleInput {
  index: number;
  origin: string;
  /** The log's raw 32-byte Ed25519 checkpoint public key. */
  logPublicKey: Uint8Array;
  leaf: Uint8Array;
  /** The RFC 6962 inclusion proof of `index` in the tree of `treeSize`, leaf level first. */
  proof: Uint8Array[];
  /** The signed checkpoint note for `treeSize` (cosignature lines may follow). */
  checkpointNote: string;
  rootHash: Uint8Array;
  treeSize: number;
}

const ED25519_SPKI_PREFIX = fromHex('302a300506032b6570032100');
/** Characters 3.1.1 would read as RegExp syntax when matching the key name against baseUrl. */
const REGEX_META = /[\\^$*+?()[\]{}|]/;

/** The log ID: SHA-256(origin ‖ 0x0A ‖ 0x01 ‖ pub), the full C2SP Ed25519 key hash. */
export function logIdFor(origin: string, logPublicKey: Uint8Array): Uint8Array {
  if (logPublicKey.length !== 32) throw new TypeError('the log public key must be 32 raw Ed25519 bytes');
  return sha256(utf8(origin), Uint8Array.of(0x0a, 0x01), logPublicKey);
}

/** DER SPKI of a raw Ed25519 public key. */
export function ed25519Spki(raw: Uint8Array): Uint8Array {
  if (raw.length !== 32) throw new TypeError('an Ed25519 public key is 32 bytes');
  return concatBytes(ED25519_SPKI_PREFIX, raw);
}

function checkOrigin(origin: string): void {
  if (typeof origin !== 'string' || origin.length === 0 || /[\s+]/.test(origin) || REGEX_META.test(origin)) {
    throw new VerifierError(
      'TLE_INVALID',
      'the log origin must be a key name without spaces, "+" or RegExp metacharacters (@sigstore/verify 3.1.1 matches it as a RegExp)',
      { origin },
    );
  }
}

/** The Sigstore TransparencyLogEntry JSON for one logged leaf. */
export function buildTransparencyLogEntry(i: TleInput): TleJson {
  checkOrigin(i.origin);
  if (!Number.isSafeInteger(i.index) || i.index < 0 || !Number.isSafeInteger(i.treeSize) || i.index >= i.treeSize) {
    throw new RangeError(`index ${i.index} is not inside a tree of size ${i.treeSize}`);
  }
  if (i.rootHash.length !== 32 || i.proof.some((h) => h.length !== 32)) throw new RangeError('hashes must be 32 bytes');
  return {
    logIndex: String(i.index),
    logId: { keyId: toBase64(logIdFor(i.origin, i.logPublicKey)) },
    kindVersion: { kind: 'dsse', version: '0.0.1' },
    integratedTime: '0',
    inclusionProof: {
      logIndex: String(i.index),
      rootHash: toBase64(i.rootHash),
      treeSize: String(i.treeSize),
      hashes: i.proof.map(toBase64),
      checkpoint: { envelope: i.checkpointNote },
    },
    canonicalizedBody: toBase64(i.leaf),
  };
}

export interface TrustedRootJson {
  mediaType: string;
  tlogs: Array<{
    baseUrl: string;
    hashAlgorithm: string;
    publicKey: { rawBytes: string; keyDetails: string; validFor: { start: string; end?: string } };
    logId: { keyId: string };
    checkpointKeyId?: { keyId: string };
  }>;
  certificateAuthorities: unknown[];
  ctlogs: unknown[];
  timestampAuthorities: unknown[];
}

export const TRUSTED_ROOT_MEDIA_TYPE = 'application/vnd.dev.sigstore.trustedroot.v0.2+json';

/**
 * A TrustedRoot naming one Keycast log: baseUrl "https://" + origin (3.1.x accepts a
 * checkpoint signature line whose key name occurs in baseUrl), the Ed25519 key as SPKI, and
 * logId = checkpointKeyId = the C2SP key hash. `validFrom` defaults to the epoch. Add
 * `certificateAuthorities` etc. yourself to also trust keyless (Fulcio) signers.
 */
export function trustedRootForLog(o: { origin: string; logPublicKey: Uint8Array; validFrom?: Date }): TrustedRootJson {
  checkOrigin(o.origin);
  const keyId = toBase64(logIdFor(o.origin, o.logPublicKey));
  return {
    mediaType: TRUSTED_ROOT_MEDIA_TYPE,
    tlogs: [
      {
        baseUrl: `https://${o.origin}`,
        hashAlgorithm: 'SHA2_256',
        publicKey: {
          rawBytes: toBase64(ed25519Spki(o.logPublicKey)),
          keyDetails: 'PKIX_ED25519',
          validFor: { start: (o.validFrom ?? new Date(0)).toISOString() },
        },
        logId: { keyId },
        checkpointKeyId: { keyId },
      },
    ],
    certificateAuthorities: [],
    ctlogs: [],
    timestampAuthorities: [],
  };
}
