/** `keycast kms-policy` (build a key policy from the log's active releases) and `keycast kms-policy check`. */
import { readFileSync } from 'node:fs';
import { parseFlags, positiveInt, requireFlag, urlOption, usageError, type Command } from '#flag-kit';
import {
  LogClient,
  isVerifierError,
  parseTrustedKey,
  parseTrustedRoot,
  publicGoodTrustedRoot,
  requirePublisher,
  type KeylessPublishers,
} from '#verifier';
import { IDENTITY_POLICY_FLAGS, identityPolicyFromFlagValues } from '#verifier/build';
import { activeReleases, type ReleaseFilter } from './active-releases.ts';
import { buildKmsKeyPolicy } from './policy-build.ts';
import { checkKmsKeyPolicy } from './policy-check.ts';
import { vkeyArg } from '../common/cli-flags.ts';

const MAX_POLICY_FILE = 1024 * 1024;

const IDENTITY_FLAGS = Object.fromEntries(
  Object.values(IDENTITY_POLICY_FLAGS).map((f) => [f, { type: 'string' as const }]),
) as Record<(typeof IDENTITY_POLICY_FLAGS)[keyof typeof IDENTITY_POLICY_FLAGS], { type: 'string' }>;

/**
 * --publisher KEY.pem… and/or cosign's --certificate-identity flags (with --trusted-root): only
 * releases by these publishers may decrypt. None given: every release the log admitted.
 */
function publisherFilter(v: Record<string, unknown>): ReleaseFilter | undefined {
  const keys = ((v.publisher as string[] | undefined) ?? []).map((f) => {
    try {
      return parseTrustedKey(readFileSync(f, 'utf8'));
    } catch (e) {
      if (!isVerifierError(e)) throw e;
      throw usageError(`--publisher ${f}: not a PEM public key`);
    }
  });
  let policy: ReturnType<typeof identityPolicyFromFlagValues>;
  try {
    policy = identityPolicyFromFlagValues((flag) => v[flag]);
  } catch (e) {
    if (!isVerifierError(e)) throw e;
    throw usageError(e.message);
  }
  if (!policy && v['trusted-root'] !== undefined) throw usageError('--trusted-root needs --certificate-identity');
  if (!policy && keys.length === 0) return undefined;
  const keyless: KeylessPublishers | undefined = policy
    ? {
        policies: [policy],
        trustedRoot:
          typeof v['trusted-root'] === 'string'
            ? parseTrustedRoot(readFileSync(v['trusted-root']))
            : publicGoodTrustedRoot(),
      }
    : undefined;
  return (entry) => {
    try {
      requirePublisher(entry, keys, keyless);
      return null;
    } catch (e) {
      if (!isVerifierError(e)) throw e;
      const field = typeof e.evidence.field === 'string' ? e.evidence.field : undefined;
      return field ? { code: e.code, field } : { code: e.code };
    }
  };
}

