/**
 * Admission of a release-log entry (POST /add-entry): parse the Sigstore DSSE
 * bundle, check the DSSE signature over PAE ourselves, the in-toto statement and its Keycast
 * predicate, and that the signer is allowed by the log's policy; derive the canonical leaf.
 *
 * Policy:
 *  - release and revocation entries must be signed by a key in `allowedSigners` (publishers);
 *  - rebuild attestations must be signed by a key in `allowedRebuilders` (third parties; none
 *    by default, so an open log cannot be spammed by anonymous rebuilders);
 *  - revocation rule (documented choice): a revocation naming leaf index N and PCR0 P is valid
 *    iff (a) it is signed by an allowed publisher or by the very key that signed release N,
 *    and (b) when the caller can look up leaf N (`lookupLeaf`), that leaf is a release whose
 *    PCR0 is P. Option (a)'s second half lets a publisher whose key was since removed from the
 *    allow-list still retire its own releases; a stranger can revoke nothing. Without
 *    `lookupLeaf` only allowed publishers may revoke (the release's signer is unknown).
 *
 * Keyless (certificate) bundles are admitted if the certificate's key is pinned in the relevant
 * list, or — publishers only — when `allowedIdentities` is given and the bundle verifies as a
 * keyless Sigstore bundle under its trust root (Fulcio chain, SCT, a timestamp inside the
 * certificate's validity, the signature; nothing logged yet) for one of the pinned identities
 * (sigstore/keyless-publisher.ts; IDENTITY_MISMATCH names the field that differs).
 */
import { VerifierError } from '../errors.ts';
import { parseBundle, type ParsedBundle } from './bundle.ts';
import { certificateKey, parseTrustedKey, verifyDsseSignature, type ReleaseSigner } from './dsse.ts';
import { decodeLeaf, encodeLeaf, entryFrom, type DecodedEntry } from './leaf.ts';
import { keylessBundleSigner, type KeylessPublishers } from '../sigstore/keyless-publisher.ts';

/** A trusted key: SPKI PEM text, SPKI DER bytes, or a certificate PEM. */
export type TrustedKey = string | Uint8Array;

export interface EntryPolicyOptions {
  /** Keys allowed to publish releases and revocations. */
  allowedSigners: TrustedKey[];
  /** Keys allowed to log rebuild attestations (default: none). */
  allowedRebuilders?: TrustedKey[];
  /** Publishers pinned by keyless identity, with the Sigstore trust root of their Fulcio (default none). */
  allowedIdentities?: KeylessPublishers;
  /** The log's leaf at `index`, or undefined if there is none; used to check revocations. */
  lookupLeaf?: (index: number) => Uint8Array | undefined;
}

function signerFor(bundle: ParsedBundle, candidates: ReleaseSigner[]): ReleaseSigner {
  if (bundle.certificate) {
    const cert = certificateKey(bundle.certificate);
    if (!candidates.some((k) => k.spkiSha256 === cert.spkiSha256)) throw notAllowed(cert);
    return cert;
  }
  const hinted = candidates.find((k) => k.spkiSha256 === bundle.hint);
  if (hinted) return hinted;
  const verifying = candidates.find((k) =>
    verifyDsseSignature(k, bundle.envelope.payloadType, bundle.payload, bundle.signature),
  );
  if (!verifying)
    throw new VerifierError('SIGNER_NOT_ALLOWED', 'the bundle is not signed by any key this log allows', {
      hint: bundle.hint ?? null,
    });
  return verifying;
}

function notAllowed(k: ReleaseSigner): VerifierError {
  return new VerifierError('SIGNER_NOT_ALLOWED', 'the signer key is not allowed by this log', {
    signerSpkiSha256: k.spkiSha256,
  });
}

/**
 * Verifies a bundle for admission to the log and returns the decoded entry with its
 * canonical leaf. Pure and synchronous. Throws VerifierError: OVERSIZED, RELEASE_MALFORMED,
 * STATEMENT_TYPE, PREDICATE_INVALID, SIGNATURE_INVALID, SIGNER_NOT_ALLOWED,
 * REVOCATION_INVALID, KEY_MALFORMED (a bad key in the policy itself).
 */
