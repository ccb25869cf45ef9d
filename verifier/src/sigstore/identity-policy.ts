/**
 * The one identity policy for keyless (Fulcio) signers, wherever a publisher is named by who
 * it is rather than by a key: `verify bundle`, `verify release`, the log's `--trust-identity`,
 * an enclave's pinned publishers. Flags and meanings are cosign's:
 *
 *  - `--certificate-identity ID`: some subject alternative name equals ID **exactly**;
 *  - `--certificate-identity-regexp RE`: some SAN matches RE as a whole (the pattern is
 *    anchored here as `^(?:RE)$`; cosign's own match is unanchored, a documented foot-gun, so
 *    a cosign pattern that relied on that is refused rather than silently widened);
 *  - `--certificate-oidc-issuer URL`: the issuer extension equals URL exactly;
 *  - `--certificate-github-workflow-{repository,ref,sha,trigger,name}`: read from the current
 *    Fulcio extensions (1.12 source repository URI, 1.14 ref, 1.13 digest, 1.20 build trigger);
 *    the deprecated GitHub ones (1.5, 1.6, 1.3, 1.2) must agree when present. The workflow name
 *    exists only as deprecated 1.4, which is what is read for `-name`.
 *
 * No user string is ever handed to a library that treats strings as patterns (@sigstore/verify's
 * policy does, unanchored): matching happens here, on values read from the DER by
 * fulcio-identity.ts. A refusal is IDENTITY_MISMATCH with evidence {field (the flag name), oid,
 * expected, actual}. Pure.
 */
import { VerifierError } from '../errors.ts';
import { FULCIO_OID, fulcioIdentity, type FulcioField, type FulcioIdentity } from './fulcio-identity.ts';

export interface IdentityPolicy {
  /** Exact SAN (cosign --certificate-identity). Exactly one of identity / identityRegexp. */
  identity?: string;
  /** Whole-string regular expression over the SAN (cosign --certificate-identity-regexp). */
  identityRegexp?: string;
  /** Exact OIDC issuer (cosign --certificate-oidc-issuer). Required. */
  issuer: string;
  githubWorkflowRepository?: string;
  githubWorkflowRef?: string;
  githubWorkflowSha?: string;
  githubWorkflowTrigger?: string;
  githubWorkflowName?: string;
}

/** The policy fields with their cosign flag names (what refusals and usage errors name). */
export const IDENTITY_POLICY_FLAGS = {
  identity: 'certificate-identity',
  identityRegexp: 'certificate-identity-regexp',
  issuer: 'certificate-oidc-issuer',
  githubWorkflowRepository: 'certificate-github-workflow-repository',
  githubWorkflowRef: 'certificate-github-workflow-ref',
  githubWorkflowSha: 'certificate-github-workflow-sha',
  githubWorkflowTrigger: 'certificate-github-workflow-trigger',
  githubWorkflowName: 'certificate-github-workflow-name',
} as const satisfies Record<keyof IdentityPolicy, string>;

const MAX_POLICY_STRING = 1024;

/** The GitHub workflow fields: the current Fulcio field, and the deprecated one that must agree. */
const WORKFLOW_FIELDS: Array<[keyof IdentityPolicy, FulcioField | undefined, FulcioField]> = [
  ['githubWorkflowRepository', 'sourceRepositoryUri', 'githubWorkflowRepository'],
  ['githubWorkflowRef', 'sourceRepositoryRef', 'githubWorkflowRef'],
  ['githubWorkflowSha', 'sourceRepositoryDigest', 'githubWorkflowSha'],
  ['githubWorkflowTrigger', 'buildTrigger', 'githubWorkflowTrigger'],
  ['githubWorkflowName', undefined, 'githubWorkflowName'],
];

function invalid(field: keyof IdentityPolicy, reason: string): VerifierError {
  return new VerifierError('MALFORMED', `identity policy --${IDENTITY_POLICY_FLAGS[field]}: ${reason}`, {
    field: IDENTITY_POLICY_FLAGS[field],
    reason,
  });
}

const REGEX_CACHE = new Map<string, RegExp>();
function compile(re: string): RegExp {
  let r = REGEX_CACHE.get(re);
  if (!r) {
    try {
      r = new RegExp(`^(?:${re})$`, 'u');
    } catch (e) {
      throw invalid('identityRegexp', `not a regular expression (${(e as Error).message})`);
    }
    if (REGEX_CACHE.size > 64) REGEX_CACHE.clear();
    REGEX_CACHE.set(re, r);
  }
  return r;
}

/**
 * Checks a policy's shape (from flags or a config file) and returns it with only known fields.
 * Throws MALFORMED naming the flag.
 */
export function parseIdentityPolicy(input: unknown): IdentityPolicy {
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    throw new VerifierError('MALFORMED', 'an identity policy must be an object', {});
  const o = input as Record<string, unknown>;
  for (const k of Object.keys(o))
    if (!Object.hasOwn(IDENTITY_POLICY_FLAGS, k))
      throw new VerifierError('MALFORMED', `identity policy: unknown field ${k}`, { field: k });
  const out: Partial<IdentityPolicy> = {};
  for (const k of Object.keys(IDENTITY_POLICY_FLAGS) as Array<keyof IdentityPolicy>) {
    const v = o[k];
    if (v === undefined) continue;
    if (typeof v !== 'string' || v === '' || v.length > MAX_POLICY_STRING || /[\u0000-\u001f\u007f]/.test(v))
      throw invalid(k, `must be a non-empty string of at most ${MAX_POLICY_STRING} characters`);
    out[k] = v;
  }
  if ((out.identity === undefined) === (out.identityRegexp === undefined))
    throw invalid('identity', 'give exactly one of --certificate-identity or --certificate-identity-regexp');
  if (out.issuer === undefined) throw invalid('issuer', 'required with a certificate identity');
  if (out.identityRegexp !== undefined) compile(out.identityRegexp);
  return out as IdentityPolicy;
}

