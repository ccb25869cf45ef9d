/**
 * compareUtf8 is UTF-8 byte order (what the cpio recipes sort by), including where it differs
 * from JavaScript's UTF-16 order: astral characters against U+E000–U+FFFF.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compareUtf8 } from '../build.ts';

const utf8Order = (a: string, b: string) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

test('compareUtf8 agrees with comparing UTF-8 bytes, on any strings', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), (a, b) => {
      assert.equal(compareUtf8(a, b), utf8Order(a, b));
    }),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(
      fc.string({ unit: fc.constantFrom('a', 'z', '/', '.', '\u00e9', '\ue000', '\uffff', '\u{1f600}', '\u{10000}') }),
      fc.string(),
      (a, b) => {
        assert.equal(compareUtf8(a, b), utf8Order(a, b));
        assert.equal(compareUtf8(a, a), 0);
      },
    ),
    { numRuns: 2000 },
  );
});

test('where UTF-16 and UTF-8 order differ, compareUtf8 follows UTF-8', () => {
  const astral = '\u{1f600}'; // UTF-16 D83D DE00 < E000, but UTF-8 F0… > EE…
  const privateUse = '\ue000';
  assert.ok(astral < privateUse, 'JavaScript order');
  assert.equal(compareUtf8(astral, privateUse), 1);
  assert.equal(compareUtf8(privateUse, astral), -1);
  assert.equal(compareUtf8('a/b', 'a.b'), 1);
});
