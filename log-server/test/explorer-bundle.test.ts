/**
 * The explorer's verifier bundle (log-server/src/explorer/verifier.js) is generated, current, and
 * the verifier: rebuilt from verifier/browser.ts it is byte-identical to the committed file, it
 * carries no node: import and no WebCrypto re-implementation, and run here (with its @noble
 * provider) it reaches the same verdicts as #verifier on Node — a signed checkpoint opens, a
 * forged one is refused with the same code, inclusion proofs pass and tampered ones fail.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { noteVerifier, openCheckpoint, isVerifierError } from '#verifier';
import {
  MemoryTree,
  generateNoteKey,
  noteSigner,
  signNote,
  formatCheckpoint,
  proveInclusion,
  hashLeaf,
  utf8,
  toBase64,
} from '#verifier/build';
// @ts-expect-error the generated bundle is untyped JavaScript; it is typed as #verifier's subset below
import * as browser from '../src/explorer/verifier.js';

const ROOT = resolve(import.meta.dirname, '../..');
const BUNDLE = resolve(ROOT, 'log-server/src/explorer/verifier.js');

test('the committed bundle is what scripts/build-explorer-verifier.mjs builds now', async () => {
  const r = await new Promise<{ code: number; out: string }>((done) => {
    execFile(
      process.execPath,
      [resolve(ROOT, 'scripts/build-explorer-verifier.mjs'), '--check'],
      { cwd: ROOT, timeout: 60_000 },
      (err, stdout, stderr) => done({ code: err ? 1 : 0, out: stdout + stderr }),
    );
  });
  assert.equal(r.code, 0, r.out);
  const text = readFileSync(BUNDLE, 'utf8');
  assert.doesNotMatch(text, /from\s*["']node:|require\(["']node:/, 'no Node built-ins in the browser bundle');
  assert.doesNotMatch(text, /crypto\.subtle/, 'no WebCrypto re-implementation: the provider is @noble');
});

test('the bundle reaches the same verdicts as the verifier on Node', () => {
  const origin = 'bundle.keycast.test/log';
  const key = generateNoteKey(origin);
  const tree = new MemoryTree();
  for (let i = 0; i < 37; i++) tree.append(utf8(`entry ${i}`));
  const note = signNote(formatCheckpoint({ origin, size: tree.size, rootHash: tree.root(), extensions: [] }), [
    noteSigner(key.skey),
  ]);
  const B = browser as unknown as typeof import('#verifier') & typeof import('#verifier/build');
  const fromBrowser = B.openCheckpoint(note, B.noteVerifier(key.vkey), origin).checkpoint;
  const fromNode = openCheckpoint(note, noteVerifier(key.vkey), origin).checkpoint;
  assert.deepEqual(
    { ...fromBrowser, rootHash: toBase64(fromBrowser.rootHash) },
    { ...fromNode, rootHash: toBase64(fromNode.rootHash) },
  );
  const forged = note.replace(`\n37\n`, '\n36\n');
  const codeOf = (fn: () => unknown) => {
    try {
      fn();
      return 'accepted';
    } catch (e) {
      return (e as { code?: string }).code;
    }
  };
  const browserCode = codeOf(() => B.openCheckpoint(forged, B.noteVerifier(key.vkey), origin));
  assert.equal(
    browserCode,
    codeOf(() => openCheckpoint(forged, noteVerifier(key.vkey), origin)),
  );
  assert.notEqual(browserCode, 'accepted');
  assert.ok(
    B.isVerifierError(new B.VerifierError('MALFORMED', 'x')) && !isVerifierError(new B.VerifierError('MALFORMED', 'x')),
    'the bundle carries its own copy of the classes',
  );
  for (const i of [0, 17, 36]) {
    const proof = proveInclusion(i, tree.size, tree.hashReader());
    B.checkInclusion(proof, i, tree.size, B.hashLeaf(tree.entry(i)), fromBrowser.rootHash);
    assert.deepEqual(Uint8Array.from(B.hashLeaf(tree.entry(i))), Uint8Array.from(hashLeaf(tree.entry(i))));
    const bad = proof.map((h) => h.slice());
    bad[0]![0]! ^= 1;
    assert.throws(
      () => B.checkInclusion(bad, i, tree.size, B.hashLeaf(tree.entry(i)), fromBrowser.rootHash),
      (e: unknown) => (e as { code?: string }).code === 'ROOT_MISMATCH',
    );
  }
});
