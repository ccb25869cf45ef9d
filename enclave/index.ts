/**
 * @keycast/enclave — the enclave side. Public entry for cli/, test/ and bench/.
 * The Nitro Security Module: one `Nsm` interface, two backends (the real /dev/nsm device and a
 * faithful simulator), and the byte-exact NSM API codec they share.
 */
export { EnclaveError, ENCLAVE_ERROR_CODES, isEnclaveError } from './common/errors.ts';
export type { EnclaveErrorCode } from './common/errors.ts';
export { NSM_ERROR_NAMES, NSM_DIGESTS, NSM_LIMITS } from './runtime/nsm/types.ts';
export type {
  Nsm,
  NsmTransport,
  NsmDescription,
  PcrDescription,
  AttestationRequest,
  NsmErrorName,
  NsmDigest,
} from './runtime/nsm/types.ts';
export { encodeRequest, decodeRequest, encodeResponse, decodeResponse, NsmDecodeError } from './runtime/nsm/codec.ts';
export type { NsmRequest, NsmResponse } from './runtime/nsm/codec.ts';
export { NsmClient } from './runtime/nsm/client.ts';
export {
  openDeviceNsm,
  DeviceTransport,
  loadKoffiIoctl,
  encodeNsmRaw,
  decodeNsmRaw,
  NSM_DEVICE_PATH,
  NSM_IOCTL_RAW,
  NSM_RAW_SIZE,
} from './runtime/nsm/device.ts';
export type { IoctlFfi, NsmRaw } from './runtime/nsm/device.ts';
export { PcrBank, extendDigest, measureContent, MAX_PCRS, BOOT_LOCKED_PCRS } from './dev/nsm/pcr-bank.ts';
export type { BootPcrs } from './dev/nsm/pcr-bank.ts';
export { SimulatedNsm, SimulatorTransport, SIM_RANDOM_BYTES } from './dev/nsm/simulator.ts';
export type { SimulatedNsmOptions } from './dev/nsm/simulator.ts';
export { launchPcrs, eifPcrsToIndexMap } from './dev/nsm/boot-pcrs.ts';
export type { EifPcrs, LaunchOptions } from './dev/nsm/boot-pcrs.ts';
export { issueAttestationDocument } from './dev/nsm/attestation.ts';
export type { DocumentInput } from './dev/nsm/attestation.ts';
export { TestPki, createTestPki, renewTestPki, LIFETIME_MS } from './dev/nsm/test-pki.ts';
export type { TestPkiOptions, Issued } from './dev/nsm/test-pki.ts';
export { exportTestPki, importTestPki, TEST_PKI_FORMAT } from './dev/nsm/test-pki-json.ts';
export type { TestPkiJson, KeyExport } from './dev/nsm/test-pki-json.ts';
// KMS (the port the runtime uses, the core dev-kms serves, key storage, key policies)
export { KEY_ENCRYPTION_ALGORITHM } from './common/kms/port.ts';
export type { KmsPort, RecipientCall, DataKeyForRecipient } from './common/kms/port.ts';
export { KmsCore } from './dev/kms/core.ts';
export type {
  KmsCoreOptions,
  KeyMetadata,
  CreateKeyInput,
  GenerateDataKeyInput,
  DecryptInput,
} from './dev/kms/core.ts';
export { MemoryKmsPort, memoryKms } from './dev/kms/memory.ts';
export { MemoryKeyStore, UUID_RE } from './dev/kms/store.ts';
export type { KeyStore, StoredKey } from './dev/kms/store.ts';
export { DirectoryKeyStore } from './dev/kms/directory-store.ts';
export { parseKeyPolicy, evaluatePolicy, wildcard, MAX_POLICY_BYTES } from './kms-policy/policy.ts';
export type { KeyPolicy, Statement, Condition, RequestContext } from './kms-policy/policy.ts';
export { IMAGE_SHA384, pcrConditionKey, verifyRecipient } from './kms-policy/recipient.ts';
export type { RecipientInput, VerifiedRecipient } from './kms-policy/recipient.ts';
export type { EncryptionContext } from './dev/kms/blob.ts';
export { AwsKmsPort, kmsClientConfig } from './runtime/kms/aws.ts';
export type { AwsKmsOptions } from './runtime/kms/aws.ts';
export { buildDevKmsApp, DEV_KMS_BODY_LIMIT, JSON_11 } from './dev/dev-kms/app.ts';
export type { DevKmsAppOptions } from './dev/dev-kms/app.ts';
export { serveDevKms } from './dev/dev-kms/serve.ts';
export type { ServeDevKmsOptions } from './dev/dev-kms/serve.ts';
export type { Credential as DevKmsCredential } from './dev/dev-kms/sigv4.ts';
export { KMS_ERRORS } from './dev/dev-kms/statuses.ts';
export { buildKmsKeyPolicy, DECRYPT_PATHS, ADMIN_ACTIONS, ENCLAVE_ROLE_DENIED } from './kms-policy/policy-build.ts';
export type { KmsPolicyInput } from './kms-policy/policy-build.ts';
export { checkKmsKeyPolicy } from './kms-policy/policy-check.ts';
export type { PolicyFinding, PolicyCheckOptions } from './kms-policy/policy-check.ts';
export { activeReleases } from './kms-policy/active-releases.ts';
export type { ActiveReleases } from './kms-policy/active-releases.ts';
// the enclave runtime: boot sequence, gate keeper, identity, HTTP API
export { bootEnclave, readPcrs, MEASURED_PCRS } from './runtime/boot.ts';
export type { BootOptions, BootedEnclave } from './runtime/boot.ts';
export { Gatekeeper } from './runtime/gatekeeper.ts';
export type { GateState, GatekeeperOptions } from './runtime/gatekeeper.ts';
export { buildEnclaveApp } from './runtime/server.ts';
export { IdentityKeeper, sealedDigest } from './runtime/identity/keeper.ts';
export type { StoredIdentity, Established, IdentityKeeperDeps } from './runtime/identity/keeper.ts';
export { generateIdentity, publicIdentity } from './runtime/identity/keys.ts';
export type { IdentityKeys, PublicIdentity } from './runtime/identity/keys.ts';
export { sealIdentity, unsealIdentity, sealedVersion, MAX_SEALED_BYTES } from './runtime/identity/seal.ts';
export type { UnsealedIdentity } from './runtime/identity/seal.ts';
export { ENCLAVE_HTTP_STATUS, toHttpError } from './common/http/errors.ts';
// forwarding: ST 430-2 signer chain (first boot) and projector test PKIs (dev)
export { rsa2048, createSignerChain, exportSignerChain, importSignerChain } from './runtime/forward/pki.ts';
export type { SignerChain, SignerChainOptions, SignerChainJson } from './runtime/forward/pki.ts';
export { createProjectorPki } from './dev/projector-pki.ts';
export type { ProjectorPki, ProjectorPkiOptions } from './dev/projector-pki.ts';
// forwarding core: open and check a forward request, then deliver KDMs (or raw ciphertexts) and sign the receipt
export {
  FORMAT_NAMES,
  MAX_FORWARD_RECIPIENTS,
  MAX_FORWARD_INTERMEDIATES,
  validateForwardRequest,
  forwardRequestDigest,
  openForwardRequest,
} from './runtime/forward/request.ts';
export type { ForwardRequest, ForwardFormat, OpenContext, OpenedForward } from './runtime/forward/request.ts';
export { MAX_CERTIFICATE_TEXT, checkRecipients, rulesRoots } from './runtime/forward/recipients.ts';
export type { Recipient } from './runtime/forward/recipients.ts';
export { MemoryReplayGuard } from './runtime/forward/replay.ts';
export { openDkdm } from './runtime/forward/dkdm-open.ts';
export type { DkdmInput, DkdmContext } from './runtime/forward/dkdm-open.ts';
export type { ReplayGuard } from './runtime/forward/replay.ts';
export {
  checkSignerValidity,
  forwardRange,
  receiptFor,
  signForwardReceipt,
  forward,
  wipe,
} from './runtime/forward/engine.ts';
export type { ForwardKeys, ForwardOutput, ForwardResult } from './runtime/forward/engine.ts';
export type { Delivery, ForwardHooks } from './runtime/forward/engine.ts';
// AWS credentials for the enclave: the host's IMDSv2 reader and container-credentials endpoint
export { ImdsCredentials, parseRoleCredentials } from './host/credentials-imds.ts';
export type { CredentialSource, RoleCredentials, ImdsOptions } from './host/credentials-imds.ts';
export { CREDENTIALS_PATH, startCredentialsServer } from './host/credentials-server.ts';
export type { CredentialsServer, CredentialsServerOptions } from './host/credentials-server.ts';
export { CREDENTIALS_TOKEN_ROUTE } from './common/credentials-token-route.ts';
export { formatMetrics, freshSecondsLeft, relayedEnclave, METRICS_CONTENT_TYPE } from './host/metrics.ts';
export { EnclaveMetrics } from './common/metrics.ts';
