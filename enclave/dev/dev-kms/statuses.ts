/**
 * dev-kms's one table from EnclaveError codes to the AWS error type (`__type`) and HTTP status
 * KMS answers with. Errors not in the table are internal (500 KMSInternalException, no detail).
 */
import type { EnclaveErrorCode } from '../../common/errors.ts';

export const KMS_ERRORS: Partial<Record<EnclaveErrorCode, { type: string; status: number }>> = {
  KMS_DENIED: { type: 'AccessDeniedException', status: 400 },
  KMS_NOT_FOUND: { type: 'NotFoundException', status: 400 },
  KMS_INVALID_CIPHERTEXT: { type: 'InvalidCiphertextException', status: 400 },
  KMS_VALIDATION: { type: 'ValidationException', status: 400 },
  KMS_MALFORMED_POLICY: { type: 'MalformedPolicyDocumentException', status: 400 },
  KMS_INCORRECT_KEY: { type: 'IncorrectKeyException', status: 400 },
  KMS_UNKNOWN_OPERATION: { type: 'UnknownOperationException', status: 400 },
  KMS_SERIALIZATION: { type: 'SerializationException', status: 400 },
  KMS_UNSUPPORTED_MEDIA: { type: 'UnsupportedMediaTypeException', status: 415 },
  KMS_REQUEST_TOO_LARGE: { type: 'RequestEntityTooLargeException', status: 413 },
  KMS_MISSING_AUTHENTICATION: { type: 'MissingAuthenticationTokenException', status: 403 },
  KMS_UNRECOGNIZED_CLIENT: { type: 'UnrecognizedClientException', status: 400 },
  KMS_INVALID_SIGNATURE: { type: 'InvalidSignatureException', status: 400 },
  KMS_REPLAYED: { type: 'InvalidSignatureException', status: 400 },
  KMS_KEY_STORE: { type: 'KMSInternalException', status: 500 },
  KMS_UNAVAILABLE: { type: 'KMSInternalException', status: 503 },
};
