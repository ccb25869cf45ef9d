/**
 * @keycast/enclave — the enclave side. Public entry for cli/, test/ and bench/.
 * The Nitro Security Module: one `Nsm` interface, two backends (the real /dev/nsm device and a
 * faithful simulator), and the byte-exact NSM API codec they share.
 */
export { EnclaveError, ENCLAVE_ERROR_CODES, isEnclaveError } from './src/errors.ts';
export type { EnclaveErrorCode } from './src/errors.ts';
export { NSM_ERROR_NAMES, NSM_DIGESTS, NSM_LIMITS } from './src/nsm/types.ts';
export type {
  Nsm,
  NsmTransport,
  NsmDescription,
  PcrDescription,
  AttestationRequest,
  NsmErrorName,
  NsmDigest,
} from './src/nsm/types.ts';
export { encodeRequest, decodeRequest, encodeResponse, decodeResponse, NsmDecodeError } from './src/nsm/codec.ts';
export type { NsmRequest, NsmResponse } from './src/nsm/codec.ts';
export { NsmClient } from './src/nsm/client.ts';
export {
  openDeviceNsm,
  DeviceTransport,
  loadKoffiIoctl,
  encodeNsmRaw,
  decodeNsmRaw,
  NSM_DEVICE_PATH,
  NSM_IOCTL_RAW,
  NSM_RAW_SIZE,
} from './src/nsm/device.ts';
export type { IoctlFfi, NsmRaw } from './src/nsm/device.ts';
export { PcrBank, extendDigest, measureContent, MAX_PCRS, BOOT_LOCKED_PCRS } from './src/nsm/pcr-bank.ts';
export type { BootPcrs } from './src/nsm/pcr-bank.ts';
export { SimulatedNsm, SimulatorTransport, SIM_RANDOM_BYTES } from './src/nsm/simulator.ts';
export type { SimulatedNsmOptions } from './src/nsm/simulator.ts';
export { launchPcrs, eifPcrsToIndexMap } from './src/nsm/boot-pcrs.ts';
export type { EifPcrs, LaunchOptions } from './src/nsm/boot-pcrs.ts';
export { issueAttestationDocument } from './src/nsm/attestation.ts';
export type { DocumentInput } from './src/nsm/attestation.ts';
export { TestPki, createTestPki, renewTestPki, LIFETIME_MS } from './src/nsm/test-pki.ts';
export type { TestPkiOptions, Issued } from './src/nsm/test-pki.ts';
export { exportTestPki, importTestPki, TEST_PKI_FORMAT } from './src/nsm/test-pki-json.ts';
export type { TestPkiJson, KeyExport } from './src/nsm/test-pki-json.ts';
// KMS (the port the runtime uses, the core dev-kms serves, key storage, key policies)
export { KEY_ENCRYPTION_ALGORITHM } from './src/kms/port.ts';
export type { KmsPort, RecipientCall, DataKeyForRecipient } from './src/kms/port.ts';
export { KmsCore } from './src/kms/core.ts';
export type {
  KmsCoreOptions,
  KeyMetadata,
  CreateKeyInput,
  GenerateDataKeyInput,
  DecryptInput,
} from './src/kms/core.ts';
export { MemoryKmsPort, memoryKms } from './src/kms/memory.ts';
export { MemoryKeyStore, UUID_RE } from './src/kms/store.ts';
export type { KeyStore, StoredKey } from './src/kms/store.ts';
export { DirectoryKeyStore } from './src/kms/directory-store.ts';
export { parseKeyPolicy, evaluatePolicy, wildcard, MAX_POLICY_BYTES } from './src/kms/policy.ts';
export type { KeyPolicy, Statement, Condition, RequestContext } from './src/kms/policy.ts';
export { IMAGE_SHA384, pcrConditionKey, verifyRecipient } from './src/kms/recipient.ts';
export type { RecipientInput, VerifiedRecipient } from './src/kms/recipient.ts';
export type { EncryptionContext } from './src/kms/blob.ts';
export { AwsKmsPort, kmsClientConfig } from './src/kms/aws.ts';
export type { AwsKmsOptions } from './src/kms/aws.ts';
export { buildDevKmsApp, DEV_KMS_BODY_LIMIT, JSON_11 } from './src/kms/dev-kms/app.ts';
export type { DevKmsAppOptions } from './src/kms/dev-kms/app.ts';
export { serveDevKms } from './src/kms/dev-kms/serve.ts';
export type { ServeDevKmsOptions } from './src/kms/dev-kms/serve.ts';
export type { Credential as DevKmsCredential } from './src/kms/dev-kms/sigv4.ts';
export { KMS_ERRORS } from './src/kms/dev-kms/statuses.ts';
export { buildKmsKeyPolicy, DECRYPT_PATHS, ADMIN_ACTIONS, ENCLAVE_ROLE_DENIED } from './src/kms/policy-build.ts';
export type { KmsPolicyInput } from './src/kms/policy-build.ts';
export { checkKmsKeyPolicy } from './src/kms/policy-check.ts';
export type { PolicyFinding, PolicyCheckOptions } from './src/kms/policy-check.ts';
export { activeReleases } from './src/kms/active-releases.ts';
export type { ActiveReleases } from './src/kms/active-releases.ts';
// the enclave runtime: boot sequence, gate keeper, identity, HTTP API
export { bootEnclave, readPcrs, MEASURED_PCRS } from './src/runtime/boot.ts';
export type { BootOptions, BootedEnclave } from './src/runtime/boot.ts';
export { Gatekeeper } from './src/runtime/gatekeeper.ts';
export type { GateState, GatekeeperOptions } from './src/runtime/gatekeeper.ts';
export { buildEnclaveApp } from './src/runtime/server.ts';
export { IdentityKeeper, sealedDigest } from './src/identity/keeper.ts';
export type { StoredIdentity, Established, IdentityKeeperDeps } from './src/identity/keeper.ts';
export { generateIdentity, publicIdentity } from './src/identity/keys.ts';
export type { IdentityKeys, PublicIdentity } from './src/identity/keys.ts';
export { sealIdentity, unsealIdentity, sealedVersion, MAX_SEALED_BYTES } from './src/identity/seal.ts';
export type { UnsealedIdentity } from './src/identity/seal.ts';
export { ENCLAVE_HTTP_STATUS, toHttpError } from './src/http/errors.ts';
// forwarding: ST 430-2 signer chain (first boot) and projector test PKIs
export {
  rsa2048,
  createSignerChain,
  exportSignerChain,
  importSignerChain,
  createProjectorPki,
} from './src/forward/pki.ts';
export type {
  SignerChain,
  SignerChainOptions,
  SignerChainJson,
  ProjectorPki,
  ProjectorPkiOptions,
} from './src/forward/pki.ts';
// forwarding core: open and check a forward request, then deliver KDMs (or raw ciphertexts) and sign the receipt
export {
  FORMAT_NAMES,
  MAX_FORWARD_RECIPIENTS,
  MAX_FORWARD_INTERMEDIATES,
  validateForwardRequest,
  forwardRequestDigest,
  openForwardRequest,
} from './src/forward/request.ts';
export type { ForwardRequest, ForwardFormat, OpenContext, OpenedForward } from './src/forward/request.ts';
export { MAX_CERTIFICATE_TEXT, checkRecipients, rulesRoots } from './src/forward/recipients.ts';
export type { Recipient } from './src/forward/recipients.ts';
export { MemoryReplayGuard } from './src/forward/replay.ts';
export { openDkdm } from './src/forward/dkdm-open.ts';
export type { DkdmInput, DkdmContext } from './src/forward/dkdm-open.ts';
export type { ReplayGuard } from './src/forward/replay.ts';
export {
  checkSignerValidity,
  forwardRange,
  receiptFor,
  signForwardReceipt,
  forward,
  wipe,
} from './src/forward/engine.ts';
export type { Delivery, ForwardHooks, ForwardKeys, ForwardOutput, ForwardResult } from './src/forward/engine.ts';
// AWS credentials for the enclave: the host's IMDSv2 reader and container-credentials endpoint
export { ImdsCredentials, parseRoleCredentials } from './src/host/credentials-imds.ts';
export type { CredentialSource, RoleCredentials, ImdsOptions } from './src/host/credentials-imds.ts';
export { CREDENTIALS_PATH, startCredentialsServer } from './src/host/credentials-server.ts';
export type { CredentialsServer, CredentialsServerOptions } from './src/host/credentials-server.ts';
export { CREDENTIALS_TOKEN_ROUTE } from './src/runtime/credentials-token-route.ts';
export { formatMetrics, freshSecondsLeft, relayedEnclave, METRICS_CONTENT_TYPE } from './src/host/metrics.ts';
export { EnclaveMetrics } from './src/runtime/metrics.ts';
