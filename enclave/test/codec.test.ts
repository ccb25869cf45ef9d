/**
 * The NSM request/response codec, byte for byte against the serde_cbor encodings of the real
 * nsm-api enums (testdata/nitro/nsm-cbor-encodings.json), plus the attacker's side:
 * malformed, truncated, oversized and unknown responses are coded refusals.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  decodeRequest,
  decodeResponse,
  encodeRequest,
  encodeResponse,
  NsmDecodeError,
  type NsmRequest,
  type NsmResponse,
} from '../runtime/nsm/codec.ts';
import { isVerifierError } from '#verifier';
import { decodeCbor, encodeCbor } from '#verifier/build';
import { EnclaveError } from '../common/errors.ts';

const vectors = JSON.parse(
  readFileSync(resolve(import.meta.dirname, '../../testdata/nitro/nsm-cbor-encodings.json'), 'utf8'),
) as {
  encodings: { value: string; cbor_hex: string }[];
  transport: { ioctl_request: string };
};
const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
const b = (...xs: number[]) => Uint8Array.from(xs);

const REQUESTS: Record<string, NsmRequest> = {
  'Request::DescribePCR{index:0}': { type: 'DescribePCR', index: 0 },
  'Request::ExtendPCR{index:16,data:[1,2,3]}': { type: 'ExtendPCR', index: 16, data: b(1, 2, 3) },
  'Request::LockPCR{index:16}': { type: 'LockPCR', index: 16 },
  'Request::LockPCRs{range:20}': { type: 'LockPCRs', range: 20 },
  'Request::DescribeNSM': { type: 'DescribeNSM' },
  'Request::Attestation{None,None,None}': { type: 'Attestation', userData: null, nonce: null, publicKey: null },
  'Request::Attestation{ud=[0xaa],nonce=[0xbb],pk=[0xcc]}': {
    type: 'Attestation',
    userData: b(0xaa),
    nonce: b(0xbb),
    publicKey: b(0xcc),
  },
  'Request::GetRandom': { type: 'GetRandom' },
};

const RESPONSES: Record<string, NsmResponse> = {
  'Response::DescribePCR{lock:true,data:[0;4]}': { type: 'DescribePCR', lock: true, data: b(0, 0, 0, 0) },
  'Response::ExtendPCR{data:[9]}': { type: 'ExtendPCR', data: b(9) },
  'Response::LockPCR': { type: 'LockPCR' },
  'Response::LockPCRs': { type: 'LockPCRs' },
  'Response::DescribeNSM{1,0,0,"m",32,{0,1},SHA384}': {
    type: 'DescribeNSM',
    versionMajor: 1,
    versionMinor: 0,
    versionPatch: 0,
    moduleId: 'm',
    maxPcrs: 32,
    lockedPcrs: [0, 1],
    digest: 'SHA384',
  },
  'Response::Attestation{document:[0x84]}': { type: 'Attestation', document: b(0x84) },
  'Response::GetRandom{random:[7,7]}': { type: 'GetRandom', random: b(7, 7) },
  'Response::Error(InvalidArgument)': { type: 'Error', error: 'InvalidArgument' },
  'Response::Error(ReadOnlyIndex)': { type: 'Error', error: 'ReadOnlyIndex' },
};

test('every vector is covered by this test', () => {
  const names = vectors.encodings.map((e) => e.value).sort();
  assert.deepEqual(names, [...Object.keys(REQUESTS), ...Object.keys(RESPONSES)].sort());
});

for (const { value, cbor_hex } of vectors.encodings) {
  test(`byte-exact: ${value}`, () => {
    const req = REQUESTS[value];
    if (req) {
      assert.equal(Buffer.from(encodeRequest(req)).toString('hex'), cbor_hex);
      assert.deepEqual(decodeRequest(hex(cbor_hex)), req);
      return;
    }
    const res = RESPONSES[value]!;
    assert.equal(Buffer.from(encodeResponse(res)).toString('hex'), cbor_hex);
    assert.deepEqual(decodeResponse(hex(cbor_hex)), res);
  });
}

test('the ioctl number in the vectors is the one device.ts uses', async () => {
  const { NSM_IOCTL_RAW } = await import('../runtime/nsm/device.ts');
  assert.match(vectors.transport.ioctl_request, /^0xC0200A00\b/);
  assert.equal(NSM_IOCTL_RAW, 0xc0200a00);
});

test('large fields use the long CBOR heads serde_cbor uses (1024-byte user_data)', () => {
  const ud = new Uint8Array(1024).fill(0x80);
  const enc = encodeRequest({ type: 'Attestation', userData: ud, nonce: null, publicKey: new Uint8Array(0) });
  const at = Buffer.from(enc).indexOf(Buffer.from('user_data')) + 9;
  assert.deepEqual([...enc.subarray(at, at + 3)], [0x59, 0x04, 0x00]);
  assert.deepEqual(decodeRequest(enc), {
    type: 'Attestation',
    userData: ud,
    nonce: null,
    publicKey: new Uint8Array(0),
  });
});

test('encoders refuse non-u16 indexes (caller misuse)', () => {
  assert.throws(() => encodeRequest({ type: 'DescribePCR', index: 65536 }), RangeError);
  assert.throws(() => encodeRequest({ type: 'LockPCRs', range: -1 }), RangeError);
  assert.throws(() => encodeRequest({ type: 'ExtendPCR', index: 1.5, data: b() }), RangeError);
});

const MALFORMED: [string, string][] = [
  ['empty', ''],
  ['truncated map', 'a16b4465736372696265504352a265'],
  ['trailing byte', '674c6f636b50435200'],
  ['unknown variant', '6b44657363726962655858'],
  ['unknown error code', 'a1654572726f72634e6f70'],
  ['Error as a map', 'a1654572726f72a0'],
  ['missing field', 'a16b4465736372696265504352a1646c6f636bf5'],
  ['extra field', 'a169457874656e64504352a264646174614109617801'],
  ['wrong field type', 'a169457874656e64504352a1646461746109'],
  ['unit variant as map', 'a1674c6f636b504352a0'],
  ['struct variant as text', '6b4465736372696265504352'],
  ['indefinite length', 'bf674c6f636b504352ff'],
  ['tagged', 'c0674c6f636b504352'],
  ['negative int', '20'],
  ['float', 'fb3ff0000000000000'],
  ['huge bstr length', 'a16b4174746573746174696f6ea168646f63756d656e745bffffffffffffffff'],
  ['huge array length', '9bffffffffffffff00'],
  ['bad utf-8', '62c328'],
  ['duplicate key', 'a2617801617801'],
  ['two-entry enum', 'a2674c6f636b504352f66a4c6f636b50435273f6'],
];

for (const [what, h] of MALFORMED) {
  test(`malformed response is a coded refusal: ${what}`, () => {
    assert.throws(
      () => decodeResponse(hex(h)),
      (e: unknown) => e instanceof EnclaveError && e.code === 'NSM_RESPONSE_MALFORMED',
    );
    assert.throws(() => decodeRequest(hex(h)), NsmDecodeError);
  });
}

test('deep nesting is refused, not a stack overflow', () => {
  const deep = new Uint8Array(100_000).fill(0x81);
  assert.throws(
    () => decodeCbor(deep),
    (e: unknown) => isVerifierError(e, 'MALFORMED'),
  );
  assert.throws(
    () => decodeResponse(deep),
    (e: unknown) => e instanceof EnclaveError && e.code === 'NSM_RESPONSE_MALFORMED',
  );
});

test('CBOR round trip over random NSM-shaped values', async () => {
  const fc = (await import('fast-check')).default;
  const leaf = fc.oneof(fc.nat(), fc.boolean(), fc.constant(null), fc.string(), fc.uint8Array({ maxLength: 300 }));
  const value = fc.letrec((tie) => ({
    v: fc.oneof(
      { depthSize: 'small' },
      leaf,
      fc.array(tie('v')),
      fc.uniqueArray(fc.tuple(fc.string(), tie('v')), { selector: (t) => t[0] }).map((es) => new Map(es)),
    ),
  })).v;
  fc.assert(
    fc.property(value, (v) => {
      const enc = encodeCbor(v as never);
      assert.deepEqual(decodeCbor(enc), v);
      assert.deepEqual(encodeCbor(decodeCbor(enc)), enc);
    }),
    { numRuns: 300 },
  );
});

test('decoders never throw anything but their coded error on random bytes', async () => {
  const fc = (await import('fast-check')).default;
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      try {
        decodeResponse(bytes);
      } catch (e) {
        assert.ok(e instanceof EnclaveError && e.code === 'NSM_RESPONSE_MALFORMED', String(e));
      }
      try {
        decodeRequest(bytes);
      } catch (e) {
        assert.ok(e instanceof NsmDecodeError, String(e));
      }
    }),
    { numRuns: 2000 },
  );
});
