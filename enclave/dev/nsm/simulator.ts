/**
 * A faithful NSM simulator for development, tests and the demo. It speaks the NSM API at the
 * byte level (decodes the same CBOR requests the device gets, answers with the same CBOR
 * responses, including Response::Error codes), keeps the device's PCR semantics (pcr-bank.ts),
 * and issues attestation documents with the real structure (attestation.ts) signed by a local
 * test PKI shaped like AWS's (test-pki.ts). notes/nitro.md §3, §5.2.
 *
 * Nothing about it is trusted: its documents chain to a throw-away test root that a verifier
 * accepts only when that root is passed explicitly as a trusted root.
 *
 * Assumptions where the device's behaviour is not documented: a request that is not a valid
 * NSM message is answered with Error(InvalidArgument); DescribeNSM reports version 1.0.0.
 */
import { randomBytes } from 'node:crypto';
import { NsmClient } from '../../runtime/nsm/client.ts';
import {
  decodeRequest,
  encodeResponse,
  NsmDecodeError,
  type NsmRequest,
  type NsmResponse,
} from '../../runtime/nsm/codec.ts';
import { PcrBank, PcrRefusal, MAX_PCRS } from './pcr-bank.ts';
import { launchPcrs, type EifPcrs } from './boot-pcrs.ts';
import { issueAttestationDocument } from './attestation.ts';
import type { TestPki } from './test-pki.ts';
import { NSM_LIMITS, type NsmTransport } from '../../runtime/nsm/types.ts';
import { EnclaveError } from '../../common/errors.ts';

/** Bytes of entropy per GetRandom: nsm-lib documents "up to 256 bytes". */
export const SIM_RANDOM_BYTES = 256;

export interface SimulatedNsmOptions {
  /** Signs the documents; its instance certificate names the parent instance. */
  pki: TestPki;
  /** The EIF measurement ({pcr0,pcr1,pcr2,pcr8?} hex, e.g. #verifier/build measureEif's result) or explicit boot PCRs {0: hex, …}. */
  pcrs: EifPcrs | Record<string | number, unknown>;
  /** Default: `<pki.instanceId>-enc<16 random hex>`, like a real module id. */
  moduleId?: string;
  /** Parent IAM role ARN (PCR3). Default none (zero PCR3). */
  iamRoleArn?: string | null;
  /** Debug mode: PCR0/1/2/8 read as zero. */
  debug?: boolean;
  /** Milliseconds since the epoch. Default Date.now. */
  clock?: () => number;
}

/** The byte-level simulated device. Use SimulatedNsm for the Nsm interface. */
export class SimulatorTransport implements NsmTransport {
  readonly moduleId: string;
  private readonly bank: PcrBank;
  private readonly clock: () => number;
  private closed = false;

  get rootDer(): Uint8Array {
    return this.opts.pki.rootDer;
  }

  constructor(private readonly opts: SimulatedNsmOptions) {
    this.moduleId = opts.moduleId ?? `${opts.pki.instanceId}-enc${randomBytes(8).toString('hex')}`;
    if (!this.moduleId.startsWith(`${opts.pki.instanceId}-enc`)) {
      throw new RangeError(`module id must start with the PKI's instance id ${opts.pki.instanceId}-enc`);
    }
    this.bank = new PcrBank(
      launchPcrs({
        pcrs: opts.pcrs as EifPcrs,
        instanceId: opts.pki.instanceId,
        iamRoleArn: opts.iamRoleArn ?? null,
        debug: opts.debug ?? false,
      }),
    );
    this.clock = opts.clock ?? Date.now;
  }

  async roundTrip(request: Uint8Array): Promise<Uint8Array> {
    if (this.closed)
      throw new EnclaveError('NSM_UNAVAILABLE', 'the simulated NSM is closed', { moduleId: this.moduleId });
    if (request.length > NSM_LIMITS.request) {
      throw new EnclaveError(
        'NSM_IOCTL_FAILED',
        `request is ${request.length} bytes; the driver refuses more than ${NSM_LIMITS.request} (EMSGSIZE)`,
        { errno: 90, errnoName: 'EMSGSIZE' },
      );
    }
    let req: NsmRequest;
    try {
      req = decodeRequest(request);
    } catch (e) {
      if (e instanceof NsmDecodeError) return encodeResponse({ type: 'Error', error: 'InvalidArgument' });
      throw e;
    }
    return encodeResponse(this.process(req));
  }

  /** Executes one decoded request against the simulated state. */
  process(req: NsmRequest): NsmResponse {
    try {
      return this.dispatch(req);
    } catch (e) {
      if (e instanceof PcrRefusal) return { type: 'Error', error: e.nsmError };
      throw e;
    }
  }

  private dispatch(req: NsmRequest): NsmResponse {
    switch (req.type) {
      case 'DescribePCR':
        return { type: 'DescribePCR', ...this.bank.describe(req.index) };
      case 'ExtendPCR':
        return { type: 'ExtendPCR', data: this.bank.extend(req.index, req.data) };
      case 'LockPCR':
        this.bank.lock(req.index);
        return { type: 'LockPCR' };
      case 'LockPCRs':
        this.bank.lockRange(req.range);
        return { type: 'LockPCRs' };
      case 'DescribeNSM':
        return {
          type: 'DescribeNSM',
          versionMajor: 1,
          versionMinor: 0,
          versionPatch: 0,
          moduleId: this.moduleId,
          maxPcrs: MAX_PCRS,
          lockedPcrs: this.bank.lockedIndexes(),
          digest: 'SHA384',
        };
      case 'GetRandom':
        return { type: 'GetRandom', random: new Uint8Array(randomBytes(SIM_RANDOM_BYTES)) };
      case 'Attestation': {
        const sizes = [req.userData, req.nonce, req.publicKey].map((f) => f?.length ?? 0);
        if (sizes.some((n) => n > NSM_LIMITS.attestationField)) return { type: 'Error', error: 'InputTooLarge' };
        const document = issueAttestationDocument({
          pki: this.opts.pki,
          moduleId: this.moduleId,
          timestamp: Math.floor(this.clock()),
          pcrs: this.bank.lockedValues(),
          userData: req.userData,
          nonce: req.nonce,
          publicKey: req.publicKey,
        });
        return { type: 'Attestation', document };
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

/**
 * The simulated NSM behind the same Nsm interface (and the same byte-level client) as the
 * device. State lives in memory; each instance is a freshly booted enclave.
 */
export class SimulatedNsm extends NsmClient {
  readonly device: SimulatorTransport;
  /** the one NSM test-only options are allowed on (Nsm.simulated) */
  readonly simulated = true as const;

  constructor(opts: SimulatedNsmOptions) {
    const device = new SimulatorTransport(opts);
    super(device);
    this.device = device;
  }

  get moduleId(): string {
    return this.device.moduleId;
  }

  /** The root its documents chain to (the test PKI's, never trusted by default). */
  get rootDer(): Uint8Array {
    return this.device.rootDer;
  }
}
