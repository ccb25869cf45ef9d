/** The secret-file policy every folder applies to private key files: owner-only mode, UTF-8 text. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { secretFileModeProblem, secretFileText } from '../build.ts';

test('only owner access passes; any group or other bit is refused with the mode in the reason', () => {
  for (const mode of [0o100600, 0o100400, 0o100700, 0o600])
    assert.equal(secretFileModeProblem(mode), null, mode.toString(8));
  for (const mode of [0o100644, 0o100640, 0o100604, 0o100660, 0o100601, 0o100610, 0o777]) {
    const p = secretFileModeProblem(mode);
    assert.ok(
      p !== null && p.includes(`mode ${(mode & 0o777).toString(8)}`) && p.includes('chmod 600'),
      `${mode.toString(8)}: ${p}`,
    );
  }
});

test('the content must be non-empty UTF-8 text; surrounding whitespace is trimmed', () => {
  assert.equal(secretFileText(new TextEncoder().encode('  PRIVATE+KEY+text\n')), 'PRIVATE+KEY+text');
  assert.equal(secretFileText(new Uint8Array(0)), null);
  assert.equal(secretFileText(new TextEncoder().encode(' \n\t')), null);
  assert.equal(secretFileText(Uint8Array.of(0x30, 0x82, 0xff, 0xfe)), null); // DER bytes, not text
});
