/**
 * A KMS: symmetric keys with key policies, and the operations the enclave and its operator
 * need (CreateKey, GenerateDataKey, Encrypt, Decrypt — with and without Recipient —,
 * GetKeyPolicy, PutKeyPolicy). Transport-free: dev-kms puts the KMS JSON 1.1 protocol in front
 * of it, memory.ts the KmsPort. Every call names the calling principal (an IAM ARN).
 *
 * Order of every call: validate the input shape (KMS_VALIDATION), resolve the key
 * (KMS_NOT_FOUND), verify a Recipient's attestation (KMS_DENIED / KMS_VALIDATION), evaluate
 * the key policy with the request's condition keys (KMS_DENIED), and only then touch key
 * material. With a Recipient, the answer carries `ciphertextForRecipient` (CMS for the
 * attested RSA key) and never the plaintext. Nothing secret goes into an error.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { sealForRecipient } from '#verifier/build';
import { EnclaveError } from '../../common/errors.ts';
import { evaluatePolicy, parseKeyPolicy } from '../../kms-policy/policy.ts';
import { blobKeyId, openBlob, sealBlob, MAX_PLAINTEXT, type EncryptionContext } from './blob.ts';
import { verifyRecipient, type RecipientInput, type VerifiedRecipient } from '../../kms-policy/recipient.ts';
import { UUID_RE, type KeyStore, type StoredKey } from './store.ts';

export interface KmsCoreOptions {
  store: KeyStore;
  /** default us-east-1 */
  region?: string;
  /** twelve digits; default 111122223333 */
  accountId?: string;
  /** DER roots trusted for Recipient attestation documents; default: the AWS Nitro root only */
  trustedRoots?: readonly Uint8Array[];
  /** default 5 minutes */
  maxAttestationAgeMs?: number;
  /** ms since the epoch; default Date.now */
  now?: () => number;
}

export interface KeyMetadata {
  AWSAccountId: string;
  KeyId: string;
  Arn: string;
  CreationDate: number;
  Enabled: true;
  Description: string;
  KeyUsage: 'ENCRYPT_DECRYPT';
  KeyState: 'Enabled';
  Origin: 'AWS_KMS';
  KeyManager: 'CUSTOMER';
  KeySpec: 'SYMMETRIC_DEFAULT';
  CustomerMasterKeySpec: 'SYMMETRIC_DEFAULT';
  EncryptionAlgorithms: ['SYMMETRIC_DEFAULT'];
  MultiRegion: false;
}

export interface CreateKeyInput {
  description?: string;
  policy?: string;
  keyUsage?: string;
  keySpec?: string;
  bypassPolicyLockoutSafetyCheck?: boolean;
}

export interface GenerateDataKeyInput {
  keyId: string;
  keySpec?: string;
  numberOfBytes?: number;
  encryptionContext?: EncryptionContext;
  recipient?: RecipientInput;
}

export interface DecryptInput {
  ciphertextBlob: Uint8Array;
  keyId?: string;
  encryptionContext?: EncryptionContext;
  encryptionAlgorithm?: string;
  recipient?: RecipientInput;
}

/** Plaintext xor ciphertextForRecipient: exactly one is set. */
export interface SecretOut {
  plaintext?: Uint8Array;
  ciphertextForRecipient?: Uint8Array;
}

/** KMS's limit on a CiphertextBlob */
const MAX_CIPHERTEXT_BLOB = 6144;
const MAX_CONTEXT_PAIRS = 64;
const MAX_CONTEXT_BYTES = 8192;
const MAX_DESCRIPTION = 8192;

const validation = (message: string, evidence: Record<string, unknown> = {}): EnclaveError =>
  new EnclaveError('KMS_VALIDATION', message, evidence);

