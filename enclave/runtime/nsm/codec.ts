/**
 * NSM API messages ⇄ CBOR bytes, byte-exact with serde_cbor 0.11 on the nsm-api enums
 * (aws/aws-nitro-enclaves-nsm-api src/api/mod.rs; notes/nitro.md §5.2;
 * testdata/nitro/nsm-cbor-encodings.json). Externally tagged enums: a unit variant is the
 * bare text string of its name; a struct variant is map(1){name: map(fields in declaration
 * order)}; Error is map(1){"Error": text}. Option::None is CBOR null with the key present.
 *
 * Encoders check the caller's arguments (RangeError on misuse). Decoders treat bytes as
 * untrusted: anything that is not exactly a known message throws EnclaveError
 * NSM_RESPONSE_MALFORMED (responses) or NsmDecodeError (requests, for the simulator to answer
 * with InvalidArgument). The bytes go through the verifier's strict CBOR codec (shortest heads,
 * definite lengths, no tags or floats, no duplicate keys, bounded depth); the NSM speaks only
 * unsigned integers, so a negative one is refused here.
 */
import { isVerifierError } from '#verifier';
import { decodeCbor, encodeCbor, type CborMap, type CborValue } from '#verifier/build';
import { EnclaveError } from '../../common/errors.ts';
import {
  NSM_DIGESTS,
  NSM_ERROR_NAMES,
  NSM_LIMITS,
  type NsmDescription,
  type NsmDigest,
  type NsmErrorName,
} from './types.ts';

type Opt = Uint8Array | null;

export type NsmRequest =
  | { type: 'DescribePCR'; index: number }
  | { type: 'ExtendPCR'; index: number; data: Uint8Array }
  | { type: 'LockPCR'; index: number }
  | { type: 'LockPCRs'; range: number }
  | { type: 'DescribeNSM' }
  | { type: 'Attestation'; userData: Opt; nonce: Opt; publicKey: Opt }
  | { type: 'GetRandom' };

export type NsmResponse =
  | { type: 'DescribePCR'; lock: boolean; data: Uint8Array }
  | { type: 'ExtendPCR'; data: Uint8Array }
  | { type: 'LockPCR' }
  | { type: 'LockPCRs' }
  | ({ type: 'DescribeNSM' } & NsmDescription)
  | { type: 'Attestation'; document: Uint8Array }
  | { type: 'GetRandom'; random: Uint8Array }
  | { type: 'Error'; error: NsmErrorName };

/** A request that is not a well-formed NSM message (the simulator answers InvalidArgument). */
export class NsmDecodeError extends Error {
  override readonly name = 'NsmDecodeError';
}

function u16(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 0 || n > 0xffff) throw new RangeError(`${what} must be a u16, got ${n}`);
  return n;
}

function bytes(b: unknown, what: string): Uint8Array {
  if (!(b instanceof Uint8Array)) throw new TypeError(`${what} must be a Uint8Array`);
  return b;
}

const variant = (name: string, fields: [string, CborValue][]): CborMap => new Map([[name, new Map(fields)]]);

/** Encodes a request exactly as nsm-api's serde_cbor does. */
export function encodeRequest(r: NsmRequest): Uint8Array {
  switch (r.type) {
    case 'DescribePCR':
      return encodeCbor(variant(r.type, [['index', u16(r.index, 'index')]]));
    case 'ExtendPCR':
      return encodeCbor(
        variant(r.type, [
          ['index', u16(r.index, 'index')],
          ['data', bytes(r.data, 'data')],
        ]),
      );
    case 'LockPCR':
      return encodeCbor(variant(r.type, [['index', u16(r.index, 'index')]]));
    case 'LockPCRs':
      return encodeCbor(variant(r.type, [['range', u16(r.range, 'range')]]));
    case 'Attestation':
      return encodeCbor(
        variant(r.type, [
          ['user_data', r.userData === null ? null : bytes(r.userData, 'user_data')],
          ['nonce', r.nonce === null ? null : bytes(r.nonce, 'nonce')],
          ['public_key', r.publicKey === null ? null : bytes(r.publicKey, 'public_key')],
        ]),
      );
    case 'DescribeNSM':
    case 'GetRandom':
      return encodeCbor(r.type);
  }
}

