/**
 * The one strict CBOR codec (verifier/src/encoding/cbor.ts): one test per strictness rule, each
 * refusal a coded VerifierError carrying the offset, plus round trips in both directions
 * (value → bytes → value, and bytes → value → the same bytes).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isVerifierError } from '../index.ts';
import { CborTag, WideUint, decodeCbor, encodeCbor, fromHex, toHex, type CborDecodeOptions } from '../build.ts';
import { cborValue } from './cbor-arbitrary.ts';

/** Asserts `hex` is refused with `code` (MALFORMED by default) at `offset`. */
function refused(hex: string, offset: number, opts: CborDecodeOptions = {}, code = opts.code ?? 'MALFORMED'): void {
  assert.throws(
    () => decodeCbor(fromHex(hex), opts),
    (e: unknown) => isVerifierError(e, code) && e.evidence.offset === offset && typeof e.evidence.reason === 'string',
    hex,
  );
}

test('known encodings (RFC 8949 appendix A) decode and re-encode byte for byte', () => {
  const cases: Array<[string, unknown]> = [
    ['00', 0],
    ['17', 23],
    ['1818', 24],
    ['1903e8', 1000],
    ['1a000f4240', 1000000],
    ['1b000000e8d4a51000', 1000000000000],
    ['1b001fffffffffffff', Number.MAX_SAFE_INTEGER],
    ['20', -1],
    ['3903e7', -1000],
    ['3b001ffffffffffffe', -Number.MAX_SAFE_INTEGER],
    ['f4', false],
    ['f5', true],
    ['f6', null],
    ['40', new Uint8Array(0)],
    ['4401020304', Uint8Array.of(1, 2, 3, 4)],
    ['60', ''],
    ['6161', 'a'],
    ['62c3bc', 'ü'],
    ['64f0908591', '𐅑'],
    ['80', []],
    ['83010203', [1, 2, 3]],
    ['a0', new Map()],
    [
      'a201020304',
      new Map([
        [1, 2],
        [3, 4],
      ]),
    ],
    [
      'a26161016162820203',
      new Map<string, unknown>([
        ['a', 1],
        ['b', [2, 3]],
      ]),
    ],
    [
      'a2616201616101',
      new Map([
        ['b', 1],
        ['a', 1],
      ]),
    ], // wire order kept, not sorted
  ];
  for (const [hex, value] of cases) {
    assert.deepEqual(decodeCbor(fromHex(hex)), value, hex);
    assert.equal(toHex(encodeCbor(value as never)), hex, hex);
  }
});

test('rule: heads must be in shortest form (integers, lengths, negative integers, tags)', () => {
  refused('1817', 0); // 23 in one extra byte
  refused('190017', 0);
  refused('1a000000ff', 0);
  refused('1b00000000ffffffff', 0);
  refused('3817', 0); // -24 in one extra byte
  refused('5800', 0); // empty byte string, wide length
  refused('7900016161', 0);
  refused('980100', 0);
  refused('b80100', 0);
  refused('821817', 1); // inside an array: the offset is the item's
  refused('d81218', 0, { tags: [18] }); // tag 18 in a wide head
});

test('rule: definite lengths only (no indefinite strings, arrays, maps, no break)', () => {
  refused('5f4101ff', 0);
  refused('7f6161ff', 0);
  refused('9f01ff', 0);
  refused('bf616101ff', 0);
  refused('ff', 0);
  refused('8201ff', 2);
});

test('rule: no duplicate map keys (text or integer), offset of the second key', () => {
  refused('a2616101616102', 4);
  refused('a201010102', 3);
  assert.deepEqual(
    decodeCbor(fromHex('a20161616131' + '01')),
    new Map<string | number, unknown>([
      [1, 'a'],
      ['1', 1],
    ]),
  ); // the integer 1 and the text "1" are different keys
  refused('a1a00101', 1); // map keys must be text or integers
  refused('a1400101', 1); // byte-string keys are refused too
});

test('rule: nesting depth is bounded (and deep input is a coded error, not a stack overflow)', () => {
  const deep = (n: number) => toHex(new Uint8Array(n).fill(0x81)) + '00';
  assert.deepEqual(decodeCbor(fromHex(deep(16))), JSON.parse('['.repeat(16) + '0' + ']'.repeat(16)));
  refused(deep(17), 17);
  refused(deep(4), 3, { maxDepth: 2 });
  assert.throws(
    () => decodeCbor(new Uint8Array(200_000).fill(0x81)),
    (e: unknown) => isVerifierError(e, 'MALFORMED'),
  );
});

test('rule: text strings are well-formed UTF-8 (fatal), and the encoder refuses lone surrogates', () => {
  refused('62c328', 0); // bad continuation
  refused('61ff', 0);
  refused('63eda080', 0); // an encoded surrogate
  refused('62c0af', 0); // overlong
  assert.equal(decodeCbor(fromHex('64efbbbf61')), '\ufeffa'); // a leading BOM is kept, so the bytes re-encode
  assert.equal(toHex(encodeCbor('\ufeffa')), '64efbbbf61');
  assert.throws(() => encodeCbor('\ud800'), RangeError);
  assert.throws(() => encodeCbor(['ok', new Map([['\udc00x', 1]])]), RangeError);
});