function checkContext(c: EncryptionContext | undefined): EncryptionContext {
  if (c === undefined) return {};
  if (c === null || typeof c !== 'object' || Array.isArray(c))
    throw validation('EncryptionContext must be a map of strings');
  const entries = Object.entries(c);
  let bytes = 0;
  for (const [k, v] of entries) {
    if (typeof v !== 'string' || k.length === 0)
      throw validation('EncryptionContext keys must be non-empty and values strings');
    bytes += Buffer.byteLength(k) + Buffer.byteLength(v);
  }
  if (entries.length > MAX_CONTEXT_PAIRS || bytes > MAX_CONTEXT_BYTES)
    throw validation('EncryptionContext is too large', { pairs: entries.length, bytes });
  return c;
}

function dataKeyBytes(i: GenerateDataKeyInput): number {
  if ((i.keySpec === undefined) === (i.numberOfBytes === undefined))
    throw validation('give exactly one of KeySpec and NumberOfBytes');
  if (i.keySpec !== undefined) {
    if (i.keySpec === 'AES_256') return 32;
    if (i.keySpec === 'AES_128') return 16;
    throw validation('KeySpec must be AES_256 or AES_128', { keySpec: String(i.keySpec).slice(0, 32) });
  }
  const n = i.numberOfBytes!;
  if (!Number.isInteger(n) || n < 1 || n > 1024) throw validation('NumberOfBytes must be 1..1024');
  return n;
}

export class KmsCore {
  readonly region: string;
  readonly accountId: string;
  private readonly store: KeyStore;
  private readonly trustedRoots: readonly Uint8Array[] | undefined;
  private readonly maxAgeMs: number;
  private readonly now: () => number;

  constructor(o: KmsCoreOptions) {
    this.store = o.store;
    this.region = o.region ?? 'us-east-1';
    this.accountId = o.accountId ?? '111122223333';
    if (!/^[a-z]{2}(-[a-z]+)+-\d$/.test(this.region)) throw new RangeError('KmsCore: region must look like us-east-1');
    if (!/^\d{12}$/.test(this.accountId)) throw new RangeError('KmsCore: accountId must be twelve digits');
    this.trustedRoots = o.trustedRoots;
    this.maxAgeMs = o.maxAttestationAgeMs ?? 5 * 60_000;
    this.now = o.now ?? Date.now;
  }

  arnOf(keyId: string): string {
    return `arn:aws:kms:${this.region}:${this.accountId}:key/${keyId}`;
  }

