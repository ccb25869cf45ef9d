/**
 * Attack: EIF metadata built to break describe-eif. Nested 150,000 levels deep it overflowed the
 * stack (exit 70, an internal error); with a key twice, the last one silently won, though
 * nitro-cli's serde structs refuse a duplicate field. Both are now EIF_MALFORMED (exit 1)
 * with the reason, in memory and through the CLI.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { isVerifierError } from '#verifier';
import { MAX_JSON_DEPTH, describeEif } from '#verifier/build';
import { GOOD_METADATA, rawEif } from './eif-fixture.ts';
import { runKeycast } from '../../cli/index.ts';

function nested(depth: number): string {
  return GOOD_METADATA.replace(
    '"CustomMetadata":null',
    `"CustomMetadata":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`,
  );
}

const CASES: Array<[string, string, string]> = [
  ['nested 150k levels (objects)', nested(150_000), 'depth'],
  [
    'nested 150k levels (arrays)',
    GOOD_METADATA.replace('"DockerInfo":null', `"DockerInfo":${'['.repeat(150_000)}${']'.repeat(150_000)}`),
    'depth',
  ],
  ['one level past serde_json', nested(MAX_JSON_DEPTH), 'depth'],
  [
    'ImageName twice',
    GOOD_METADATA.replace('{"ImageName":"n",', '{"ImageName":"n","ImageName":"evil",'),
    'duplicate key',
  ],
  ['BuildTool twice', GOOD_METADATA.replace('"BuildTool":"k",', '"BuildTool":"k","BuildTool":"x",'), 'duplicate key'],
  [
    'a custom key twice, one escaped',
    GOOD_METADATA.replace('"CustomMetadata":null', '"CustomMetadata":{"a":1,"\\u0061":2}'),
    'duplicate key',
  ],
];

test('describe-eif refuses over-deep and duplicate-key metadata with EIF_MALFORMED, in memory', () => {
  for (const [what, text, reason] of CASES) {
    assert.throws(
      () => describeEif(rawEif(new Uint8Array(Buffer.from(text)))),
      (e) => isVerifierError(e, 'EIF_MALFORMED') && e.evidence.reason === reason,
      what,
    );
  }
  // The deepest serde_json accepts (the metadata object itself is one level) still describes.
  const deepest = describeEif(rawEif(new Uint8Array(Buffer.from(nested(MAX_JSON_DEPTH - 2)))));
  assert.equal(deepest.ImageName, 'n');
  // A BOM before the metadata is refused as serde_json refuses it.
  assert.throws(
    () =>
      describeEif(rawEif(new Uint8Array(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(GOOD_METADATA)])))),
    (e) => isVerifierError(e, 'EIF_MALFORMED'),
  );
});

test('keycast describe-eif exits 1 with the code, never 70, on hostile metadata', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'keycast-hostile-eif-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const [i, [what, text]] of [CASES[0]!, CASES[3]!].entries()) {
    const file = join(dir, `${i}.eif`);
    writeFileSync(file, rawEif(new Uint8Array(Buffer.from(text))));
    const r = await runKeycast(['describe-eif', file, '--json']);
    assert.equal(r.code, 1, `${what}: exit ${r.code}\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout + r.stderr, /EIF_MALFORMED/, what);
  }
});
