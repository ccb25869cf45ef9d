/**
 * @keycast/enclave — the enclave side. Public entry for cli/, test/ and bench/.
 * The Nitro Security Module: one `Nsm` interface, two backends (the real /dev/nsm device and a
 * faithful simulator), and the byte-exact NSM API codec they share.
 */
export { EnclaveError, ENCLAVE_ERROR_CODES, isEnclaveError } from './src/errors.ts';
export type { EnclaveErrorCode } from './src/errors.ts';
export { NSM_ERROR_NAMES, NSM_DIGESTS, NSM_LIMITS } from './src/nsm/types.ts';
export type { Nsm, NsmTransport, NsmDescription, PcrDescription, AttestationRequest, NsmErrorName, NsmDigest } from './src/nsm/types.ts';
export { encodeRequest, decodeRequest, encodeResponse, decodeResponse, NsmDecodeError } from './src/nsm/codec.ts';
export type { NsmRequest, NsmResponse } from './src/nsm/codec.ts';
export { NsmClient } from './src/nsm/client.ts';
export { openDeviceNsm, DeviceTransport, loadKoffiIoctl, encodeNsmRaw, decodeNsmRaw, NSM_DEVICE_PATH, NSM_IOCTL_RAW, NSM_RAW_SIZE } from './src/nsm/device.ts';
export type { IoctlFfi, NsmRaw } from './src/nsm/device.ts';
export { PcrBank, extendDigest, measureContent, MAX_PCRS, BOOT_LOCKED_PCRS, PCR_LENGTH } from './src/nsm/pcr-bank.ts';
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
// forwarding: ST 430-2 signer chain (first boot) and projector test PKIs
export { rsa2048, createSignerChain, exportSignerChain, importSignerChain, createProjectorPki } from './src/forward/pki.ts';
export type { SignerChain, SignerChainOptions, SignerChainJson, ProjectorPki, ProjectorPkiOptions } from './src/forward/pki.ts';
// forwarding core: open and check a forward request, then deliver KDMs (or raw ciphertexts) and sign the receipt
export { FORWARD_FORMATS, MAX_FORWARD_RECIPIENTS, MAX_FORWARD_INTERMEDIATES, validateForwardRequest, forwardRequestDigest, openForwardRequest } from './src/forward/request.ts';
export type { ForwardRequest, ForwardFormat, OpenContext, OpenedForward } from './src/forward/request.ts';
export { MAX_CERTIFICATE_TEXT, checkRecipients, rulesRoots } from './src/forward/recipients.ts';
export type { Recipient } from './src/forward/recipients.ts';
export { MemoryReplayGuard } from './src/forward/replay.ts';
export type { ReplayGuard } from './src/forward/replay.ts';
export { kdmTime, deliver, checkSignerValidity, forwardRange, receiptFor, signForwardReceipt, forward, wipe } from './src/forward/engine.ts';
export type { ForwardKeys, ForwardOutput, ForwardResult } from './src/forward/engine.ts';
