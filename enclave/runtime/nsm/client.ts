/**
 * The Nsm interface over any byte-level NsmTransport: encode the request (codec.ts), do one
 * round trip, decode the response, and turn Response::Error(<code>) into the matching coded
 * EnclaveError. The device backend and the simulator share this file, so whatever the
 * simulator proves about the client also holds on /dev/nsm. notes/nitro.md §5.2.
 */
import { EnclaveError, type EnclaveErrorCode } from '../../common/errors.ts';
import { decodeResponse, encodeRequest, type NsmRequest, type NsmResponse } from './codec.ts';
import {
  NSM_LIMITS,
  type AttestationRequest,
  type Nsm,
  type NsmDescription,
  type NsmErrorName,
  type NsmTransport,
  type PcrDescription,
} from './types.ts';

const ERROR_CODE: Record<NsmErrorName, EnclaveErrorCode> = {
  // "Success" inside an Error response is contradictory: treat it as an invalid response
  Success: 'NSM_INVALID_RESPONSE',
  InvalidArgument: 'NSM_INVALID_ARGUMENT',
  InvalidIndex: 'NSM_INVALID_INDEX',
  InvalidResponse: 'NSM_INVALID_RESPONSE',
  ReadOnlyIndex: 'NSM_READ_ONLY_INDEX',
  InvalidOperation: 'NSM_INVALID_OPERATION',
  BufferTooSmall: 'NSM_BUFFER_TOO_SMALL',
  InputTooLarge: 'NSM_INPUT_TOO_LARGE',
  InternalError: 'NSM_INTERNAL_ERROR',
};

/** Public facts about a request for error evidence: never the payload bytes themselves. */
function describe(req: NsmRequest): Record<string, unknown> {
  switch (req.type) {
    case 'DescribePCR':
    case 'LockPCR':
      return { request: req.type, index: req.index };
    case 'ExtendPCR':
      return { request: req.type, index: req.index, dataLength: req.data.length };
    case 'LockPCRs':
      return { request: req.type, range: req.range };
    case 'Attestation':
      return {
        request: req.type,
        userDataLength: req.userData?.length ?? null,
        nonceLength: req.nonce?.length ?? null,
        publicKeyLength: req.publicKey?.length ?? null,
      };
    default:
      return { request: req.type };
  }
}

type Of<T extends NsmResponse['type']> = Extract<NsmResponse, { type: T }>;

export class NsmClient implements Nsm {
  constructor(private readonly transport: NsmTransport) {}

  /** One request → the response of the expected variant, or a coded EnclaveError. */
  async call<T extends NsmResponse['type']>(req: NsmRequest, expect: T): Promise<Of<T>> {
    const bytes = encodeRequest(req);
    if (bytes.length > NSM_LIMITS.request) {
      throw new EnclaveError(
        'NSM_REQUEST_TOO_LARGE',
        `encoded ${req.type} request is ${bytes.length} bytes; the driver takes at most ${NSM_LIMITS.request}`,
        { ...describe(req), encodedLength: bytes.length },
      );
    }
    const res = decodeResponse(await this.transport.roundTrip(bytes));
    if (res.type === 'Error') {
      throw new EnclaveError(ERROR_CODE[res.error], `the NSM refused ${req.type}: ${res.error}`, {
        ...describe(req),
        nsmError: res.error,
      });
    }
    if (res.type !== expect) {
      throw new EnclaveError('NSM_RESPONSE_MALFORMED', `the NSM answered ${req.type} with ${res.type}`, {
        ...describe(req),
        responseType: res.type,
      });
    }
    return res as Of<T>;
  }

  async describePcr(index: number): Promise<PcrDescription> {
    const { lock, data } = await this.call({ type: 'DescribePCR', index }, 'DescribePCR');
    return { lock, data };
  }

  async extendPcr(index: number, data: Uint8Array): Promise<Uint8Array> {
    return (await this.call({ type: 'ExtendPCR', index, data }, 'ExtendPCR')).data;
  }

  async lockPcr(index: number): Promise<void> {
    await this.call({ type: 'LockPCR', index }, 'LockPCR');
  }

  async lockPcrs(range: number): Promise<void> {
    await this.call({ type: 'LockPCRs', range }, 'LockPCRs');
  }

  async describeNsm(): Promise<NsmDescription> {
    const { type: _t, ...d } = await this.call({ type: 'DescribeNSM' }, 'DescribeNSM');
    return d;
  }

  async attestation(req: AttestationRequest = {}): Promise<Uint8Array> {
    const r: NsmRequest = {
      type: 'Attestation',
      userData: req.userData ?? null,
      nonce: req.nonce ?? null,
      publicKey: req.publicKey ?? null,
    };
    return (await this.call(r, 'Attestation')).document;
  }

  async getRandom(): Promise<Uint8Array> {
    return (await this.call({ type: 'GetRandom' }, 'GetRandom')).random;
  }

  close(): Promise<void> {
    return this.transport.close();
  }
}