const build: Command = {
  path: ['kms-policy'],
  summary: 'Print a KMS key policy that lets only the logged, active releases decrypt (read through the verified log)',
  help: `Usage: keycast kms-policy (--log URL --log-key VKEY [--witness VKEY ...] [--witness-threshold K] [--max-checkpoint-age S] | --pcr0 HEX ...)
                          --enclave-role ARN --admin ARN [--admin ARN ...] [--policy-admin ARN ...] [--key-arn ARN] [--json]
                          [--publisher KEY.pem ... | --certificate-identity ID --certificate-oidc-issuer URL
                           [--certificate-github-workflow-{repository,ref,sha,trigger,name} V] [--trusted-root FILE]]

Reads every entry of the log through verified reads (the checkpoint under --log-key, cosigned by the
--witness keys; each entry bundle checked against tiles under that checkpoint), takes the PCR0 of each
release not retired by a logged revocation, and prints a key policy where:
  - the enclave role may Decrypt / GenerateDataKey only with a Recipient attestation whose PCR0
    (kms:RecipientAttestation:ImageSha384, StringEqualsIgnoreCase) is one of them;
  - everyone else — admins, the account root, IAM policies, grants — is explicitly DENIED every
    decrypt path (Decrypt, GenerateDataKey*, ReEncrypt*, DeriveSharedSecret, CreateGrant) and Encrypt
    without it;
  - the enclave role (its credentials are on the parent instance) is explicitly DENIED Encrypt,
    ReEncrypt*, CreateGrant and PutKeyPolicy, so no later allow lets the host forge an identity;
  - admins administer the key (describe, tag, enable/disable, rotate, delete) with no crypto and no grants;
  - --policy-admin principals may PutKeyPolicy (to follow the log). Without them the policy is frozen:
    apply it with --bypass-policy-lockout-safety-check, and a new release needs a new key.
With --publisher and/or --certificate-identity (cosign's identity flags, exact; the same policy as
keycast verify release), only releases by those publishers count: any other release the log holds
is listed as excluded (with the code and the field that differs) and cannot decrypt.
--pcr0 HEX (repeatable) gives the releases directly instead of reading a log.
With --json, prints {policy, releases, checkpoint}; otherwise the policy JSON alone.
Then: aws kms put-key-policy --key-id KEY --policy-name default --policy file://policy.json`,
  async run(args) {
    const { values: v } = parseFlags(args, {
      log: urlOption(),
      'log-key': { type: 'string' },
      witness: { type: 'string', multiple: true },
      'witness-threshold': { type: 'string' },
      'max-checkpoint-age': { type: 'string' },
      pcr0: { type: 'string', multiple: true },
      'enclave-role': { type: 'string' },
      admin: { type: 'string', multiple: true },
      'policy-admin': { type: 'string', multiple: true },
      'key-arn': { type: 'string' },
      publisher: { type: 'string', multiple: true },
      'trusted-root': { type: 'string' },
      ...IDENTITY_FLAGS,
    });
    const pcr0Flags = (v.pcr0 as string[] | undefined) ?? [];
    if ((v.log === undefined) === (pcr0Flags.length === 0))
      throw usageError('give either --log URL --log-key VKEY or --pcr0 HEX');
    const enclaveRoleArn = requireFlag(v, 'enclave-role');
    const adminArns = (v.admin as string[] | undefined) ?? [];
    if (adminArns.length === 0) throw usageError('--admin ARN is required');
    if (pcr0Flags.length > 0 && (v.publisher !== undefined || v['certificate-identity'] !== undefined))
      throw usageError('--publisher and --certificate-identity filter the releases read from --log, not --pcr0');
    let pcr0s = pcr0Flags.map((p) => p.toLowerCase());
    let provenance: Record<string, unknown> = { source: '--pcr0' };
    if (typeof v.log === 'string') {
      const witnesses = ((v.witness as string[] | undefined) ?? []).map(vkeyArg);
      if (witnesses.length === 0 && (v['witness-threshold'] !== undefined || v['max-checkpoint-age'] !== undefined))
        throw usageError('--witness-threshold and --max-checkpoint-age need --witness');
      const threshold = positiveInt(v['witness-threshold'], 'witness-threshold', witnesses.length);
      if (threshold > witnesses.length && witnesses.length > 0)
        throw usageError(`--witness-threshold ${threshold} exceeds the ${witnesses.length} witnesses given`);
      const client = new LogClient({
        url: v.log,
        fetch: globalThis.fetch,
        logKey: vkeyArg(requireFlag(v, 'log-key')),
        ...(witnesses.length > 0
          ? {
              witnessPolicy: { witnesses, threshold },
              maxAgeSeconds: positiveInt(v['max-checkpoint-age'], 'max-checkpoint-age', 3600),
            }
          : {}),
        onRetry: (e) =>
          process.stderr.write(
            `kms-policy: the log is busy or unreachable (${e.reason}); retry ${e.attempt} of ${e.retries}\n`,
          ),
      });
      const a = await activeReleases(client, publisherFilter(v));
      pcr0s = a.pcr0s;
      provenance = {
        source: client.url.href,
        checkpoint: a.checkpoint.note,
        cosigners: a.checkpoint.cosigners,
        releases: a.releases,
        revocations: a.revocations,
      };
      process.stderr.write(
        `kms-policy: ${a.releases.length} release(s), ${a.revocations.length} revocation(s) in ${a.checkpoint.checkpoint.origin} at size ${a.checkpoint.checkpoint.size}; ${pcr0s.length} active PCR0(s)\n`,
      );
    }
    const policy = buildKmsKeyPolicy({
      pcr0s,
      enclaveRoleArn,
      adminArns,
      policyAdminArns: (v['policy-admin'] as string[] | undefined) ?? [],
      ...(typeof v['key-arn'] === 'string' ? { keyArn: v['key-arn'] } : {}),
    });
    console.log(v.json ? JSON.stringify({ policy, pcr0s, ...provenance }, null, 2) : JSON.stringify(policy, null, 2));
    return 0;
  },
};

