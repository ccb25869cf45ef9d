/**
 * Admitting the entries of delivery transparency (issue 19; #verifier delivery/ holds the formats):
 *
 * - an IDENTITY entry: a fresh attestation document that verifies under the log's trust root
 *   (`log serve --trust-root`; the AWS Nitro root by default), whose PCR0 is an active release of
 *   this log (logged, never revoked), and which binds the enclave's receipt and HPKE keys. One
 *   per receipt key: a second registration of a key answers with the first index.
 * - a DELIVERY entry: signed by the receipt key it names, which an identity entry of this log
 *   registered for the same PCR0, whose release is still active (a revocation stops admission),
 *   naming a release of that PCR0 and the sealed manifest sent with it (digest and size). The
 *   manifest is stored durably before the entry is submitted. One per request and receipt key:
 *   the same leaf again is a duplicate (its index), another leaf for the same request is
 *   DELIVERY_CONFLICT.
 *
 * Both are judged against the integrated entries (the identity must be logged before the
 * enclave's first delivery). Refusals are LogErrors (403 for who may log, 409 for a conflict) or
 * the verifier's codes for malformed input.
 */
import {
  MAX_MANIFEST_BYTES,
  checkSealedManifest,
  deliveryEntryLeaf,
  identityEntryLeaf,
  isVerifierError,
  openDeliveryEntry,
  parseIdentityLeaf,
  sha256,
  toHex,
  utf8,
  verifyAttestationDocument,
  type SignedEnvelope,
  type VerifiedAttestation,
} from '#verifier';
import { LogError } from './errors.ts';
import type { AdmittedEntry, LogStorage } from './ports.ts';
import type { ManifestStore } from './storage/manifests.ts';

/** How old an identity attestation may be when it is registered ("fresh": made for the registration). */
export const MAX_IDENTITY_ATTESTATION_AGE_MS = 10 * 60_000;

export interface DeliveryConfig {
  /** DER root certificates identity attestations must chain to (default: the AWS Nitro root). */
  trustRoots?: readonly Uint8Array[];
  manifests: ManifestStore;
  now?: () => Date;
}

/** The dedup key of an identity entry: its receipt key. */
export function identityReplayKey(receiptKeySha256: string): string {
  return toHex(sha256(utf8(`keycast-enclave-identity/v1\0${receiptKeySha256}`)));
}

/** The dedup key of a delivery entry: its receipt key and request. */
export function deliveryReplayKey(receiptKeySha256: string, requestDigest: string): string {
  return toHex(sha256(utf8(`keycast-delivery/v1\0${receiptKeySha256}\0${requestDigest}`)));
}

/** The admission's view of the log: integrated entries only. */
export interface DeliveryLookups {
  storage: LogStorage;
  size: number;
}

/** Active = a release of this PCR0 is logged and no revocation retired the PCR0. */
function releaseOf(log: DeliveryLookups, pcr0: string): { index: number | null; revokedBy: number | null } {
  const index = log.storage.findRelease('pcr0', pcr0);
  if (index === null || index >= log.size) return { index: null, revokedBy: null };
  return { index, revokedBy: log.storage.firstRevocation(pcr0, -1, log.size) };
}

/**
 * Checks an identity registration and returns the entry to submit; a document too large for the
 * leaf is stored beside it (by digest, served like a manifest) first.
 */
export async function admitIdentity(
  log: DeliveryLookups,
  attestation: Uint8Array,
  cfg: DeliveryConfig,
): Promise<AdmittedEntry> {
  const at = cfg.now?.() ?? new Date();
  let verified: VerifiedAttestation;
  try {
    verified = verifyAttestationDocument(attestation, {
      at,
      ...(cfg.trustRoots ? { trustedRoots: cfg.trustRoots } : {}),
      policy: { maxAgeMs: MAX_IDENTITY_ATTESTATION_AGE_MS },
    });
  } catch (e) {
    if (!isVerifierError(e)) throw e;
    throw new LogError(
      'IDENTITY_UNTRUSTED',
      `the identity attestation does not verify under this log's trust root: ${e.message}`,
      { check: e.code, ...e.evidence },
    );
  }
  const id = identityEntryLeaf(verified, attestation);
  const rel = releaseOf(log, id.entry.pcr0);
  if (rel.index === null)
    throw new LogError('IDENTITY_RELEASE_NOT_LOGGED', 'the attested PCR0 is not a release logged here', {
      pcr0: id.entry.pcr0,
    });
  if (rel.revokedBy !== null)
    throw new LogError('IDENTITY_RELEASE_REVOKED', `the attested PCR0 was revoked by entry ${rel.revokedBy}`, {
      pcr0: id.entry.pcr0,
      release: rel.index,
      revokedBy: rel.revokedBy,
    });
  if (id.sidecar && id.entry.attestationSha256) await cfg.manifests.put(id.entry.attestationSha256, id.sidecar);
  return { leaf: id.leaf, kind: 'identity', pcr0: id.entry.pcr0, replayKey: identityReplayKey(id.receiptKeySha256) };
}