/** Encodes a response exactly as the device (serde_cbor) does; used by the simulator. */
export function encodeResponse(r: NsmResponse): Uint8Array {
  switch (r.type) {
    case 'DescribePCR':
      return encodeCbor(
        variant(r.type, [
          ['lock', r.lock],
          ['data', r.data],
        ]),
      );
    case 'ExtendPCR':
      return encodeCbor(variant(r.type, [['data', r.data]]));
    case 'LockPCR':
    case 'LockPCRs':
      return encodeCbor(r.type);
    case 'DescribeNSM':
      return encodeCbor(
        variant(r.type, [
          ['version_major', u16(r.versionMajor, 'version_major')],
          ['version_minor', u16(r.versionMinor, 'version_minor')],
          ['version_patch', u16(r.versionPatch, 'version_patch')],
          ['module_id', r.moduleId],
          ['max_pcrs', u16(r.maxPcrs, 'max_pcrs')],
          ['locked_pcrs', [...new Set(r.lockedPcrs.map((i) => u16(i, 'locked_pcrs[]')))].sort((a, b) => a - b)],
          ['digest', r.digest],
        ]),
      );
    case 'Attestation':
      return encodeCbor(variant(r.type, [['document', r.document]]));
    case 'GetRandom':
      return encodeCbor(variant(r.type, [['random', r.random]]));
    case 'Error':
      return encodeCbor(new Map([['Error', r.error]]));
  }
}

/** Splits an externally tagged enum value into [variant name, fields map | null]. */
function untag(v: CborValue): [string, CborMap | null] {
  if (typeof v === 'string') return [v, null];
  if (v instanceof Map && v.size === 1) {
    const [k, inner] = [...v][0]!;
    if (typeof k === 'string' && inner instanceof Map) return [k, inner];
    if (k === 'Error' && typeof inner === 'string') return ['Error', new Map([['', inner]])];
  }
  throw new NsmDecodeError('not an externally tagged NSM enum value');
}

/** Reads a struct variant's fields: exactly the declared names, each of the expected type. */
function fields(m: CborMap | null, names: readonly string[]): Map<string, CborValue> {
  if (m === null) throw new NsmDecodeError('struct variant sent as a unit variant');
  if (m.size !== names.length || names.some((n) => !m.has(n))) {
    throw new NsmDecodeError(`expected fields [${names.join(', ')}], got [${[...m.keys()].join(', ')}]`);
  }
  return m as Map<string, CborValue>;
}

const isU16 = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffff;

function getU16(f: Map<string, CborValue>, k: string): number {
  const v = f.get(k);
  if (!isU16(v)) throw new NsmDecodeError(`${k} is not a u16`);
  return v;
}
function getBytes(f: Map<string, CborValue>, k: string): Uint8Array {
  const v = f.get(k);
  if (!(v instanceof Uint8Array)) throw new NsmDecodeError(`${k} is not a byte string`);
  return v;
}
function getOpt(f: Map<string, CborValue>, k: string): Opt {
  return f.get(k) === null ? null : getBytes(f, k);
}

function unit(m: CborMap | null, name: string): void {
  if (m !== null) throw new NsmDecodeError(`${name} is a unit variant; got a map`);
}

function parse(b: Uint8Array): [string, CborMap | null] {
  try {
    return untag(decodeCbor(b, { maxBytes: NSM_LIMITS.response }));
  } catch (e) {
    if (isVerifierError(e)) throw new NsmDecodeError(e.message, { cause: e });
    throw e;
  }
}

