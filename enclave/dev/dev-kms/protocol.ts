/**
 * The KMS JSON 1.1 operations dev-kms answers (AWS KMS API Reference): each takes the parsed
 * request object, checks every member strictly (unknown members, wrong types, non-canonical
 * base64 → KMS_VALIDATION / KMS_SERIALIZATION), calls the KMS core as the authenticated
 * principal, and shapes the answer as KMS does (blobs base64, timestamps epoch seconds). With a
 * Recipient, `Plaintext` is absent and `CiphertextForRecipient` carries the secret.
 */
import { fromBase64, toBase64 } from '#verifier/build';
import { EnclaveError } from '../../common/errors.ts';
import type { KmsCore } from '../kms/core.ts';
import type { RecipientInput } from '../../kms-policy/recipient.ts';
import type { EncryptionContext } from '../kms/blob.ts';

type Json = Record<string, unknown>;
export type Operation = (core: KmsCore, principal: string, body: Json) => Promise<Json>;

const serialization = (message: string): EnclaveError => new EnclaveError('KMS_SERIALIZATION', message);
const validation = (message: string): EnclaveError => new EnclaveError('KMS_VALIDATION', message);

function only(body: Json, allowed: string[]): void {
  for (const k of Object.keys(body)) if (!allowed.includes(k)) throw validation(`unexpected member ${k.slice(0, 64)}`);
  if (body.DryRun === true) throw validation('DryRun is not supported by dev-kms');
  if (
    body.GrantTokens !== undefined &&
    !(
      Array.isArray(body.GrantTokens) &&
      body.GrantTokens.length <= 10 &&
      body.GrantTokens.every((g) => typeof g === 'string')
    )
  )
    throw serialization('GrantTokens must be a list of at most 10 strings');
}

function str(body: Json, name: string, max: number, required: true): string;
function str(body: Json, name: string, max: number, required?: false): string | undefined;
function str(body: Json, name: string, max: number, required = false): string | undefined {
  const v = body[name];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string')
    throw v === undefined ? validation(`${name} is required`) : serialization(`${name} must be a string`);
  if (v.length > max) throw validation(`${name} is longer than ${max}`);
  return v;
}

function bool(body: Json, name: string): boolean | undefined {
  const v = body[name];
  if (v !== undefined && typeof v !== 'boolean') throw serialization(`${name} must be a boolean`);
  return v as boolean | undefined;
}

function blob(v: unknown, name: string, max: number): Uint8Array {
  if (typeof v !== 'string')
    throw v === undefined ? validation(`${name} is required`) : serialization(`${name} must be a base64 string`);
  if (v.length > Math.ceil(max / 3) * 4) throw validation(`${name} is larger than ${max} bytes`);
  try {
    return fromBase64(v);
  } catch {
    throw serialization(`${name} is not canonical base64`);
  }
}

function context(body: Json): EncryptionContext | undefined {
  const v = body.EncryptionContext;
  if (v === undefined) return undefined;
  if (v === null || typeof v !== 'object' || Array.isArray(v) || !Object.values(v).every((x) => typeof x === 'string'))
    throw serialization('EncryptionContext must be a map of strings');
  return v as EncryptionContext;
}

function recipient(body: Json): RecipientInput | undefined {
  const v = body.Recipient;
  if (v === undefined) return undefined;
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw serialization('Recipient must be an object');
  const r = v as Json;
  for (const k of Object.keys(r))
    if (k !== 'AttestationDocument' && k !== 'KeyEncryptionAlgorithm')
      throw validation(`unexpected Recipient member ${k.slice(0, 64)}`);
  const alg = r.KeyEncryptionAlgorithm;
  if (typeof alg !== 'string') throw validation('Recipient.KeyEncryptionAlgorithm is required');
  return {
    attestationDocument: blob(r.AttestationDocument, 'Recipient.AttestationDocument', 16 * 1024),
    keyEncryptionAlgorithm: alg,
  };
}

function secret(r: { plaintext?: Uint8Array; ciphertextForRecipient?: Uint8Array }): Json {
  return r.ciphertextForRecipient
    ? { CiphertextForRecipient: toBase64(r.ciphertextForRecipient) }
    : { Plaintext: toBase64(r.plaintext!) };
}

