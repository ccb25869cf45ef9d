/**
 * `kms-policy check`: an auditor's reading of a KMS key policy (pure; any IAM policy JSON, not
 * only the subset dev-kms runs). A statement is a finding when an Allow reaches a decrypt path
 * — Decrypt, GenerateDataKey*, ReEncrypt*, DeriveSharedSecret, or CreateGrant (a grant hands
 * Decrypt on without conditions) — through Action wildcards (`kms:*`, `*`, `kms:Gen*` …) or
 * NotAction, unless it holds a RecipientAttestation condition that cannot be sidestepped:
 *
 *   error UNCONDITIONED_DECRYPT  no RecipientAttestation condition at all (the default `kms:*` root grant)
 *   error BYPASSABLE_CONDITION   the only attestation conditions are …IfExists, ForAnyValue/ForAllValues,
 *                                Not/Like operators or Null: a request without a Recipient still passes
 *   error NOT_A_MEASUREMENT      a condition value is not a 96-hex PCR (or is all zero: debug mode)
 *   error ANY_PRINCIPAL          "*" or NotPrincipal on a decrypt path: PCR0s are public, so anyone
 *                                running the logged image in their own account would be let in
 *   error UNATTESTED_ENCRYPT     Encrypt allowed without a sound attestation condition: its holder (the
 *                                enclave role's credentials sit on the parent instance) makes a
 *                                CiphertextBlob for a data key of its choosing and seals an identity of
 *                                its choosing, which an attested enclave would then unseal
 *   error ENCLAVE_ROLE_ADMINISTERS the enclave role (named with `enclaveRoles`, or any principal of an
 *                                attested Allow) — or "*", or its account — may CreateGrant or
 *                                PutKeyPolicy: the host holding its credentials hands itself what the
 *                                attestation condition withholds
 *   warning POLICY_REWRITE       the statement grants PutKeyPolicy: its holders can rewrite all this
 *   error MALFORMED              not a policy document
 * Each finding carries the statement index and Sid, the decrypt actions it reaches and the
 * principals — public evidence only.
 */
import { wildcard } from './policy.ts';

export interface PolicyFinding {
  severity: 'error' | 'warning';
  code:
    | 'UNCONDITIONED_DECRYPT'
    | 'BYPASSABLE_CONDITION'
    | 'NOT_A_MEASUREMENT'
    | 'ANY_PRINCIPAL'
    | 'UNATTESTED_ENCRYPT'
    | 'ENCLAVE_ROLE_ADMINISTERS'
    | 'POLICY_REWRITE'
    | 'MALFORMED';
  statement: number | null;
  sid: string | null;
  message: string;
  actions?: string[];
  principals?: unknown;
}

const DECRYPT_ACTIONS = [
  'kms:Decrypt',
  'kms:GenerateDataKey',
  'kms:GenerateDataKeyWithoutPlaintext',
  'kms:GenerateDataKeyPair',
  'kms:GenerateDataKeyPairWithoutPlaintext',
  'kms:ReEncryptFrom',
  'kms:ReEncryptTo',
  'kms:DeriveSharedSecret',
  'kms:CreateGrant',
];
const ATTESTATION_KEY = /^kms:recipientattestation:(imagesha384|pcr([0-9]|[12][0-9]|3[01]))$/;
const SAFE_OPERATORS = new Set(['stringequals', 'stringequalsignorecase']);
const PCR_RE = /^[0-9a-f]{96}$/i;

/** Actions that must never reach the enclave role: each lets its holder around the attestation. */
const ENCLAVE_ROLE_FORBIDDEN = ['kms:CreateGrant', 'kms:PutKeyPolicy'];