function unregistered(message: string, evidence: Record<string, unknown>): LogError {
  return new LogError('DELIVERY_UNREGISTERED', message, evidence);
}

/**
 * Checks a delivery entry and its sealed manifest, stores the manifest durably, and returns the
 * entry to submit. Throws before storing anything when the entry is refused.
 */
export async function admitDelivery(
  log: DeliveryLookups,
  envelope: SignedEnvelope,
  manifest: Uint8Array,
  cfg: DeliveryConfig,
): Promise<AdmittedEntry> {
  let opened: ReturnType<typeof openDeliveryEntry>;
  try {
    opened = openDeliveryEntry(envelope);
  } catch (e) {
    if (isVerifierError(e, 'DELIVERY_SIGNATURE'))
      throw unregistered('the delivery entry is not signed by the receipt key it names', {
        check: e.code,
        ...e.evidence,
      });
    throw e;
  }
  const { entry, receiptKeySha256 } = opened;
  const idIndex = log.storage.indexOfReplayKey(identityReplayKey(receiptKeySha256));
  const identity = idIndex !== null && idIndex < log.size ? log.storage.entry(idIndex) : null;
  if (!identity || identity.kind !== 'identity')
    throw unregistered('no identity entry of this log registers that receipt key', { receiptKeySha256 });
  const registered = parseIdentityLeaf(identity.leaf);
  if (registered.receiptKeySha256 !== receiptKeySha256 || registered.pcr0 !== entry.pcr0)
    throw unregistered('the receipt key was registered for another PCR0', {
      receiptKeySha256,
      identity: idIndex,
      pcr0: entry.pcr0,
      registeredPcr0: registered.pcr0,
    });
  const named = entry.releaseIndex < log.size ? log.storage.entry(entry.releaseIndex) : null;
  if (!named || named.kind !== 'release' || named.pcr0 !== entry.pcr0)
    throw new LogError('ENTRY_REJECTED', 'the delivery names no release of its PCR0 at releaseIndex', {
      field: 'releaseIndex',
      releaseIndex: entry.releaseIndex,
      pcr0: entry.pcr0,
    });
  const revokedBy = log.storage.firstRevocation(entry.pcr0, -1, log.size);
  if (revokedBy !== null)
    throw new LogError('DELIVERY_RELEASE_REVOKED', `the enclave's release was revoked by entry ${revokedBy}`, {
      pcr0: entry.pcr0,
      revokedBy,
      identity: idIndex,
    });
  if (manifest.length > MAX_MANIFEST_BYTES)
    throw new LogError('ENTRY_TOO_LARGE', `the sealed manifest is over ${MAX_MANIFEST_BYTES} bytes`, {
      size: manifest.length,
      limit: MAX_MANIFEST_BYTES,
    });
  checkSealedManifest(entry, manifest);
  const leaf = deliveryEntryLeaf(opened.envelope);
  const replayKey = deliveryReplayKey(receiptKeySha256, entry.requestDigest);
  const prior = log.storage.indexOfReplayKey(replayKey);
  if (prior !== null && prior < log.size) requireSameLeaf(log.storage.entry(prior)!.leaf, leaf, prior);
  await cfg.manifests.put(entry.manifest.sha256, manifest);
  return { leaf, kind: 'delivery', pcr0: entry.pcr0, replayKey };
}

/** DELIVERY_CONFLICT unless the logged leaf for this request is `leaf` itself. */
export function requireSameLeaf(logged: Uint8Array, leaf: Uint8Array, index: number): void {
  if (Buffer.compare(Buffer.from(logged), Buffer.from(leaf)) !== 0)
    throw new LogError(
      'DELIVERY_CONFLICT',
      `entry ${index} already logs this request from this receipt key, with other contents`,
      { index },
    );
}
