/**
 * The public-good Sigstore trust root (Fulcio CAs, CT logs, Rekor logs, timestamp authorities)
 * exactly as @sigstore/tuf ships it in its seeds (seeds.json → tuf-repo-cdn.sigstore.dev →
 * targets/trusted_root.json), loaded offline through the module system like the other
 * @sigstore packages, and pinned by SHA-256: a package update that changes it fails closed
 * (TRUSTED_ROOT_INVALID) until the pin is reviewed. `--trusted-root FILE` replaces it.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { VerifierError } from '../errors.ts';
import { parseTrustedRoot } from './verify-bundle.ts';

/** SHA-256 of trusted_root.json in @sigstore/tuf 4.0.2's seeds.json. */
export const PUBLIC_GOOD_TRUSTED_ROOT_SHA256 = '6494e21ea73fa7ee769f85f57d5a3e6a08725eae1e38c755fc3517c9e6bc0b66';
const SEED_MIRROR = 'https://tuf-repo-cdn.sigstore.dev';

let cached: Uint8Array | undefined;

/** The bytes of the pinned public-good trusted_root.json. Throws TRUSTED_ROOT_INVALID. */
export function publicGoodTrustedRootBytes(): Uint8Array {
  if (cached) return cached;
  const seeds = createRequire(import.meta.url)('@sigstore/tuf/seeds.json') as Record<
    string,
    { targets?: Record<string, string> }
  >;
  const b64 = seeds[SEED_MIRROR]?.targets?.['trusted_root.json'];
  if (typeof b64 !== 'string')
    throw new VerifierError('TRUSTED_ROOT_INVALID', '@sigstore/tuf seeds.json has no trusted_root.json', {});
  const bytes = new Uint8Array(Buffer.from(b64, 'base64'));
  const digest = createHash('sha256').update(bytes).digest('hex');
  if (digest !== PUBLIC_GOOD_TRUSTED_ROOT_SHA256)
    throw new VerifierError(
      'TRUSTED_ROOT_INVALID',
      'the public-good trusted root shipped by @sigstore/tuf is not the pinned one: review it and update the pin, or pass --trusted-root',
      { expected: PUBLIC_GOOD_TRUSTED_ROOT_SHA256, actual: digest },
    );
  cached = bytes;
  return bytes;
}

/** The pinned public-good trusted root, parsed and checked. */
export function publicGoodTrustedRoot(): Record<string, unknown> {
  return parseTrustedRoot(publicGoodTrustedRootBytes());
}