const list = (v: unknown): unknown[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

function reached(s: Record<string, unknown>, actions: readonly string[] = DECRYPT_ACTIONS): string[] {
  const patterns = list(s.Action ?? s.NotAction).filter((a): a is string => typeof a === 'string');
  const named = (a: string) => patterns.some((p) => wildcard(p, a, true));
  return actions.filter((a) => (s.NotAction !== undefined ? !named(a) : named(a)));
}

function awsPrincipals(s: Record<string, unknown>): string[] {
  const p = s.Principal;
  if (p === '*') return ['*'];
  if (!p || typeof p !== 'object') return [];
  return list((p as Record<string, unknown>).AWS).filter((x): x is string => typeof x === 'string');
}

/** Does the statement's principal include `role` ("*", NotPrincipal, the role itself, or its account)? */
function reachesRole(s: Record<string, unknown>, role: string): boolean {
  if (anyPrincipal(s)) return true;
  const account = /^arn:aws[a-z-]*:(?:iam|sts)::(\d{12}):/.exec(role)?.[1];
  return awsPrincipals(s).some(
    (p) =>
      p === role ||
      (account !== undefined && (p === account || /^arn:aws[a-z-]*:iam::(\d{12}):root$/.exec(p)?.[1] === account)),
  );
}

function anyPrincipal(s: Record<string, unknown>): boolean {
  if (s.NotPrincipal !== undefined) return true;
  const p = s.Principal;
  if (p === '*') return true;
  if (p && typeof p === 'object') return Object.values(p).some((v) => list(v).includes('*'));
  return false;
}

/** The attestation conditions of a statement: which are sound, which are bypassable, which values are not PCRs. */
function attestation(cond: unknown): { sound: number; bypassable: string[]; badValues: string[] } {
  const out = { sound: 0, bypassable: [] as string[], badValues: [] as string[] };
  if (!cond || typeof cond !== 'object') return out;
  for (const [op, block] of Object.entries(cond)) {
    if (!block || typeof block !== 'object') continue;
    for (const [key, values] of Object.entries(block)) {
      if (!ATTESTATION_KEY.test(key.toLowerCase())) continue;
      const vals = list(values);
      if (!SAFE_OPERATORS.has(op.toLowerCase()) || vals.length === 0) {
        out.bypassable.push(`${op}:${key}`);
        continue;
      }
      const bad = vals.filter((v) => typeof v !== 'string' || !PCR_RE.test(v) || /^0+$/.test(v));
      if (bad.length > 0) out.badValues.push(...bad.map((v) => `${key}=${String(v).slice(0, 100)}`));
      else out.sound++;
    }
  }
  return out;
}

export interface PolicyCheckOptions {
  /** the enclave role ARN(s); the principals of every attested Allow count as enclave roles too */
  enclaveRoles?: readonly string[];
}

export function checkKmsKeyPolicy(text: string, opts: PolicyCheckOptions = {}): PolicyFinding[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return [{ severity: 'error', code: 'MALFORMED', statement: null, sid: null, message: 'the policy is not JSON' }];
  }
  const stmts =
    doc && typeof doc === 'object' && !Array.isArray(doc) ? list((doc as Record<string, unknown>).Statement) : [];
  if (stmts.length === 0)
    return [
      { severity: 'error', code: 'MALFORMED', statement: null, sid: null, message: 'the policy has no Statement' },
    ];
  const findings: PolicyFinding[] = [];
  const roles = new Set(opts.enclaveRoles ?? []);
  for (const raw of stmts) {
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) continue;
    const s = raw as Record<string, unknown>;
    if (s.Effect === 'Allow' && reached(s).length > 0 && attestation(s.Condition).sound > 0)
      for (const p of awsPrincipals(s)) if (p !== '*') roles.add(p);
  }
  stmts.forEach((raw, i) => {
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
      findings.push({
        severity: 'error',
        code: 'MALFORMED',
        statement: i,
        sid: null,
        message: `statement ${i} is not an object`,
      });
      return;
    }
    const s = raw as Record<string, unknown>;
    const base = {
      statement: i,
      sid: typeof s.Sid === 'string' ? s.Sid : null,
      principals: s.Principal ?? { NotPrincipal: s.NotPrincipal },
    };
    if (s.Effect !== 'Allow') return;
    const patterns = list(s.Action ?? s.NotAction).filter((a): a is string => typeof a === 'string');
    const rewrites =
      s.NotAction !== undefined
        ? !patterns.some((p) => wildcard(p, 'kms:PutKeyPolicy', true))
        : patterns.some((p) => wildcard(p, 'kms:PutKeyPolicy', true));
    if (rewrites)
      findings.push({
        severity: 'warning',
        code: 'POLICY_REWRITE',
        ...base,
        message: 'grants PutKeyPolicy: these principals can rewrite the policy, attestation conditions included',
      });
    const a = attestation(s.Condition);
    const via = s.NotAction !== undefined ? 'through NotAction' : 'through Action';
    const forbidden = reached(s, ENCLAVE_ROLE_FORBIDDEN);
    const role = [...roles].find((r) => reachesRole(s, r));
    if (forbidden.length > 0 && role !== undefined)
      findings.push({
        severity: 'error',
        code: 'ENCLAVE_ROLE_ADMINISTERS',
        ...base,
        actions: forbidden,
        message: `allows ${forbidden.join(', ')} to the enclave role ${role} (${via}): the host holding its credentials can grant itself decryption or rewrite the policy`,
      });
    if (reached(s, ['kms:Encrypt']).length > 0 && a.sound === 0)
      findings.push({
        severity: 'error',
        code: 'UNATTESTED_ENCRYPT',
        ...base,
        actions: ['kms:Encrypt'],
        message: `allows kms:Encrypt ${via} without a RecipientAttestation condition: its holder can seal an enclave identity of its own choosing under this key`,
      });
    const actions = reached(s);
    if (actions.length === 0) return;
    if (a.bypassable.length > 0 && a.sound === 0 && a.badValues.length === 0)
      findings.push({
        severity: 'error',
        code: 'BYPASSABLE_CONDITION',
        ...base,
        actions,
        message: `RecipientAttestation condition(s) ${a.bypassable.join(', ')} let a request without a Recipient pass; use StringEqualsIgnoreCase`,
      });
    if (a.badValues.length > 0)
      findings.push({
        severity: 'error',
        code: 'NOT_A_MEASUREMENT',
        ...base,
        actions,
        message: `condition values are not release measurements: ${a.badValues.join(', ')}`,
      });
    if (a.sound === 0 && a.bypassable.length === 0 && a.badValues.length === 0) {
      findings.push({
        severity: 'error',
        code: 'UNCONDITIONED_DECRYPT',
        ...base,
        actions,
        message: `allows ${actions.join(', ')} ${via} without any kms:RecipientAttestation condition`,
      });
    }
    if (anyPrincipal(s))
      findings.push({
        severity: 'error',
        code: 'ANY_PRINCIPAL',
        ...base,
        actions,
        message:
          'a decrypt path open to any principal: anyone running a logged image in their own AWS account would pass the attestation condition',
      });
  });
  return findings;
}