const COMMON = ['GrantTokens', 'DryRun'];

export const OPERATIONS: Readonly<Record<string, Operation>> = Object.freeze({
  async CreateKey(core, principal, b) {
    only(b, [
      'Description',
      'Policy',
      'KeyUsage',
      'KeySpec',
      'CustomerMasterKeySpec',
      'Origin',
      'BypassPolicyLockoutSafetyCheck',
      'MultiRegion',
    ]);
    if ((b.Origin ?? 'AWS_KMS') !== 'AWS_KMS' || (b.MultiRegion ?? false) !== false)
      throw validation('dev-kms makes single-region AWS_KMS keys only');
    const spec = str(b, 'KeySpec', 64) ?? str(b, 'CustomerMasterKeySpec', 64);
    const meta = await core.createKey(principal, {
      description: str(b, 'Description', 8192),
      policy: str(b, 'Policy', 32 * 1024),
      keyUsage: str(b, 'KeyUsage', 64),
      keySpec: spec,
      bypassPolicyLockoutSafetyCheck: bool(b, 'BypassPolicyLockoutSafetyCheck'),
    });
    return { KeyMetadata: meta };
  },
  async GenerateDataKey(core, principal, b) {
    only(b, ['KeyId', 'KeySpec', 'NumberOfBytes', 'EncryptionContext', 'Recipient', ...COMMON]);
    const n = b.NumberOfBytes;
    if (n !== undefined && typeof n !== 'number') throw serialization('NumberOfBytes must be a number');
    const r = await core.generateDataKey(principal, {
      keyId: str(b, 'KeyId', 2048, true),
      keySpec: str(b, 'KeySpec', 64),
      numberOfBytes: n as number | undefined,
      encryptionContext: context(b),
      recipient: recipient(b),
    });
    return { CiphertextBlob: toBase64(r.ciphertextBlob), KeyId: r.keyId, ...secret(r) };
  },
  async Encrypt(core, principal, b) {
    only(b, ['KeyId', 'Plaintext', 'EncryptionContext', 'EncryptionAlgorithm', ...COMMON]);
    if ((b.EncryptionAlgorithm ?? 'SYMMETRIC_DEFAULT') !== 'SYMMETRIC_DEFAULT')
      throw validation('EncryptionAlgorithm must be SYMMETRIC_DEFAULT');
    const r = await core.encrypt(principal, {
      keyId: str(b, 'KeyId', 2048, true),
      plaintext: blob(b.Plaintext, 'Plaintext', 4096),
      encryptionContext: context(b),
    });
    return { CiphertextBlob: toBase64(r.ciphertextBlob), KeyId: r.keyId, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
  },
  async Decrypt(core, principal, b) {
    only(b, ['CiphertextBlob', 'EncryptionContext', 'KeyId', 'EncryptionAlgorithm', 'Recipient', ...COMMON]);
    const r = await core.decrypt(principal, {
      ciphertextBlob: blob(b.CiphertextBlob, 'CiphertextBlob', 6144),
      keyId: str(b, 'KeyId', 2048),
      encryptionContext: context(b),
      encryptionAlgorithm: str(b, 'EncryptionAlgorithm', 64),
      recipient: recipient(b),
    });
    return { KeyId: r.keyId, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT', ...secret(r) };
  },
  async GetKeyPolicy(core, principal, b) {
    only(b, ['KeyId', 'PolicyName']);
    const r = await core.getKeyPolicy(principal, {
      keyId: str(b, 'KeyId', 2048, true),
      policyName: str(b, 'PolicyName', 128),
    });
    return { Policy: r.policy, PolicyName: r.policyName };
  },
  async PutKeyPolicy(core, principal, b) {
    only(b, ['KeyId', 'Policy', 'PolicyName', 'BypassPolicyLockoutSafetyCheck']);
    await core.putKeyPolicy(principal, {
      keyId: str(b, 'KeyId', 2048, true),
      policy: str(b, 'Policy', 32 * 1024, true),
      policyName: str(b, 'PolicyName', 128),
      bypassPolicyLockoutSafetyCheck: bool(b, 'BypassPolicyLockoutSafetyCheck'),
    });
    return {};
  },
});
