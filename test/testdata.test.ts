/**
 * testdata/ holds byte-identical copies of external test vectors: each set's SHA256SUMS pins
 * every file, so an edited, truncated or line-ending-converted vector fails here, as does a
 * file added to a set without being listed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

const TESTDATA = resolve(import.meta.dirname, '../testdata');
const sets = readdirSync(TESTDATA)
  .filter((n) => statSync(join(TESTDATA, n)).isDirectory())
  .sort();

function filesUnder(dir: string, prefix = ''): string[] {
  return readdirSync(join(dir, prefix)).flatMap((n) => {
    const rel = prefix ? `${prefix}/${n}` : n;
    return statSync(join(dir, rel)).isDirectory() ? filesUnder(dir, rel) : [rel];
  });
}

test('testdata holds the nitro, tlog, kdm and sigstore-conformance sets', () => {
  assert.deepEqual(sets, ['kdm', 'nitro', 'sigstore-conformance', 'tlog']);
});

for (const set of sets) {
  test(`testdata/${set}: every file matches SHA256SUMS, and every file is listed`, () => {
    const dir = join(TESTDATA, set);
    const listed = new Map<string, string>();
    for (const line of readFileSync(join(dir, 'SHA256SUMS'), 'utf8').split('\n').filter(Boolean)) {
      const m = /^([0-9a-f]{64}) {2}(\S.*)$/.exec(line);
      assert.ok(m, `malformed SHA256SUMS line: ${line}`);
      listed.set(m[2]!, m[1]!);
    }
    const present = filesUnder(dir)
      .filter((f) => f !== 'SHA256SUMS' && f !== 'README.md')
      .sort();
    assert.deepEqual(present, [...listed.keys()].sort());
    for (const [f, want] of listed)
      assert.equal(
        createHash('sha256')
          .update(readFileSync(join(dir, f)))
          .digest('hex'),
        want,
        `${set}/${f} was changed`,
      );
  });
}
