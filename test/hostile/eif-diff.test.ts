/**
 * Attack: hiding a ramdisk difference from diff-eif. Members were matched by their decoded
 * name, so when a name repeats only its last occurrence was compared, and names that are not
 * UTF-8 all decoded to the same replacement characters: two images with different PCRs and
 * "no file differs". Members are now matched by raw name bytes and occurrence, and named by
 * position and raw bytes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GOOD_METADATA, rawCpio, rawEif } from './eif-fixture.ts';
import { runKeycast } from '../../cli/index.ts';

const META = new Uint8Array(Buffer.from(GOOD_METADATA));
const m = (name: number[] | string, data: string) => ({
  name: typeof name === 'string' ? Buffer.from(name) : Buffer.from(name),
  data: Buffer.from(data),
});

async function diff(
  t: { after: (fn: () => void) => void },
  a: Uint8Array,
  b: Uint8Array,
): Promise<{ status: number; json: any; text: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'keycast-hostile-diff-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'a.eif'), a);
  writeFileSync(join(dir, 'b.eif'), b);
  const run = (json: boolean) =>
    runKeycast(['diff-eif', join(dir, 'a.eif'), join(dir, 'b.eif'), ...(json ? ['--json'] : [])]);
  const j = await run(true);
  return { status: j.code, json: JSON.parse(j.stdout), text: (await run(false)).stdout };
}

test('a repeated member name: the differing occurrence is listed by position and raw bytes', async (t) => {
  // The last "etc/app" agrees, the first differs: a name-keyed map compared only the last.
  const a = rawEif(META, [rawCpio([m('etc/app', 'good'), m('etc/app', 'same')])]);
  const b = rawEif(META, [rawCpio([m('etc/app', 'evil'), m('etc/app', 'same')])]);
  const d = await diff(t, a, b);
  assert.equal(d.status, 1);
  assert.equal(d.json.pcrs.pcr0.same, false);
  assert.equal(d.json.files.length, 1, JSON.stringify(d.json.files));
  const f = d.json.files[0];
  assert.deepEqual(f.changes, ['content']);
  assert.deepEqual(f.member, { a: 0, b: 0 });
  assert.equal(f.nameHex, Buffer.from('etc/app').toString('hex'));
  assert.match(f.path, /#0 in a, #0 in b: "etc\/app" \(bytes 6574632f617070, occurrence 1 of the name\)/);
  assert.match(d.text, /occurrence 1 of the name/);
});

test('member names that are not UTF-8 are told apart by their bytes', async (t) => {
  // 0xff and 0xfe both decode to U+FFFD: a decoded-name diff saw the same file twice.
  const a = rawEif(META, [rawCpio([m([0x62, 0x69, 0x6e, 0x2f, 0xff], 'x'), m('init', '#!')])]);
  const b = rawEif(META, [rawCpio([m([0x62, 0x69, 0x6e, 0x2f, 0xfe], 'x'), m('init', '#!')])]);
  const d = await diff(t, a, b);
  assert.equal(d.status, 1);
  const byHex = new Map(d.json.files.map((f: any) => [f.nameHex, f]));
  assert.deepEqual((byHex.get('62696e2ffe') as any)?.changes, ['added']);
  assert.deepEqual((byHex.get('62696e2fff') as any)?.changes, ['removed']);
  assert.deepEqual((byHex.get('62696e2fff') as any)?.member, { a: 0 });
  assert.equal(d.json.files.length, 2);
  assert.match(d.text, /not UTF-8 \(bytes 62696e2fff\)/);
  assert.match(d.text, /bytes 62696e2ffe/);
});

test('ordinary names keep their plain path', async (t) => {
  const a = rawEif(META, [rawCpio([m('init', '#!a'), m('app', 'x')])]);
  const b = rawEif(META, [rawCpio([m('init', '#!b'), m('app', 'x')])]);
  const d = await diff(t, a, b);
  assert.deepEqual(
    d.json.files.map((f: any) => [f.path, f.changes, f.member, f.nameHex]),
    [['init', ['content'], undefined, undefined]],
  );
});
