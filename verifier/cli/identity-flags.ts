/**
 * cosign's certificate-identity flags, shared by every command that names a keyless publisher
 * (`verify bundle`, `verify release`, `monitor`), and the public-good trust root that
 * @sigstore/tuf ships in its seeds (read offline, pinned by digest). The decision itself is
 * #verifier's identity-policy.ts; this only reads flags and files.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import {
  IDENTITY_POLICY_FLAGS,
  VerifierError,
  parseIdentityPolicy,
  parseTrustedRoot,
  type IdentityPolicy,
} from '../index.ts';
import { readInput } from './io.ts';
import { str, usageError, type Options, type Values } from './flags.ts';

export const IDENTITY_OPTIONS = {
  'certificate-identity': { type: 'string' },
  'certificate-identity-regexp': { type: 'string' },
  'certificate-oidc-issuer': { type: 'string' },
  'certificate-github-workflow-repository': { type: 'string' },
  'certificate-github-workflow-ref': { type: 'string' },
  'certificate-github-workflow-sha': { type: 'string' },
  'certificate-github-workflow-trigger': { type: 'string' },
  'certificate-github-workflow-name': { type: 'string' },
  'trusted-root': { type: 'string' },
} as const satisfies Options;

export const IDENTITY_HELP = `  --certificate-identity ID
                        the keyless signer's certificate SAN must equal ID exactly
  --certificate-identity-regexp RE
                        …or match RE as a whole (anchored: ^(?:RE)$, unlike cosign's unanchored match)
  --certificate-oidc-issuer URL
                        the certificate's OIDC issuer must equal URL exactly (required with an identity)
  --certificate-github-workflow-repository OWNER/REPO, -ref REF, -sha SHA, -trigger EVENT, -name NAME
                        GitHub Actions fields, read from the current Fulcio extensions
  --trusted-root FILE   Sigstore trusted_root.json (default: the public-good root @sigstore/tuf ships)`;

/** The identity policy the flags give, or undefined when none of them is set. Usage errors name the flag. */
export function identityPolicyFromFlags(v: Values): IdentityPolicy | undefined {
  const raw: Record<string, string> = {};
  for (const [field, flag] of Object.entries(IDENTITY_POLICY_FLAGS)) {
    const s = str(v, flag);
    if (s !== undefined) raw[field] = s;
  }
  if (Object.keys(raw).length === 0) return undefined;
  try {
    return parseIdentityPolicy(raw);
  } catch (e) {
    if (e instanceof VerifierError) throw usageError(e.message);
    throw e;
  }
}

/**
 * SHA-256 of the public-good trusted_root.json in @sigstore/tuf's seeds.json (4.0.2). A new
 * package version that changes it fails closed (TRUSTED_ROOT_INVALID) until this pin is reviewed
 * and updated: the trust root of every keyless verification must not move silently.
 */
export const PUBLIC_GOOD_TRUSTED_ROOT_SHA256 = '6494e21ea73fa7ee769f85f57d5a3e6a08725eae1e38c755fc3517c9e6bc0b66';
const SEED_MIRROR = 'https://tuf-repo-cdn.sigstore.dev';

/** The bytes of the public-good trusted root from @sigstore/tuf's seeds (offline), checked against the pin. */
export function publicGoodTrustedRootBytes(): Uint8Array {
  const req = createRequire(import.meta.url);
  const seeds = JSON.parse(readFileSync(req.resolve('@sigstore/tuf/seeds.json'), 'utf8')) as Record<
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
  return bytes;
}

/** --trusted-root FILE, or the pinned public-good root. */
export function trustedRootFromFlags(v: Values): Record<string, unknown> {
  const file = str(v, 'trusted-root');
  return parseTrustedRoot(
    file === undefined ? publicGoodTrustedRootBytes() : readInput(file, 1024 * 1024, '--trusted-root'),
  );
}
