/**
 * The KMS key policy Keycast recommends, built from the active releases the log proves (pure):
 *
 *  - KeycastEnclaveAttested: the enclave role may Decrypt and GenerateDataKey only with a
 *    Recipient whose verified attestation has PCR0 (`kms:RecipientAttestation:ImageSha384`,
 *    StringEqualsIgnoreCase) equal to one of the active releases;
 *  - KeycastDenyUnattested: everyone — admins, the account root, IAM policies, grants — is
 *    explicitly denied Decrypt, GenerateDataKey*, ReEncrypt*, DeriveSharedSecret, CreateGrant and
 *    Encrypt unless that same condition holds (an explicit deny beats every allow);
 *  - KeycastDenyEnclaveRoleForgery: the enclave role — whose credentials the parent instance
 *    holds — is explicitly denied Encrypt, ReEncrypt*, CreateGrant and PutKeyPolicy, so even an
 *    allow added later (in the key policy, an IAM policy or a grant) cannot let the host make a
 *    CiphertextBlob for a data key of its choosing, hand itself a grant, or rewrite the policy;
 *    and everyone is denied Encrypt (it never carries a Recipient, so nothing attested needs it);
 *  - KeycastKeyAdministration: admins describe, tag, enable/disable, rotate, schedule deletion,
 *    but get no cryptographic operation, no grants and no PutKeyPolicy;
 *  - KeycastPolicyUpdates (only with policy admins): PutKeyPolicy, so the policy can follow the
 *    log. Whoever holds it can rewrite the policy — a visible, CloudTrail-logged act that
 *    `kms-policy check` on the live policy catches. Without policy admins the policy is frozen
 *    and must be applied with BypassPolicyLockoutSafetyCheck.
 * With no active release there is no allow at all.
 */
import { EnclaveError } from '../common/errors.ts';
import { IMAGE_SHA384 } from './recipient.ts';

export interface KmsPolicyInput {
  /** PCR0 of each active logged release (96 hex) */
  pcr0s: readonly string[];
  enclaveRoleArn: string;
  adminArns: readonly string[];
  /** principals allowed PutKeyPolicy (default none: the policy is frozen) */
  policyAdminArns?: readonly string[];
  /** default "*" (in a key policy, the key itself) */
  keyArn?: string;
}

export const DECRYPT_PATHS = [
  'kms:Decrypt',
  'kms:GenerateDataKey*',
  'kms:ReEncrypt*',
  'kms:DeriveSharedSecret',
  'kms:CreateGrant',
] as const;
/** What the enclave role must never do: each lets the host around the attestation condition. */
export const ENCLAVE_ROLE_DENIED = ['kms:Encrypt', 'kms:ReEncrypt*', 'kms:CreateGrant', 'kms:PutKeyPolicy'] as const;
export const ADMIN_ACTIONS = [
  'kms:DescribeKey',
  'kms:GetKeyPolicy',
  'kms:ListKeyPolicies',
  'kms:GetKeyRotationStatus',
  'kms:ListResourceTags',
  'kms:ListGrants',
  'kms:TagResource',
  'kms:UntagResource',
  'kms:UpdateKeyDescription',
  'kms:EnableKey',
  'kms:DisableKey',
  'kms:EnableKeyRotation',
  'kms:DisableKeyRotation',
  'kms:RevokeGrant',
  'kms:ScheduleKeyDeletion',
  'kms:CancelKeyDeletion',
  'kms:CreateAlias',
  'kms:UpdateAlias',
  'kms:DeleteAlias',
] as const;

const ARN_RE = /^arn:aws[a-z-]*:iam::\d{12}:(role|user)\/[\x21-\x7e]{1,512}$/;
const PCR_RE = /^[0-9a-f]{96}$/;

export function buildKmsKeyPolicy(i: KmsPolicyInput): Record<string, unknown> {
  const bad = (message: string, evidence: Record<string, unknown>) =>
    new EnclaveError('KMS_VALIDATION', message, evidence);
  const pcr0s = [...new Set(i.pcr0s.map((p) => String(p).toLowerCase()))].sort();
  for (const p of pcr0s)
    if (!PCR_RE.test(p) || /^0+$/.test(p))
      throw bad('every PCR0 must be 96 hex digits and not all zero (debug mode)', { pcr0: p.slice(0, 100) });
  for (const a of [i.enclaveRoleArn, ...i.adminArns, ...(i.policyAdminArns ?? [])])
    if (!ARN_RE.test(a))
      throw bad('principals must be IAM role or user ARNs (never an account root or "*")', {
        principal: String(a).slice(0, 200),
      });
  if (i.adminArns.length === 0) throw bad('name at least one administrator', {});
  if (i.adminArns.includes(i.enclaveRoleArn) || (i.policyAdminArns ?? []).includes(i.enclaveRoleArn))
    throw bad('the enclave role must not also administer the key', { principal: i.enclaveRoleArn });
  const resource = i.keyArn ?? '*';
  const statements: Record<string, unknown>[] = [];
  if (pcr0s.length > 0) {
    statements.push({
      Sid: 'KeycastEnclaveAttested',
      Effect: 'Allow',
      Principal: { AWS: i.enclaveRoleArn },
      Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
      Resource: resource,
      Condition: { StringEqualsIgnoreCase: { [IMAGE_SHA384]: pcr0s } },
    });
    statements.push({
      Sid: 'KeycastDenyUnattested',
      Effect: 'Deny',
      Principal: '*',
      Action: [...DECRYPT_PATHS, 'kms:Encrypt'],
      Resource: resource,
      Condition: { StringNotEqualsIgnoreCase: { [IMAGE_SHA384]: pcr0s } },
    });
  } else {
    statements.push({
      Sid: 'KeycastDenyUnattested',
      Effect: 'Deny',
      Principal: '*',
      Action: [...DECRYPT_PATHS, 'kms:Encrypt'],
      Resource: resource,
    });
  }
  statements.push({
    Sid: 'KeycastDenyEnclaveRoleForgery',
    Effect: 'Deny',
    Principal: { AWS: i.enclaveRoleArn },
    Action: [...ENCLAVE_ROLE_DENIED],
    Resource: resource,
  });
  statements.push({
    Sid: 'KeycastKeyAdministration',
    Effect: 'Allow',
    Principal: { AWS: [...i.adminArns] },
    Action: [...ADMIN_ACTIONS],
    Resource: resource,
  });
  if ((i.policyAdminArns ?? []).length > 0)
    statements.push({
      Sid: 'KeycastPolicyUpdates',
      Effect: 'Allow',
      Principal: { AWS: [...i.policyAdminArns!] },
      Action: ['kms:PutKeyPolicy', 'kms:GetKeyPolicy'],
      Resource: resource,
    });
  return { Version: '2012-10-17', Id: 'keycast-attested-releases', Statement: statements };
}