const check: Command = {
  path: ['kms-policy', 'check'],
  summary:
    'Audit a KMS key policy: flag every statement that reaches a decrypt path without a RecipientAttestation condition',
  help: `Usage: keycast kms-policy check POLICY.json|- [--enclave-role ARN ...] [--json]      (- reads the policy from stdin)

Flags each Allow statement that reaches Decrypt, GenerateDataKey*, ReEncrypt*, DeriveSharedSecret or
CreateGrant (directly, through wildcards such as kms:* or *, or through NotAction) unless it carries a
kms:RecipientAttestation:ImageSha384 / PCR<n> condition with StringEquals[IgnoreCase] on real PCR
values; each Allow of Encrypt without that condition (its holder could seal an identity of its own
choosing); and each Allow of CreateGrant or PutKeyPolicy that reaches the enclave role (named by
--enclave-role, or the principal of any attested Allow; "*" and its account reach it too).
Codes: UNCONDITIONED_DECRYPT, BYPASSABLE_CONDITION (…IfExists, ForAnyValue, Not/Like, Null),
NOT_A_MEASUREMENT (not 96 hex, or all-zero debug PCRs), ANY_PRINCIPAL ("*" or NotPrincipal),
UNATTESTED_ENCRYPT, ENCLAVE_ROLE_ADMINISTERS, MALFORMED; warning POLICY_REWRITE (who may PutKeyPolicy).
Exit 0 when no error is found, 1 otherwise; --json prints {ok, findings}.
Check a live key with: aws kms get-key-policy --key-id KEY --policy-name default --query Policy --output text > p.json`,
  async run(args) {
    const { values: v, positionals } = parseFlags(args, { 'enclave-role': { type: 'string', multiple: true } }, 1);
    const file = positionals[0];
    if (!file) throw usageError('POLICY.json is required');
    const buf = readFileSync(file === '-' ? 0 : file); // - reads stdin (aws kms get-key-policy … | keycast kms-policy check -)
    if (buf.length > MAX_POLICY_FILE) throw usageError(`${file} is larger than 1 MiB`);
    const enclaveRoles = (v['enclave-role'] as string[] | undefined) ?? [];
    for (const r of enclaveRoles)
      if (!/^arn:aws[a-z-]*:(iam|sts)::\d{12}:[\x21-\x7e]+$/.test(r))
        throw usageError('--enclave-role must be an IAM ARN');
    const findings = checkKmsKeyPolicy(buf.toString('utf8'), { enclaveRoles });
    const ok = !findings.some((f) => f.severity === 'error');
    if (v.json) console.log(JSON.stringify({ ok, findings }, null, 2));
    else {
      for (const f of findings)
        console.log(
          `${f.severity} ${f.code} statement ${f.statement ?? '-'}${f.sid ? ` (${f.sid})` : ''}: ${f.message}`,
        );
      console.log(
        ok
          ? `ok: no statement reaches a decrypt path or Encrypt without a RecipientAttestation condition, none lets the enclave role grant or rewrite${findings.length ? ` (${findings.length} warning(s))` : ''}`
          : `refused: ${findings.filter((f) => f.severity === 'error').length} finding(s)`,
      );
    }
    return ok ? 0 : 1;
  },
};

export const kmsPolicyCommands: Command[] = [build, check];
