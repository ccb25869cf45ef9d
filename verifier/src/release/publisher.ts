/**
 * Who may have published a release, from a studio's side: the keys it pins (`--publisher`), or
 * the keyless identities it pins (`--certificate-identity …`, sigstore/keyless-publisher.ts).
 * A public-key bundle names its signer only by a hint (SHA-256 of the SPKI), so the pinned key
 * with that fingerprint is the one to verify it with; a logged entry carries its signer, which
 * must be one of the pinned keys, or a Fulcio certificate for one of the pinned identities.
 * A keyless bundle with no identity pinned is refused, never accepted on any certificate.
 * Throws SIGNER_NOT_ALLOWED, IDENTITY_MISMATCH (naming the field), CERT_CHAIN.
 */
import { X509Certificate } from 'node:crypto';
import { VerifierError } from '../errors.ts';
import type { ParsedBundle } from './bundle.ts';
import { certificateKey, type ReleaseSigner } from './dsse.ts';
import type { DecodedEntry } from './leaf.ts';
import { matchCertificateIdentity } from '../sigstore/identity-policy.ts';
import { keylessLeafSigner, type KeylessPublishers } from '../sigstore/keyless-publisher.ts';

function noIdentities(): VerifierError {
  return new VerifierError(
    'SIGNER_NOT_ALLOWED',
    'a keyless (certificate) release is verified by its signer identity: pin one (--certificate-identity … --certificate-oidc-issuer …)',
    { keyless: true },
  );
}

/**
 * The pinned publisher whose key the bundle's hint names, or, for a keyless bundle, its
 * certificate's key once the certificate matches a pinned identity (the chain, timestamp and
 * signature are stock verification's, run after this on the same bundle).
 */
export function publisherForBundle(
  bundle: ParsedBundle,
  publishers: ReleaseSigner[],
  keyless?: KeylessPublishers,
): ReleaseSigner {
  if (bundle.certificate !== undefined) {
    if (!keyless || keyless.policies.length === 0) throw noIdentities();
    matchCertificateIdentity(keyless.policies, bundle.certificate);
    return certificateKey(bundle.certificate);
  }
  const hit = publishers.find((p) => p.spkiSha256 === bundle.hint);
  if (!hit) {
    throw new VerifierError('SIGNER_NOT_ALLOWED', 'the bundle is not signed by a pinned publisher key', {
      hint: bundle.hint ?? null,
      publishers: publishers.map((p) => p.spkiSha256),
    });
  }
  return hit;
}

/**
 * Requires that a logged entry was signed by one of the pinned publisher keys, or (keyless) by a
 * Fulcio certificate of the trust root for one of the pinned identities.
 */
export function requirePublisher(
  entry: DecodedEntry,
  publishers: ReleaseSigner[],
  keyless?: KeylessPublishers,
): ReleaseSigner {
  if (entry.signer.certificate) {
    if (!keyless || keyless.policies.length === 0) throw noIdentities();
    keylessLeafSigner(new Uint8Array(new X509Certificate(entry.signer.pem).raw), keyless);
    return entry.signer;
  }
  const hit = publishers.find((p) => p.spkiSha256 === entry.signer.spkiSha256);
  if (!hit) {
    throw new VerifierError(
      'SIGNER_NOT_ALLOWED',
      `the ${entry.kind} is signed by key ${entry.signer.spkiSha256}, not a pinned publisher`,
      { signer: entry.signer.spkiSha256, publishers: publishers.map((p) => p.spkiSha256) },
    );
  }
  return hit;
}
