/**
 * The enclave folder's one error class. Everything in enclave/ that refuses or fails throws an
 * EnclaveError whose `code` is one of the closed set below, with public evidence attached
 * (PCR indexes, lengths, NSM error names, errno values). Evidence never holds secrets: no
 * private keys, no sealed material, no plaintext, never the bytes a caller asked to attest.
 *
 * The NSM_* codes mirror the device's own `ErrorCode` enum one to one
 * (aws/aws-nitro-enclaves-nsm-api src/api/mod.rs), so a caller sees the same code whether the
 * refusal came from /dev/nsm or from the simulator. Caller misuse (wrong argument types)
 * throws TypeError/RangeError. Never reuse or rename a code: the CLI prints them.
 */
import { CodedError } from '#verifier';

export const ENCLAVE_ERROR_CODES = [
  // the NSM answered Response::Error(<ErrorCode>) — one code per device ErrorCode
  'NSM_INVALID_ARGUMENT',
  'NSM_INVALID_INDEX',
  'NSM_INVALID_OPERATION',
  'NSM_INVALID_RESPONSE',
  'NSM_BUFFER_TOO_SMALL',
  'NSM_INPUT_TOO_LARGE',
  'NSM_INTERNAL_ERROR',
  'NSM_READ_ONLY_INDEX',
  // transport: the device or its answer
  'NSM_UNAVAILABLE',
  'NSM_IOCTL_FAILED',
  'NSM_REQUEST_TOO_LARGE',
  'NSM_RESPONSE_MALFORMED',
  // the simulator's test PKI
  'PKI_MALFORMED',
  'PKI_FILE_EXPOSED',
  // KMS (see common/kms/port.ts for the contract)
  'KMS_DENIED',
  'KMS_UNAVAILABLE',
  'KMS_INVALID_CIPHERTEXT',
  // the boot gate and the enclave's identity
  'CONFIG_MISSING',
  /** a test-only option (a given KDM decryption key) asked of an enclave that is not on the simulated NSM */
  'TEST_ONLY_OPTION',
  'GATE_CLOSED',
  'BUNDLE_REPLAYED',
  'BUNDLE_UNWITNESSED',
  'IDENTITY_NOT_READY',
  'IDENTITY_EXISTS',
  'SEALED_MALFORMED',
  'UNSEAL_FAILED',
  'IDENTITY_GENESIS_MISSING',
  'IDENTITY_GENESIS_INVALID',
  'IDENTITY_NOT_PENDING',
  // the enclave's and the host's HTTP boundaries
  'REQUEST_MALFORMED',
  'REQUEST_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
  'NOT_FOUND',
  'NONCE_REPLAYED',
  'ENCLAVE_UNREACHABLE',
  'LOG_UNREACHABLE',
  'LOG_ANSWER_INVALID',
  'STORE_FAILED',
  // AWS credentials the host serves the enclave (host/credentials-*.ts)
  'CREDENTIALS_UNAVAILABLE',
  'CREDENTIALS_TOKEN_REFUSED',
  // KMS requests refused for what they ask (the KMS core; dev-kms answers them as AWS error types)
  'KMS_NOT_FOUND',
  'KMS_VALIDATION',
  'KMS_MALFORMED_POLICY',
  'KMS_INCORRECT_KEY',
  'KMS_KEY_STORE',
  // KMS requests refused at dev-kms's HTTP boundary (the JSON 1.1 protocol and SigV4)
  'KMS_UNKNOWN_OPERATION',
  'KMS_SERIALIZATION',
  'KMS_UNSUPPORTED_MEDIA',
  'KMS_REQUEST_TOO_LARGE',
  'KMS_MISSING_AUTHENTICATION',
  'KMS_UNRECOGNIZED_CLIENT',
  'KMS_INVALID_SIGNATURE',
  'KMS_REPLAYED',
  // forwarding content keys to projectors (POST /v1/forward): every refusal emits nothing; what the
  // verifier decides (sealed keys, rules, the request's time, a DKDM) keeps the verifier's code
  'FORWARD_REQUEST_MALFORMED',
  'FORWARD_OVERSIZED',
  'FORWARD_REPLAY',
  'FORWARD_KEYS_MISMATCH',
  'FORWARD_RECIPIENT_INVALID',
  'FORWARD_RECIPIENT_NOT_ALLOWED',
  'FORWARD_SIGNER_VALIDITY',
  'FORWARD_FORMAT_NOT_ALLOWED',
  'FORWARD_RECIPIENT_NAME',
  'FORWARD_BUSY',
  // delivery transparency (issue 19: an enclave pinned with deliveries.required releases outputs only once logged)
  /** rules without `audit` sent to an enclave whose pinned config requires logged deliveries */
  'FORWARD_AUDIT_REQUIRED',
  /** the release route: no pending delivery for this request (never pending, expired, or already released) */
  'DELIVERY_NOT_PENDING',
  /** the log's answer does not prove this delivery's leaf under a checkpoint signed by the pinned log key */
  'DELIVERY_PROOF_INVALID',
  /** the log could not be reached (or answered 5xx) for a delivery or identity entry: retry later */
  'DELIVERY_LOG_UNAVAILABLE',
  /** the log refused the delivery or identity entry (evidence: the log's status and code) */
  'DELIVERY_LOG_REFUSED',
  /** pending deliveries already hold as much memory as the enclave allows: retry */
  'DELIVERY_PENDING_FULL',
] as const;

export type EnclaveErrorCode = (typeof ENCLAVE_ERROR_CODES)[number];

export type { Evidence } from '#verifier';

export class EnclaveError extends CodedError<EnclaveErrorCode> {
  override readonly name = 'EnclaveError';
}

export function isEnclaveError(e: unknown, code?: EnclaveErrorCode): e is EnclaveError {
  return e instanceof EnclaveError && (code === undefined || e.code === code);
}
