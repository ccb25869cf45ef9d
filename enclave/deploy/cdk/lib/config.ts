/**
 * The deployment's settings, read from CDK context and checked before anything is synthesized
 * (pure: the caller passes the context lookup and the key policy's text). Every refusal names the
 * context key and why, so `npm run synth` fails closed instead of describing a fleet that cannot
 * work: one instance, an odd enclave CPU count, an EIF without its digest, a key policy whose
 * enclave role is not this account's, a region the policy or the allowlist cannot name.
 */

/** What a context lookup returns: cdk.json "context", `-c key=value`, or undefined. */
export type ContextLookup = (key: string) => unknown;

export interface ReleaseArtefact {
  /** s3://bucket/key or https://… */
  uri: string;
  /** lowercase hex SHA-256 of the file (for the EIF: the release's logged `eif.sha256`) */
  sha256: string;
}

export interface KeycastConfig {
  account: string;
  region: string;
  partition: string;
  availabilityZones: string[];
  /** the key policy exactly as `keycast kms-policy` printed it */
  keyPolicy: Record<string, unknown>;
  /** the role the key policy attests: the parent instances' role, created by the key stack */
  enclaveRole: { arn: string; name: string; path: string };
  /** the policy names no principal that may PutKeyPolicy: it is frozen (applied with the lockout check bypassed) */
  policyFrozen: boolean;
  /** undefined: only the key stack is synthesized (first deployment, before a release exists) */
  service?: ServiceConfig;
}

export interface ServiceConfig {
  certificateArn: string;
  eif: ReleaseArtefact;
  hostBundle: ReleaseArtefact;
  logUrl: string;
  logKey: string;
  instanceType: string;
  amiId?: string;
  minCapacity: number;
  maxCapacity: number;
  enclaveCpus: number;
  enclaveMemoryMiB: number;
  storePrefix: string;
  tilesPrefix: string;
  natGateways: number;
  /** the log runs on AWS: provision its Aurora PostgreSQL, its role and security group */
  logOnAws: boolean;
  /** how long a new instance may take to open its gate and unseal before the rollout stops */
  readyTimeoutMinutes: number;
}

export class ConfigError extends Error {
  readonly key: string;
  constructor(key: string, message: string) {
    super(`context ${key}: ${message}`);
    this.name = 'ConfigError';
    this.key = key;
  }
}

const REGION_RE = /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$/;
const SHA256_RE = /^[0-9a-f]{64}$/;
const VKEY_RE = /^[^\s+]+\+[0-9a-f]{8}\+[A-Za-z0-9+/=]+$/;
const ROLE_ARN_RE = /^arn:(aws[a-z-]*):iam::(\d{12}):role\/((?:[\x21-\x2e\x30-\x7e]+\/)*)([\w+=,.@-]{1,64})$/;
const CERT_ARN_RE = /^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[0-9a-f-]{36}$/;
const PREFIX_RE = /^[a-z0-9][a-z0-9._-]{0,62}$/;
const INSTANCE_TYPE_RE = /^[a-z][a-z0-9-]*\.[0-9]*[a-z]+$/;

function str(get: ContextLookup, key: string, dflt?: string): string {
  const v = get(key);
  if (v === undefined || v === '') {
    if (dflt !== undefined) return dflt;
    throw new ConfigError(key, 'is required');
  }
  if (typeof v !== 'string') throw new ConfigError(key, 'must be a string');
  return v;
}

function int(get: ContextLookup, key: string, dflt: number, min: number, max: number): number {
  const v = get(key);
  if (v === undefined) return dflt;
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d{1,9}$/.test(v) ? Number(v) : Number.NaN;
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(key, `must be an integer in ${min}..${max}`);
  return n;
}

function bool(get: ContextLookup, key: string): boolean {
  const v = get(key);
  if (v === undefined || v === false || v === 'false') return false;
  if (v === true || v === 'true') return true;
  throw new ConfigError(key, 'must be true or false');
}