  /** The policy AWS gives a key created without one: the account root gets kms:*. */
  defaultPolicy(): string {
    return JSON.stringify({
      Version: '2012-10-17',
      Id: 'key-default-1',
      Statement: [
        {
          Sid: 'Enable IAM User Permissions',
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${this.accountId}:root` },
          Action: 'kms:*',
          Resource: '*',
        },
      ],
    });
  }

  private metadata(k: StoredKey): KeyMetadata {
    return {
      AWSAccountId: this.accountId,
      KeyId: k.keyId,
      Arn: k.arn,
      CreationDate: k.creationDate,
      Enabled: true,
      Description: k.description,
      KeyUsage: 'ENCRYPT_DECRYPT',
      KeyState: 'Enabled',
      Origin: 'AWS_KMS',
      KeyManager: 'CUSTOMER',
      KeySpec: 'SYMMETRIC_DEFAULT',
      CustomerMasterKeySpec: 'SYMMETRIC_DEFAULT',
      EncryptionAlgorithms: ['SYMMETRIC_DEFAULT'],
      MultiRegion: false,
    };
  }

  /** A key by UUID or key ARN of this region and account (aliases are not supported). */
  private async resolve(keyId: unknown): Promise<StoredKey> {
    if (typeof keyId !== 'string' || keyId.length === 0 || keyId.length > 2048)
      throw validation('KeyId must be a non-empty string');
    const prefix = `arn:aws:kms:${this.region}:${this.accountId}:key/`;
    const id = keyId.startsWith(prefix) ? keyId.slice(prefix.length) : keyId;
    const k = UUID_RE.test(id) ? await this.store.get(id) : undefined;
    if (!k)
      throw new EnclaveError(
        'KMS_NOT_FOUND',
        'no such key in this region and account (dev-kms takes key ids and key ARNs, not aliases)',
        { keyId: keyId.slice(0, 256) },
      );
    return k;
  }

  private authorize(principal: string, key: StoredKey, action: string, context: Record<string, string>): void {
    const r = evaluatePolicy(parseKeyPolicy(key.policy), { principal, action, resource: key.arn, context });
    if (r.decision !== 'allow')
      throw new EnclaveError('KMS_DENIED', `${principal} is not allowed ${action} on this key: ${r.reason}`, {
        principal,
        action,
        keyArn: key.arn,
        reason: r.reason,
      });
  }

  private recipient(r: RecipientInput | undefined): VerifiedRecipient | null {
    if (r === undefined) return null;
    if (!(r.attestationDocument instanceof Uint8Array) || r.attestationDocument.length === 0)
      throw validation('Recipient.AttestationDocument is required');
    return verifyRecipient(r, {
      ...(this.trustedRoots ? { trustedRoots: this.trustedRoots } : {}),
      maxAgeMs: this.maxAgeMs,
      at: new Date(this.now()),
    });
  }

  private conditionKeys(
    principal: string,
    context: EncryptionContext,
    rec: VerifiedRecipient | null,
  ): Record<string, string> {
    const out: Record<string, string> = {
      'aws:PrincipalArn': principal,
      'kms:CallerAccount': /::(\d{12}):/.exec(principal)?.[1] ?? '',
    };
    for (const [k, v] of Object.entries(context)) out[`kms:EncryptionContext:${k}`] = v;
    return rec ? { ...out, ...rec.conditionKeys } : out;
  }

  /** Hands the secret out: sealed for the attested key when there is a Recipient, else plain. */
  private release(secret: Uint8Array, rec: VerifiedRecipient | null): SecretOut {
    if (!rec) return { plaintext: secret };
    try {
      return { ciphertextForRecipient: sealForRecipient(secret, rec.publicKey) };
    } finally {
      secret.fill(0);
    }
  }

  async createKey(principal: string, i: CreateKeyInput = {}): Promise<KeyMetadata> {
    if ((i.keyUsage ?? 'ENCRYPT_DECRYPT') !== 'ENCRYPT_DECRYPT')
      throw validation('dev-kms keys are ENCRYPT_DECRYPT only');
    if ((i.keySpec ?? 'SYMMETRIC_DEFAULT') !== 'SYMMETRIC_DEFAULT')
      throw validation('dev-kms keys are SYMMETRIC_DEFAULT only');
    const description = i.description ?? '';
    if (typeof description !== 'string' || description.length > MAX_DESCRIPTION)
      throw validation('Description must be a string of at most 8192 characters');
    const keyId = randomUUID();
    const policy = i.policy ?? this.defaultPolicy();
    this.checkPolicy(principal, this.arnOf(keyId), policy, i.bypassPolicyLockoutSafetyCheck === true);
    const key: StoredKey = {
      keyId,
      arn: this.arnOf(keyId),
      creationDate: Math.floor(this.now() / 1000),
      description,
      material: new Uint8Array(randomBytes(32)),
      policy,
    };
    await this.store.put(key);
    return this.metadata(key);
  }

  /** Parses the policy and, unless bypassed, refuses one that would lock the caller out of PutKeyPolicy. */
  private checkPolicy(principal: string, arn: string, policy: string, bypass: boolean): void {
    const parsed = parseKeyPolicy(policy);
    if (bypass) return;
    const r = evaluatePolicy(parsed, {
      principal,
      action: 'kms:PutKeyPolicy',
      resource: arn,
      context: this.conditionKeys(principal, {}, null),
    });
    if (r.decision !== 'allow')
      throw new EnclaveError(
        'KMS_MALFORMED_POLICY',
        'the new key policy would not allow the caller to change it again (set BypassPolicyLockoutSafetyCheck to insist)',
        { principal },
      );
  }

  async generateDataKey(
    principal: string,
    i: GenerateDataKeyInput,
  ): Promise<{ keyId: string; ciphertextBlob: Uint8Array } & SecretOut> {
    const n = dataKeyBytes(i);
    const context = checkContext(i.encryptionContext);
    const key = await this.resolve(i.keyId);
    const rec = this.recipient(i.recipient);
    this.authorize(principal, key, 'kms:GenerateDataKey', this.conditionKeys(principal, context, rec));
    const dataKey = new Uint8Array(randomBytes(n));
    const ciphertextBlob = sealBlob(key.material, key.keyId, dataKey, context);
    return { keyId: key.arn, ciphertextBlob, ...this.release(dataKey, rec) };
  }

  async encrypt(
    principal: string,
    i: { keyId: string; plaintext: Uint8Array; encryptionContext?: EncryptionContext },
  ): Promise<{ keyId: string; ciphertextBlob: Uint8Array }> {
    if (!(i.plaintext instanceof Uint8Array) || i.plaintext.length === 0 || i.plaintext.length > MAX_PLAINTEXT)
      throw validation(`Plaintext must be 1..${MAX_PLAINTEXT} bytes`);
    const context = checkContext(i.encryptionContext);
    const key = await this.resolve(i.keyId);
    this.authorize(principal, key, 'kms:Encrypt', this.conditionKeys(principal, context, null));
    return { keyId: key.arn, ciphertextBlob: sealBlob(key.material, key.keyId, i.plaintext, context) };
  }

  async decrypt(principal: string, i: DecryptInput): Promise<{ keyId: string } & SecretOut> {
    if (
      !(i.ciphertextBlob instanceof Uint8Array) ||
      i.ciphertextBlob.length === 0 ||
      i.ciphertextBlob.length > MAX_CIPHERTEXT_BLOB
    )
      throw validation(`CiphertextBlob must be 1..${MAX_CIPHERTEXT_BLOB} bytes`);
    if ((i.encryptionAlgorithm ?? 'SYMMETRIC_DEFAULT') !== 'SYMMETRIC_DEFAULT')
      throw validation('EncryptionAlgorithm must be SYMMETRIC_DEFAULT');
    const context = checkContext(i.encryptionContext);
    const key = await this.resolve(blobKeyId(i.ciphertextBlob));
    if (i.keyId !== undefined && (await this.resolve(i.keyId)).keyId !== key.keyId)
      throw new EnclaveError('KMS_INCORRECT_KEY', 'the ciphertext was made under another key than the KeyId given', {
        keyId: String(i.keyId).slice(0, 256),
      });
    const rec = this.recipient(i.recipient);
    this.authorize(principal, key, 'kms:Decrypt', this.conditionKeys(principal, context, rec));
    return { keyId: key.arn, ...this.release(openBlob(key.material, i.ciphertextBlob, context), rec) };
  }

  async getKeyPolicy(
    principal: string,
    i: { keyId: string; policyName?: string },
  ): Promise<{ policy: string; policyName: string }> {
    if ((i.policyName ?? 'default') !== 'default')
      throw new EnclaveError('KMS_NOT_FOUND', 'the only key policy name is "default"');
    const key = await this.resolve(i.keyId);
    this.authorize(principal, key, 'kms:GetKeyPolicy', this.conditionKeys(principal, {}, null));
    return { policy: key.policy, policyName: 'default' };
  }

  async putKeyPolicy(
    principal: string,
    i: { keyId: string; policy: string; policyName?: string; bypassPolicyLockoutSafetyCheck?: boolean },
  ): Promise<void> {
    if ((i.policyName ?? 'default') !== 'default') throw validation('PolicyName must be "default"');
    if (typeof i.policy !== 'string') throw validation('Policy is required');
    const key = await this.resolve(i.keyId);
    this.authorize(principal, key, 'kms:PutKeyPolicy', this.conditionKeys(principal, {}, null));
    this.checkPolicy(principal, key.arn, i.policy, i.bypassPolicyLockoutSafetyCheck === true);
    await this.store.put({ ...key, policy: i.policy });
  }
}
