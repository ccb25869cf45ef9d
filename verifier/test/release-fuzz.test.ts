/**
 * Property tests for the attacker-facing parsers of release entries: whatever bytes arrive —
 * random JSON, or a valid bundle/leaf with bytes flipped, cut or inserted — verifyEntryBundle and
 * decodeLeaf either refuse with a coded VerifierError or accept exactly the signed statement
 * (never a different one, never an uncoded exception).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { verifyEntryBundle, decodeLeaf, isVerifierError } from '../index.ts';
import { newKey, makeBundle, releaseStatement } from './release-fixtures.ts';

const key = newKey();
const policy = { allowedSigners: [key.pem] };
const bundleText = JSON.stringify(makeBundle(releaseStatement(), key));
const good = verifyEntryBundle(bundleText, policy);

const mutation = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ op: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
);

function mutate(
  bytes: Uint8Array,
  ms: Array<{ op: 'flip' | 'cut' | 'insert'; at: number; bit?: number; byte?: number }>,
): Uint8Array {
  let b = Buffer.from(bytes);
  for (const m of ms) {
    const at = m.at % Math.max(1, b.length);
    if (m.op === 'flip') b[at] = b[at]! ^ (1 << m.bit!);
    else if (m.op === 'cut') b = b.subarray(0, at);
    else b = Buffer.concat([b.subarray(0, at), Buffer.from([m.byte!]), b.subarray(at)]);
  }
  return b;
}

function onlyCoded(fn: () => { statement: unknown }): void {
  try {
    const e = fn();
    assert.deepEqual(e.statement, good.statement, 'accepted a statement that was not signed');
  } catch (e) {
    assert.ok(isVerifierError(e), `uncoded failure: ${String(e)}`);
  }
}

test('mutated bundles are refused with a code or accepted as the signed statement', () => {
  fc.assert(
    fc.property(fc.array(mutation, { minLength: 1, maxLength: 3 }), (ms) => {
      onlyCoded(() => verifyEntryBundle(mutate(Buffer.from(bundleText), ms), policy));
    }),
    { numRuns: 400 },
  );
});

test('mutated leaves are refused with a code or decode to the signed statement', () => {
  fc.assert(
    fc.property(fc.array(mutation, { minLength: 1, maxLength: 3 }), (ms) => {
      onlyCoded(() => decodeLeaf(mutate(good.leaf, ms)));
    }),
    { numRuns: 400 },
  );
});

test('arbitrary JSON is refused with a code', () => {
  fc.assert(
    fc.property(fc.json(), (text) => {
      assert.throws(
        () => verifyEntryBundle(text, policy),
        (e: unknown) => isVerifierError(e),
      );
      assert.throws(
        () => decodeLeaf(Buffer.from(text)),
        (e: unknown) => isVerifierError(e),
      );
    }),
    { numRuns: 300 },
  );
});