function artefact(get: ContextLookup, uriKey: string, digestKey: string): ReleaseArtefact {
  const uri = str(get, uriKey);
  if (!/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/[\x21-\x7e]+$/.test(uri) && !/^https:\/\/[\x21-\x7e]+$/.test(uri))
    throw new ConfigError(uriKey, 'must be an s3://bucket/key or https:// URI');
  if (/['"\\$`]/.test(uri)) throw new ConfigError(uriKey, 'must not contain quotes, backslashes, $ or backticks');
  const sha256 = str(get, digestKey).toLowerCase();
  if (!SHA256_RE.test(sha256)) throw new ConfigError(digestKey, 'must be 64 hex digits (SHA-256)');
  return { uri, sha256 };
}

type Statement = { Sid?: unknown; Effect?: unknown; Principal?: unknown; Action?: unknown };

/** The AWS principals of a statement, as a list. */
function principalsOf(s: Statement): string[] {
  const p = s.Principal;
  if (p === '*') return ['*'];
  if (typeof p !== 'object' || p === null) return [];
  const aws = (p as { AWS?: unknown }).AWS;
  return (Array.isArray(aws) ? aws : [aws]).filter((a): a is string => typeof a === 'string');
}

/**
 * The enclave role a `keycast kms-policy` policy names: the principal of KeycastDenyEnclaveRoleForgery
 * (always present) and of KeycastEnclaveAttested (present while a release is active) — one role ARN,
 * the same in both, in this account. The stack creates exactly that role for the parent instances.
 */
export function enclaveRoleOf(
  policy: Record<string, unknown>,
  account: string,
): { arn: string; name: string; path: string; partition: string } {
  const key = 'keyPolicyFile';
  const statements = policy.Statement;
  if (policy.Version !== '2012-10-17' || !Array.isArray(statements) || statements.length === 0)
    throw new ConfigError(key, 'is not a key policy (Version 2012-10-17 with a Statement list)');
  const bySid = (sid: string) => (statements as Statement[]).filter((s) => s.Sid === sid);
  const forgery = bySid('KeycastDenyEnclaveRoleForgery');
  if (forgery.length !== 1 || forgery[0]!.Effect !== 'Deny')
    throw new ConfigError(key, 'has no KeycastDenyEnclaveRoleForgery statement: make it with `keycast kms-policy`');
  const roles = new Set(principalsOf(forgery[0]!));
  for (const s of bySid('KeycastEnclaveAttested')) for (const r of principalsOf(s)) roles.add(r);
  if (roles.size !== 1)
    throw new ConfigError(key, `must name one enclave role, names ${roles.size}: ${[...roles].join(', ')}`);
  const arn = [...roles][0]!;
  const m = ROLE_ARN_RE.exec(arn);
  if (!m) throw new ConfigError(key, `its enclave principal ${arn} is not an IAM role ARN`);
  if (m[2] !== account)
    throw new ConfigError(key, `its enclave role ${arn} is in account ${m[2]}, the stack deploys to ${account}`);
  return { arn, partition: m[1]!, path: `/${m[3]!}`, name: m[4]! };
}

/** Reads and checks the context. `readPolicy(path)` returns the policy file's text. */
export function readConfig(get: ContextLookup, readPolicy: (path: string) => string): KeycastConfig {
  const account = str(get, 'account');
  if (!/^\d{12}$/.test(account)) throw new ConfigError('account', 'must be a 12-digit AWS account id');
  const region = str(get, 'region');
  if (!REGION_RE.test(region)) throw new ConfigError('region', `${region} is not an AWS region name`);
  const azsRaw = get('availabilityZones') ?? [`${region}a`, `${region}b`];
  const availabilityZones = typeof azsRaw === 'string' ? azsRaw.split(',') : azsRaw;
  if (
    !Array.isArray(availabilityZones) ||
    availabilityZones.length < 2 ||
    !availabilityZones.every((z) => typeof z === 'string' && z.startsWith(region) && /^[a-z0-9-]+[a-z]$/.test(z))
  )
    throw new ConfigError('availabilityZones', `must list at least two zones of ${region}`);

  const policyPath = str(get, 'keyPolicyFile');
  let keyPolicy: Record<string, unknown>;
  try {
    keyPolicy = JSON.parse(readPolicy(policyPath)) as Record<string, unknown>;
  } catch (e) {
    throw new ConfigError('keyPolicyFile', `${policyPath} is not readable JSON (${(e as Error).message})`);
  }
  if (typeof keyPolicy !== 'object' || keyPolicy === null || Array.isArray(keyPolicy))
    throw new ConfigError('keyPolicyFile', 'must hold a JSON object');
  if ('policy' in keyPolicy && 'pcr0s' in keyPolicy)
    throw new ConfigError('keyPolicyFile', 'holds `keycast kms-policy --json` output: give the policy alone');
  const { partition, ...enclaveRole } = enclaveRoleOf(keyPolicy, account);
  const policyFrozen = !(keyPolicy.Statement as Statement[]).some((s) => {
    const a = s.Action;
    return s.Effect === 'Allow' && (Array.isArray(a) ? a : [a]).includes('kms:PutKeyPolicy');
  });

  const config: KeycastConfig = {
    account,
    region,
    partition,
    availabilityZones: availabilityZones as string[],
    keyPolicy,
    enclaveRole,
    policyFrozen,
  };
  // no release named (absent or empty): the key stack alone
  if (get('eifUri') === undefined || get('eifUri') === '') return config;

  const certificateArn = str(get, 'certificateArn');
  if (!CERT_ARN_RE.test(certificateArn)) throw new ConfigError('certificateArn', 'must be an ACM certificate ARN');
  if (certificateArn.split(':')[3] !== region)
    throw new ConfigError('certificateArn', `the load balancer needs a certificate in ${region}`);
  const logUrl = str(get, 'logUrl');
  if (!/^https:\/\/[a-z0-9.-]+(:\d+)?(\/[\w./~-]*)?$/i.test(logUrl))
    throw new ConfigError('logUrl', 'must be the https:// URL of the log');
  const logKey = str(get, 'logKey');
  if (!VKEY_RE.test(logKey)) throw new ConfigError('logKey', 'must be the log’s note verifier key (NAME+HASH+KEY)');
  const instanceType = str(get, 'instanceType', 'm6i.xlarge');
  if (!INSTANCE_TYPE_RE.test(instanceType)) throw new ConfigError('instanceType', 'is not an instance type');
  const amiId = get('amiId');
  if (amiId !== undefined && (typeof amiId !== 'string' || !/^ami-[0-9a-f]{8,17}$/.test(amiId)))
    throw new ConfigError('amiId', 'must be an AMI id (ami-…)');
  const minCapacity = int(get, 'minCapacity', 2, 2, 100);
  const maxCapacity = int(get, 'maxCapacity', Math.max(4, minCapacity + 1), minCapacity + 1, 200);
  const enclaveCpus = int(get, 'enclaveCpus', 2, 2, 126);
  if (enclaveCpus % 2 !== 0)
    throw new ConfigError('enclaveCpus', 'must be even: an enclave takes whole cores (both hyperthreads)');
  const enclaveMemoryMiB = int(get, 'enclaveMemoryMiB', 4096, 1024, 512 * 1024);
  const storePrefix = str(get, 'storePrefix', 'enclave');
  const tilesPrefix = str(get, 'tilesPrefix', 'tiles');
  for (const [k, v] of [
    ['storePrefix', storePrefix],
    ['tilesPrefix', tilesPrefix],
  ] as const)
    if (!PREFIX_RE.test(v)) throw new ConfigError(k, 'must be one lowercase path segment');
  return {
    ...config,
    service: {
      certificateArn,
      eif: artefact(get, 'eifUri', 'eifSha256'),
      hostBundle: artefact(get, 'hostBundleUri', 'hostBundleSha256'),
      logUrl,
      logKey,
      instanceType,
      ...(typeof amiId === 'string' ? { amiId } : {}),
      minCapacity,
      maxCapacity,
      enclaveCpus,
      enclaveMemoryMiB,
      storePrefix,
      tilesPrefix,
      natGateways: int(get, 'natGateways', 1, 1, 3),
      logOnAws: bool(get, 'logOnAws'),
      readyTimeoutMinutes: int(get, 'readyTimeoutMinutes', 20, 5, 60),
    },
  };
}
