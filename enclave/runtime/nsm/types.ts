/**
 * The Nitro Security Module as a TypeScript interface, one method per NSM API request
 * (aws/aws-nitro-enclaves-nsm-api src/api/mod.rs; notes/nitro.md §5.2). Two backends implement
 * it through the same byte-level client: the real device (/dev/nsm, device.ts) and the
 * simulator (simulator.ts).
 */

/** The NSM's error codes, exactly as the device names them (`ErrorCode` enum). */
export const NSM_ERROR_NAMES = [
  'Success',
  'InvalidArgument',
  'InvalidIndex',
  'InvalidResponse',
  'ReadOnlyIndex',
  'InvalidOperation',
  'BufferTooSmall',
  'InputTooLarge',
  'InternalError',
] as const;
export type NsmErrorName = (typeof NSM_ERROR_NAMES)[number];

export const NSM_DIGESTS = ['SHA256', 'SHA384', 'SHA512'] as const;
export type NsmDigest = (typeof NSM_DIGESTS)[number];

/** Device limits (notes/nitro.md §3.2, §5.2; nsm-check.rs DATA_LEN). */
export const NSM_LIMITS = {
  /** user_data, nonce and public_key: each at most this many bytes (0 allowed). */
  attestationField: 1024,
  /** An encoded request larger than this is refused by the driver with EMSGSIZE. */
  request: 0x1000,
  /** The response buffer capacity nsm-api and the kernel driver use. */
  response: 0x3000,
} as const;

export interface PcrDescription {
  /** true once the PCR is read-only (PCRs 0..15 always are). */
  lock: boolean;
  /** Current value: 48 bytes for SHA384. */
  data: Uint8Array;
}

export interface NsmDescription {
  versionMajor: number;
  versionMinor: number;
  versionPatch: number;
  /** e.g. `i-0123456789abcdef0-enc0123456789abcdef` */
  moduleId: string;
  /** 32 on every Nitro instance (nsm-check asserts it). */
  maxPcrs: number;
  /** Ascending indexes of the read-only PCRs. */
  lockedPcrs: number[];
  digest: NsmDigest;
}

/**
 * What the attestation document binds besides the PCRs. `null`/absent means the field is CBOR
 * null in the document; an empty Uint8Array means a present, zero-length byte string — the
 * device distinguishes the two and so do we. Each at most 1024 bytes (else NSM_INPUT_TOO_LARGE).
 */
export interface AttestationRequest {
  userData?: Uint8Array | null;
  nonce?: Uint8Array | null;
  publicKey?: Uint8Array | null;
}

/**
 * The NSM contract, identical for the device and the simulator:
 * - PCRs 0..15 are locked at boot (0/1/2 = EIF image, 3 = IAM role, 4 = instance id, 8 = signing
 *   cert); PCRs 16..maxPcrs-1 start at 48 zero bytes, are extendable until locked, and once
 *   locked stay locked for the life of the enclave. Nothing here is durable: a new enclave (or
 *   a new SimulatedNsm) starts from the boot state.
 * - extendPcr computes SHA384(old ‖ data) on the raw data and returns the new value; on a
 *   locked PCR it rejects with NSM_READ_ONLY_INDEX, on an index ≥ maxPcrs with NSM_INVALID_INDEX.
 * - lockPcr on an already-locked PCR rejects with NSM_READ_ONLY_INDEX; lockPcrs(range) locks
 *   [0, range) and is idempotent for already-locked PCRs; range > maxPcrs → NSM_INVALID_INDEX.
 * - attestation returns an untagged COSE_Sign1 whose payload lists every locked PCR; each call
 *   is a fresh document (new timestamp; the device also issues a fresh leaf certificate).
 * - getRandom returns fresh entropy (the device gives up to 256 bytes per call).
 * - Device refusals surface as EnclaveError NSM_<ERROR>; transport failures as NSM_UNAVAILABLE,
 *   NSM_IOCTL_FAILED, NSM_REQUEST_TOO_LARGE or NSM_RESPONSE_MALFORMED.
 * - Calls may be issued concurrently; each request/response pair is atomic (the kernel driver
 *   serialises them), and extends of the same PCR apply in the order they are processed.
 */
export interface Nsm {
  /**
   * True only on the simulator (enclave/dev/nsm/simulator.ts), which the runtime never imports:
   * boot asks this to refuse test-only options (TEST_ONLY_OPTION) on any other NSM.
   */
  readonly simulated?: true;
  describePcr(index: number): Promise<PcrDescription>;
  extendPcr(index: number, data: Uint8Array): Promise<Uint8Array>;
  lockPcr(index: number): Promise<void>;
  lockPcrs(range: number): Promise<void>;
  describeNsm(): Promise<NsmDescription>;
  attestation(req?: AttestationRequest): Promise<Uint8Array>;
  getRandom(): Promise<Uint8Array>;
  /** Releases the backend (closes /dev/nsm). Further calls reject with NSM_UNAVAILABLE. */
  close(): Promise<void>;
}

/**
 * One NSM round trip at the byte level: CBOR request in, CBOR response out, as through the
 * 0xC0200A00 ioctl. The device transport and the simulator both implement it, so the client
 * (client.ts) and codec are exercised identically by both.
 */
export interface NsmTransport {
  /** Sends one encoded request (≤ 4096 bytes) and resolves to the encoded response. */
  roundTrip(request: Uint8Array): Promise<Uint8Array>;
  close(): Promise<void>;
}
