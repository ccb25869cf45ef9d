/** fast-check generators of values the strict CBOR codec can encode (shared by the codec and attestation tests). */
import fc from 'fast-check';
import type { CborValue } from '../build.ts';

const int = fc.oneof(
  fc.integer({ min: -30, max: 30 }),
  fc.integer({ min: -70000, max: 70000 }),
  fc.integer({ min: -(2 ** 53) + 1, max: 2 ** 53 - 1 }),
  fc.constantFrom(
    23,
    24,
    255,
    256,
    65535,
    65536,
    2 ** 32 - 1,
    2 ** 32,
    Number.MAX_SAFE_INTEGER,
    -Number.MAX_SAFE_INTEGER,
    -24,
    -25,
    -256,
    -257,
  ),
);
const text = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme', maxLength: 40 }));
const key = fc.oneof(text, int);

export const cborLeaf: fc.Arbitrary<CborValue> = fc.oneof(
  int,
  text,
  fc.uint8Array({ maxLength: 300 }),
  fc.boolean(),
  fc.constant(null),
);

/** Any encodable value: leaves, arrays and maps (unique keys, insertion order kept), a few levels deep. */
export const cborValue: fc.Arbitrary<CborValue> = fc.letrec<{ v: CborValue }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    cborLeaf,
    fc.array(tie('v'), { maxLength: 6 }),
    fc.uniqueArray(fc.tuple(key, tie('v')), { selector: (t) => t[0], maxLength: 6 }).map((es) => new Map(es)),
  ),
})).v;