test('rule: the input is exactly one item (truncation and trailing bytes refused)', () => {
  refused('', 0);
  refused('0000', 1);
  refused('8201', 0); // a count the remaining bytes cannot hold
  refused('828100', 3); // the second item is missing
  refused('19', 0); // truncated head
  refused('4401', 0); // byte string longer than the input
  refused('a1616101a0', 4); // trailing map header
});

test('rule: sizes are bounded before allocating (counts beyond the input, maxBytes)', () => {
  refused('9b001fffffffffffff', 0);
  refused('bb001fffffffffffff', 0);
  refused('5b001fffffffffffff', 0);
  refused('9a7fffffff00', 0);
  refused('1bffffffffffffffff', 0); // beyond 2^53: no exact number
  refused('3b001fffffffffffff', 0); // -2^53 is not exactly representable either
  assert.throws(
    () => decodeCbor(new Uint8Array(11), { maxBytes: 10 }),
    (e: unknown) => isVerifierError(e, 'OVERSIZED') && e.evidence.size === 11,
  );
  assert.throws(
    () => decodeCbor(new Uint8Array(1024 * 1024 + 1)),
    (e: unknown) => isVerifierError(e, 'OVERSIZED'),
  );
});

test('rule: no floats, undefined or other simple values; tags only when named', () => {
  for (const h of ['f93c00', 'fa3f800000', 'fb3ff0000000000000', 'f7', 'f0', 'f820', 'fc', 'fe']) refused(h, 0);
  refused('c000', 0);
  refused('d280', 0); // tag 18 when no tag was named
  assert.deepEqual(decodeCbor(fromHex('d280'), { tags: [18] }), new CborTag(18, []));
  refused('d180', 0, { tags: [18] });
  assert.equal(toHex(encodeCbor(new CborTag(18, []))), 'd280');
  assert.throws(() => encodeCbor(1.5), RangeError);
  assert.throws(() => encodeCbor(2 ** 53), RangeError);
  assert.throws(() => encodeCbor(undefined as never), TypeError);
  assert.throws(() => encodeCbor(new Map([[Uint8Array.of(1) as never, 1]])), TypeError);
});

test("errors carry the caller's more specific code", () => {
  refused('1817', 0, { code: 'EIF_MALFORMED' });
  refused('a2616101616102', 4, { code: 'ATTESTATION_MALFORMED' });
});

test('wideUints: only unsigned integers may be wide, they re-encode to the same bytes, and only when asked', () => {
  const wide = fromHex('a16174' + '1b00000000000003e8');
  refused(toHex(wide), 3);
  const v = decodeCbor(wide, { wideUints: true }) as Map<string, WideUint>;
  assert.deepEqual(v.get('t'), new WideUint(1000, 8));
  assert.equal(toHex(encodeCbor(v)), toHex(wide));
  assert.equal(decodeCbor(fromHex('1b0000010000000000'), { wideUints: true }), 2 ** 40); // shortest in 8 bytes: a plain number
  refused('3817', 0, { wideUints: true });
  refused('5800', 0, { wideUints: true });
  assert.throws(() => new WideUint(256, 1), RangeError);
});

test('fast-check: value → bytes → value is the identity, and the bytes re-encode to themselves', () => {
  fc.assert(
    fc.property(cborValue, (v) => {
      const bytes = encodeCbor(v);
      const back = decodeCbor(bytes);
      assert.deepEqual(back, v);
      assert.deepEqual(encodeCbor(back), bytes);
    }),
    { numRuns: 1000 },
  );
});

test('fast-check: any bytes either decode to a value that re-encodes to exactly those bytes, or are a coded refusal', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
      let v;
      try {
        v = decodeCbor(b, { tags: [18], wideUints: true });
      } catch (e) {
        assert.ok(isVerifierError(e, 'MALFORMED') && typeof e.evidence.offset === 'number', String(e));
        return;
      }
      assert.equal(toHex(encodeCbor(v)), toHex(b));
    }),
    { numRuns: 5000 },
  );
});

test('fast-check: single-byte mutations of valid encodings never decode to a different spelling of the same value', () => {
  fc.assert(
    fc.property(cborValue, fc.nat(), fc.integer({ min: 1, max: 255 }), (v, i, x) => {
      const bytes = encodeCbor(v);
      const m = new Uint8Array(bytes);
      m[i % m.length]! ^= x;
      let back;
      try {
        back = decodeCbor(m);
      } catch (e) {
        assert.ok(isVerifierError(e, 'MALFORMED'), String(e));
        return;
      }
      assert.deepEqual(encodeCbor(back), m); // whatever decodes has exactly one spelling
    }),
    { numRuns: 1000 },
  );
});
