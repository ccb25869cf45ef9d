/**
 * Who may have published a release, from a studio's side: the keys it pins (`--publisher`).
 * A public-key bundle names its signer only by a hint (SHA-256 of the SPKI), so the pinned key
 * with that fingerprint is the one to verify it with; a logged entry carries its signer, which
 * must be one of the pinned keys. Keyless (certificate) bundles verify by identity instead,
 * which is not supported yet: they are refused here rather than accepted on any certificate.
 * Throws SIGNER_NOT_ALLOWED.
 */
import { VerifierError } from '../errors.ts';
import type { ParsedBundle } from './bundle.ts';
import type { ReleaseSigner } from './dsse.ts';
import type { DecodedEntry } from './leaf.ts';

/** The pinned publisher whose key the bundle's hint names. */
export function publisherForBundle(bundle: ParsedBundle, publishers: ReleaseSigner[]): ReleaseSigner {
  if (bundle.certificate !== undefined) {
    throw new VerifierError(
      'SIGNER_NOT_ALLOWED',
      'keyless (certificate) bundles are verified by signer identity, which is not supported yet',
      { keyless: true },
    );
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

/** Requires that a logged entry was signed by one of the pinned publisher keys. */
export function requirePublisher(entry: DecodedEntry, publishers: ReleaseSigner[]): ReleaseSigner {
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