function mismatch(field: keyof IdentityPolicy, oid: string | null, expected: string, actual: unknown): VerifierError {
  const flag = IDENTITY_POLICY_FLAGS[field];
  return new VerifierError('IDENTITY_MISMATCH', `the signing certificate does not match --${flag}`, {
    field: flag,
    oid,
    expected,
    actual: actual ?? null,
  });
}

/** "owner/repo" of https://host/owner/repo (anything else as it is). */
function repoPath(v: string): string {
  return /^https:\/\/[^/]+\/(.+)$/.exec(v)?.[1] ?? v;
}

/**
 * Repository: the current extension is a URI (https://github.com/owner/repo), the deprecated one
 * "owner/repo"; cosign users give "owner/repo". A full URI given must equal the URI exactly.
 */
function repositoryMatches(expected: string, actual: string, legacy: boolean): boolean {
  if (legacy) return repoPath(expected) === actual;
  return expected === actual || (!expected.includes('://') && repoPath(actual) === expected);
}

/** Applies a parsed policy to a certificate's identity. Throws IDENTITY_MISMATCH naming the field. */
export function checkIdentity(policy: IdentityPolicy, id: FulcioIdentity): void {
  const sanValues = id.sans.map((s) => s.value);
  if (policy.identity !== undefined && !sanValues.includes(policy.identity))
    throw mismatch('identity', '2.5.29.17', policy.identity, sanValues);
  if (policy.identityRegexp !== undefined) {
    const re = compile(policy.identityRegexp);
    if (!sanValues.some((v) => re.test(v)))
      throw mismatch('identityRegexp', '2.5.29.17', policy.identityRegexp, sanValues);
  }
  // Issuer: the current extension (1.8) if present, else the deprecated one (1.1); both must agree.
  const iss = id.fields.issuer ?? id.fields.issuerV1;
  if (iss !== policy.issuer) throw mismatch('issuer', FULCIO_OID.issuer, policy.issuer, iss);
  if (id.fields.issuerV1 !== undefined && id.fields.issuerV1 !== policy.issuer)
    throw mismatch('issuer', FULCIO_OID.issuerV1, policy.issuer, id.fields.issuerV1);
  for (const [field, current, legacy] of WORKFLOW_FIELDS) {
    const expected = policy[field];
    if (expected === undefined) continue;
    const cur = current ? id.fields[current] : undefined;
    const old = id.fields[legacy];
    if (cur === undefined && old === undefined)
      throw mismatch(field, current ? FULCIO_OID[current] : FULCIO_OID[legacy], expected, null);
    if (cur !== undefined) {
      const ok = field === 'githubWorkflowRepository' ? repositoryMatches(expected, cur, false) : cur === expected;
      if (!ok) throw mismatch(field, FULCIO_OID[current!], expected, cur);
    }
    if (old !== undefined) {
      const ok = field === 'githubWorkflowRepository' ? repositoryMatches(expected, old, true) : old === expected;
      if (!ok) throw mismatch(field, FULCIO_OID[legacy], expected, old);
    }
  }
}

/** Reads the certificate (DER) and applies the policy; returns what it read. */
export function checkCertificateIdentity(policy: IdentityPolicy, certDer: Uint8Array): FulcioIdentity {
  const id = fulcioIdentity(certDer);
  checkIdentity(policy, id);
  return id;
}

/**
 * The first of several pinned identities the certificate satisfies (a log's --trust-identity
 * list, an enclave's pinned publishers). With one policy its own IDENTITY_MISMATCH is thrown
 * (naming the field); with several, IDENTITY_MISMATCH names each policy's failing field.
 */
export function matchCertificateIdentity(
  policies: IdentityPolicy[],
  certDer: Uint8Array,
): { policy: IdentityPolicy; identity: FulcioIdentity } {
  if (policies.length === 0)
    throw new VerifierError('SIGNER_NOT_ALLOWED', 'no publisher identity is pinned: keyless signers are not allowed', {
      keyless: true,
    });
  const id = fulcioIdentity(certDer);
  const misses: Array<Record<string, unknown>> = [];
  for (const policy of policies) {
    try {
      checkIdentity(policy, id);
      return { policy, identity: id };
    } catch (e) {
      if (policies.length === 1 || !(e instanceof VerifierError)) throw e;
      misses.push({ policy: describeIdentityPolicy(policy), ...e.evidence });
    }
  }
  throw new VerifierError(
    'IDENTITY_MISMATCH',
    'the signing certificate matches none of the pinned publisher identities',
    {
      field: String(misses[0]?.field ?? 'certificate-identity'),
      sans: id.sans.map((s) => s.value),
      misses,
    },
  );
}

/**
 * The policy cosign's flags give, read through `get(flagName)` (e.g. parsed CLI values), or
 * undefined when none of them is set. Throws MALFORMED naming the flag.
 */
export function identityPolicyFromFlagValues(get: (flag: string) => unknown): IdentityPolicy | undefined {
  const raw: Record<string, unknown> = {};
  for (const [field, flag] of Object.entries(IDENTITY_POLICY_FLAGS)) {
    const v = get(flag);
    if (v !== undefined) raw[field] = v;
  }
  return Object.keys(raw).length === 0 ? undefined : parseIdentityPolicy(raw);
}

/** Short text for a policy (help, evidence): "ID (issuer URL)". */
export function describeIdentityPolicy(p: IdentityPolicy): string {
  return `${p.identity ?? `/${p.identityRegexp}/`} (issuer ${p.issuer})`;
}
