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
