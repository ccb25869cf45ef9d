/**
 * The real KmsPort: `@aws-sdk/client-kms` against AWS KMS or `keycast dev-kms` (port.ts
 * contract). The same code serves both; only the options differ:
 *  - dev-kms: `endpoint: 'http://127.0.0.1:4600'` (any region, any credentials it knows);
 *  - AWS from inside an enclave: no endpoint override is needed for the URL — the request goes
 *    to `https://kms.<region>.amazonaws.com` — but the enclave has no network, so `bridge`
 *    makes every TLS connection dial the local end of the vsock bridge (`socat
 *    TCP-LISTEN:8443,bind=127.0.0.1,fork VSOCK-CONNECT:3:8000` in the enclave, `vsock-proxy
 *    8000 kms.<region>.amazonaws.com 443` on the host) while SNI and certificate checks stay
 *    on the real KMS host name. TLS ends in the enclave; the host sees ciphertext only.
 * One attempt per call (no silent retries), bounded connect and request time. Refusals map to
 * KMS_DENIED / KMS_INVALID_CIPHERTEXT / KMS_NOT_FOUND / KMS_VALIDATION / KMS_INCORRECT_KEY;
 * anything else, and any answer carrying a Plaintext or lacking CiphertextForRecipient, is
 * KMS_UNAVAILABLE. Errors carry the AWS error name and status, never request bytes.
 */
import { Agent } from 'node:https';
import { connect } from 'node:tls';
import {
  DecryptCommand,
  GenerateDataKeyCommand,
  KMSClient,
  type DecryptCommandOutput,
  type GenerateDataKeyCommandOutput,
  type KMSClientConfig,
} from '@aws-sdk/client-kms';
import { EnclaveError, type EnclaveErrorCode } from '../../common/errors.ts';
import {
  KEY_ENCRYPTION_ALGORITHM,
  type DataKeyForRecipient,
  type KmsPort,
  type RecipientCall,
} from '../../common/kms/port.ts';

export interface AwsKmsOptions {
  region: string;
  /** e.g. http://127.0.0.1:4600 for dev-kms; default: the region's KMS endpoint */
  endpoint?: string;
  /** default: the SDK's credential chain (environment, …) */
  credentials?: KMSClientConfig['credentials'];
  /** dial this local TCP end of a vsock bridge for every connection (AWS from inside an enclave) */
  bridge?: { host: string; port: number };
  /** default 5 s */
  connectTimeoutMs?: number;
  /** default 15 s */
  requestTimeoutMs?: number;
}

const BY_AWS_NAME: Record<string, EnclaveErrorCode> = {
  AccessDeniedException: 'KMS_DENIED',
  InvalidCiphertextException: 'KMS_INVALID_CIPHERTEXT',
  NotFoundException: 'KMS_NOT_FOUND',
  ValidationException: 'KMS_VALIDATION',
  IncorrectKeyException: 'KMS_INCORRECT_KEY',
};

/** The KMSClient options for `o` (exported for tests and for callers who need the client itself). */
export function kmsClientConfig(o: AwsKmsOptions): KMSClientConfig {
  const connectionTimeout = o.connectTimeoutMs ?? 5_000;
  const requestTimeout = o.requestTimeoutMs ?? 15_000;
  let httpsAgent: Agent | undefined;
  if (o.bridge) {
    const { host, port } = o.bridge;
    const servername = o.endpoint ? new URL(o.endpoint).hostname : `kms.${o.region}.amazonaws.com`;
    httpsAgent = new Agent({ keepAlive: true });
    (httpsAgent as unknown as { createConnection: typeof connect }).createConnection = ((
      opts: object,
      cb?: () => void,
    ) => connect({ ...opts, host, port, servername }, cb)) as typeof connect;
  }
  return {
    region: o.region,
    maxAttempts: 1,
    ...(o.endpoint ? { endpoint: o.endpoint } : {}),
    ...(o.credentials ? { credentials: o.credentials } : {}),
    requestHandler: { connectionTimeout, requestTimeout, ...(httpsAgent ? { httpsAgent } : {}) },
  };
}

function mapError(e: unknown): EnclaveError {
  const name = typeof (e as { name?: unknown })?.name === 'string' ? (e as { name: string }).name : 'Error';
  const status = (e as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode ?? null;
  const code = BY_AWS_NAME[name] ?? 'KMS_UNAVAILABLE';
  const message =
    typeof (e as { message?: unknown })?.message === 'string' ? (e as { message: string }).message.slice(0, 300) : '';
  return new EnclaveError(code, `KMS answered ${name}${status ? ` (HTTP ${status})` : ''}: ${message}`, {
    awsError: name,
    httpStatus: status,
  });
}

function recipient(call: RecipientCall) {
  if (typeof call.keyId !== 'string' || !(call.attestationDocument instanceof Uint8Array))
    throw new TypeError('KmsPort: keyId string and attestationDocument bytes are required');
  return { AttestationDocument: call.attestationDocument, KeyEncryptionAlgorithm: KEY_ENCRYPTION_ALGORITHM } as const;
}

function sealedOnly(r: { Plaintext?: Uint8Array; CiphertextForRecipient?: Uint8Array; KeyId?: string }): {
  keyId: string;
  ciphertextForRecipient: Uint8Array;
} {
  if (r.Plaintext && r.Plaintext.length > 0) {
    r.Plaintext.fill(0);
    throw new EnclaveError('KMS_UNAVAILABLE', 'KMS answered with a plaintext despite the Recipient; refused');
  }
  if (
    !(r.CiphertextForRecipient instanceof Uint8Array) ||
    r.CiphertextForRecipient.length === 0 ||
    typeof r.KeyId !== 'string'
  )
    throw new EnclaveError('KMS_UNAVAILABLE', 'KMS answered without CiphertextForRecipient or KeyId');
  return { keyId: r.KeyId, ciphertextForRecipient: r.CiphertextForRecipient };
}

export class AwsKmsPort implements KmsPort {
  readonly client: KMSClient;

  constructor(o: AwsKmsOptions | KMSClient) {
    this.client = o instanceof KMSClient ? o : new KMSClient(kmsClientConfig(o));
  }

  async generateDataKey(call: RecipientCall): Promise<DataKeyForRecipient> {
    const Recipient = recipient(call);
    let r: GenerateDataKeyCommandOutput;
    try {
      r = await this.client.send(new GenerateDataKeyCommand({ KeyId: call.keyId, KeySpec: 'AES_256', Recipient }));
    } catch (e) {
      throw mapError(e);
    }
    const out = sealedOnly(r);
    if (!(r.CiphertextBlob instanceof Uint8Array) || r.CiphertextBlob.length === 0)
      throw new EnclaveError('KMS_UNAVAILABLE', 'KMS answered without CiphertextBlob');
    return { keyId: out.keyId, ciphertextBlob: r.CiphertextBlob, ciphertextForRecipient: out.ciphertextForRecipient };
  }

  async decrypt(
    call: RecipientCall & { ciphertextBlob: Uint8Array },
  ): Promise<{ keyId: string; ciphertextForRecipient: Uint8Array }> {
    const Recipient = recipient(call);
    if (!(call.ciphertextBlob instanceof Uint8Array))
      throw new TypeError('KmsPort.decrypt: ciphertextBlob must be bytes');
    let r: DecryptCommandOutput;
    try {
      r = await this.client.send(
        new DecryptCommand({ KeyId: call.keyId, CiphertextBlob: call.ciphertextBlob, Recipient }),
      );
    } catch (e) {
      throw mapError(e);
    }
    return sealedOnly(r);
  }

  destroy(): void {
    this.client.destroy();
  }
}