export function verifyEntryBundle(
  bundleJson: string | Uint8Array | Record<string, unknown>,
  policy: EntryPolicyOptions,
): DecodedEntry {
  const bundle = parseBundle(bundleJson);
  const publishers = policy.allowedSigners.map(parseTrustedKey);
  const rebuilders = (policy.allowedRebuilders ?? []).map(parseTrustedKey);
  const ids = policy.allowedIdentities;
  if (bundle.certificate && ids && ids.policies.length > 0) {
    const cert = certificateKey(bundle.certificate);
    if (![...publishers, ...rebuilders].some((k) => k.spkiSha256 === cert.spkiSha256)) {
      keylessBundleSigner(bundle.json, ids, 0);
      const entry = entryFrom(bundle.envelope, bundle.payload, bundle.signature, cert, encodeLeaf(bundle, cert));
      if (entry.kind === 'rebuild') throw notAllowed(cert);
      if (entry.kind === 'revocation') checkRevocationSigner(entry, true, policy.lookupLeaf);
      return entry;
    }
  }
  // Verify against every key this log knows; the kind-specific rule is applied after the
  // statement is read (a rebuilder key must not publish releases, and vice versa).
  const signer = signerFor(bundle, [...publishers, ...rebuilders, ...revokerCandidates(bundle, policy)]);
  const entry = entryFrom(bundle.envelope, bundle.payload, bundle.signature, signer, encodeLeaf(bundle, signer));
  const isIn = (list: ReleaseSigner[]) => list.some((k) => k.spkiSha256 === signer.spkiSha256);
  if (entry.kind === 'release' && !isIn(publishers)) throw notAllowed(signer);
  if (entry.kind === 'rebuild' && !isIn(rebuilders)) throw notAllowed(signer);
  if (entry.kind === 'revocation') checkRevocationSigner(entry, isIn(publishers), policy.lookupLeaf);
  return entry;
}

/** The signer of the release a revocation names, if the caller can look it up. */
function revokerCandidates(bundle: ParsedBundle, policy: EntryPolicyOptions): ReleaseSigner[] {
  if (!policy.lookupLeaf) return [];
  try {
    const stmt = JSON.parse(Buffer.from(bundle.payload).toString('utf8')) as {
      predicate?: { revokes?: { logIndex?: unknown } };
    };
    const index = stmt.predicate?.revokes?.logIndex;
    if (typeof index !== 'number' || !Number.isSafeInteger(index) || index < 0) return [];
    const leaf = policy.lookupLeaf(index);
    return leaf ? [decodeLeaf(leaf).signer] : [];
  } catch {
    return [];
  }
}

function checkRevocationSigner(
  entry: DecodedEntry,
  publisher: boolean,
  lookupLeaf?: (index: number) => Uint8Array | undefined,
): void {
  const revokes = entry.revokes!;
  if (!lookupLeaf) {
    if (!publisher) throw notAllowed(entry.signer);
    return;
  }
  const leaf = lookupLeaf(revokes.index);
  if (!leaf)
    throw new VerifierError('REVOCATION_INVALID', 'the revoked index holds no entry in this log', {
      index: revokes.index,
    });
  checkRevocation(entry, decodeLeaf(leaf), publisher);
}

/**
 * The revocation rule applied to a decoded revocation and the decoded entry at its index.
 * `signerIsPublisher`: whether the revocation's signer is an allowed publisher.
 * Throws REVOCATION_INVALID or SIGNER_NOT_ALLOWED.
 */
export function checkRevocation(revocation: DecodedEntry, revoked: DecodedEntry, signerIsPublisher: boolean): void {
  const r = revocation.revokes;
  if (!r) throw new VerifierError('REVOCATION_INVALID', 'not a revocation entry', { kind: revocation.kind });
  if (revoked.kind !== 'release')
    throw new VerifierError('REVOCATION_INVALID', 'only release entries can be revoked', {
      index: r.index,
      kind: revoked.kind,
    });
  if (revoked.pcr0 !== r.pcr0)
    throw new VerifierError('REVOCATION_INVALID', 'the revoked entry carries a different PCR0', {
      index: r.index,
      expected: r.pcr0,
      actual: revoked.pcr0,
    });
  if (!signerIsPublisher && revoked.signer.spkiSha256 !== revocation.signer.spkiSha256)
    throw notAllowed(revocation.signer);
}