/** Decodes a request (the simulator's side of the ioctl). Throws NsmDecodeError. */
export function decodeRequest(b: Uint8Array): NsmRequest {
  const [name, m] = parse(b);
  switch (name) {
    case 'DescribePCR':
      return { type: name, index: getU16(fields(m, ['index']), 'index') };
    case 'LockPCR':
      return { type: name, index: getU16(fields(m, ['index']), 'index') };
    case 'LockPCRs':
      return { type: name, range: getU16(fields(m, ['range']), 'range') };
    case 'ExtendPCR': {
      const f = fields(m, ['index', 'data']);
      return { type: name, index: getU16(f, 'index'), data: getBytes(f, 'data') };
    }
    case 'Attestation': {
      const f = fields(m, ['user_data', 'nonce', 'public_key']);
      return {
        type: name,
        userData: getOpt(f, 'user_data'),
        nonce: getOpt(f, 'nonce'),
        publicKey: getOpt(f, 'public_key'),
      };
    }
    case 'DescribeNSM':
    case 'GetRandom':
      unit(m, name);
      return { type: name };
    default:
      throw new NsmDecodeError(`unknown request variant ${JSON.stringify(name.slice(0, 64))}`);
  }
}

function decodeDescribeNsm(m: CborMap | null): NsmResponse {
  const f = fields(m, [
    'version_major',
    'version_minor',
    'version_patch',
    'module_id',
    'max_pcrs',
    'locked_pcrs',
    'digest',
  ]);
  const moduleId = f.get('module_id');
  const locked = f.get('locked_pcrs');
  const digest = f.get('digest');
  if (typeof moduleId !== 'string') throw new NsmDecodeError('module_id is not text');
  if (!Array.isArray(locked) || !locked.every(isU16)) throw new NsmDecodeError('locked_pcrs is not a u16 array');
  if (!NSM_DIGESTS.includes(digest as NsmDigest)) throw new NsmDecodeError(`unknown digest ${JSON.stringify(digest)}`);
  return {
    type: 'DescribeNSM',
    versionMajor: getU16(f, 'version_major'),
    versionMinor: getU16(f, 'version_minor'),
    versionPatch: getU16(f, 'version_patch'),
    moduleId,
    maxPcrs: getU16(f, 'max_pcrs'),
    lockedPcrs: locked as number[],
    digest: digest as NsmDigest,
  };
}

function decodeResponseOrThrow(b: Uint8Array): NsmResponse {
  const [name, m] = parse(b);
  switch (name) {
    case 'DescribePCR': {
      const f = fields(m, ['lock', 'data']);
      const lock = f.get('lock');
      if (typeof lock !== 'boolean') throw new NsmDecodeError('lock is not a bool');
      return { type: name, lock, data: getBytes(f, 'data') };
    }
    case 'ExtendPCR':
      return { type: name, data: getBytes(fields(m, ['data']), 'data') };
    case 'LockPCR':
    case 'LockPCRs':
      unit(m, name);
      return { type: name };
    case 'DescribeNSM':
      return decodeDescribeNsm(m);
    case 'Attestation':
      return { type: name, document: getBytes(fields(m, ['document']), 'document') };
    case 'GetRandom':
      return { type: name, random: getBytes(fields(m, ['random']), 'random') };
    case 'Error': {
      const e = m?.get('');
      if (!NSM_ERROR_NAMES.includes(e as NsmErrorName))
        throw new NsmDecodeError(`unknown NSM error code ${JSON.stringify(e)}`);
      return { type: 'Error', error: e as NsmErrorName };
    }
    default:
      throw new NsmDecodeError(`unknown response variant ${JSON.stringify(name.slice(0, 64))}`);
  }
}

/** Decodes a device response. Throws EnclaveError NSM_RESPONSE_MALFORMED on anything else. */
export function decodeResponse(b: Uint8Array): NsmResponse {
  try {
    return decodeResponseOrThrow(b);
  } catch (e) {
    if (!(e instanceof NsmDecodeError)) throw e;
    // evidence: the length only — a response may carry entropy or a document meant for one reader
    throw new EnclaveError('NSM_RESPONSE_MALFORMED', `the NSM response is not a valid message: ${e.message}`, {
      length: b.length,
    });
  }
}
