/**
 * cosign's certificate-identity flags, shared by every command that names a keyless publisher
 * (`verify bundle`, `verify release`, `monitor`), and --trusted-root (default: the pinned
 * public-good root, #verifier publicGoodTrustedRoot). The decision itself is #verifier's
 * identity-policy.ts; this only reads flags and files.
 */
import { VerifierError, parseTrustedRoot, publicGoodTrustedRoot, type IdentityPolicy } from '../index.ts';
import { identityPolicyFromFlagValues } from '../build.ts';
import { readInput } from './io.ts';
import { stringFlag as str, usageError, type FlagOptions as Options, type Flags as Values } from '../kit/flags.ts';

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
  try {
    return identityPolicyFromFlagValues((flag) => str(v, flag));
  } catch (e) {
    if (e instanceof VerifierError) throw usageError(e.message);
    throw e;
  }
}

/** --trusted-root FILE, or the pinned public-good root. */
export function trustedRootFromFlags(v: Values): Record<string, unknown> {
  const file = str(v, 'trusted-root');
  return file === undefined
    ? publicGoodTrustedRoot()
    : parseTrustedRoot(readInput(file, 1024 * 1024, '--trusted-root'));
}
