/**
 * Property and fuzz tests (fast-check): format/parse round trips, and every parser and
 * checker, fed random or mutated notes, checkpoints, tile paths, bundles, keys and proofs,
 * either succeeds consistently or throws a coded VerifierError — never anything else.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import fc from 'fast-check';
import {
  parseCheckpoint,
  openNote,
  noteVerifier,
  parseVerifierKey,
  parseTlogProof,
  verifyTlogProof,
  checkInclusion,
  checkConsistency,
  checkWitnessPolicy,
  isVerifierError,
  VerifierError,
  type Checkpoint,
} from '../index.ts';
import {
  formatCheckpoint,
  signNote,
  noteSigner,
  parseTilePath,
  tilePath,
  entriesPath,
  formatTlogProof,
  decodeEntryBundle,
  encodeEntryBundle,
  toBase64,
  fromBase64,
  toHex,
  fromHex,
  utf8,
  fromHex as hex,
  parseAddCheckpoint,
  formatAddCheckpoint,
} from '../build.ts';

const VEC = resolve(import.meta.dirname, '../../testdata/tlog');
const notes = JSON.parse(readFileSync(resolve(VEC, 'signed-notes.json'), 'utf8'));
const logV = noteVerifier(notes.testKeys.log.vkey);
const RUNS = { numRuns: 400 };

/** Runs `fn`; a throw must be a VerifierError. Returns the result or undefined. */
function codedOnly<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch (e) {
    if (!(e instanceof VerifierError)) throw new Error(`uncoded error: ${String(e)}`, { cause: e });
    return undefined;
  }
}

const CHARS = [
  '\n',
  ' ',
  '+',
  '=',
  '/',
  'A',
  '0',
  '9',
  'x',
  '.',
  'p',
  '\u2014',
  '\u0000',
  '\t',
  '\ud800',
  'é',
  '—',
  '-',
];
/** A string arbitrary of small edits (delete, insert, replace, truncate, duplicate) to `s`. */
function mutated(s: string): fc.Arbitrary<string> {
  const edit = fc.tuple(
    fc.nat({ max: s.length }),
    fc.constantFrom('del', 'ins', 'rep', 'cut', 'dup'),
    fc.constantFrom(...CHARS),
  );
  return fc.array(edit, { minLength: 1, maxLength: 4 }).map((edits) => {
    let out = s;
    for (const [pos, kind, ch] of edits) {
      const p = Math.min(pos, out.length);
      if (kind === 'del') out = out.slice(0, p) + out.slice(p + 1);
      else if (kind === 'ins') out = out.slice(0, p) + ch + out.slice(p);
      else if (kind === 'rep') out = out.slice(0, p) + ch + out.slice(p + 1);
      else if (kind === 'cut') out = out.slice(0, p);
      else out = out.slice(0, p) + out.slice(p, p + 8) + out.slice(p);
    }
    return out;
  });
}
const anyString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 300 }),
  fc.string({ unit: fc.constantFrom(...CHARS), maxLength: 200 }),
);

test('fromBase64 takes only canonical padded base64', () => {
  for (const bad of [
    'AA',
    'AA=',
    'A===',
    'AA==\n',
    ' AA==',
    'A A=',
    'AB==',
    'AAB=',
    '-_8=',
    '+/8',
    'AA==AA==',
    'QQ==\u0000',
    'Zg=\u0000=',
  ]) {
    assert.throws(() => fromBase64(bad), TypeError, JSON.stringify(bad));
  }
  assert.deepEqual(fromBase64(''), new Uint8Array());
  assert.deepEqual(fromBase64('+/8='), new Uint8Array([0xfb, 0xff]));
});

test('round trip: bytes encodings', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 100 }), (b) => {
      assert.deepEqual(fromBase64(toBase64(b)), b);
      assert.deepEqual(fromHex(toHex(b)), b);
    }),
    RUNS,
  );
  fc.assert(
    fc.property(anyString, (s) => {
      for (const f of [fromBase64, fromHex]) {
        try {
          const b = f(s);
          assert.equal(f === fromBase64 ? toBase64(b) : toHex(b), f === fromHex ? s.toLowerCase() : s);
        } catch (e) {
          assert.ok(e instanceof TypeError);
        }
      }
    }),
    RUNS,
  );
});

const checkpointArb: fc.Arbitrary<Checkpoint> = fc.record({
  origin: fc.string({ minLength: 1, maxLength: 40 }).filter((s) => !/[\p{Cc}\p{Cs}]/u.test(s)),
  size: fc.maxSafeNat(),
  rootHash: fc.uint8Array({ minLength: 32, maxLength: 32 }),
  extensions: fc.array(
    fc.string({ minLength: 1, maxLength: 20 }).filter((s) => !/[\p{Cc}\p{Cs}]/u.test(s)),
    { maxLength: 3 },
  ),
});

test('round trip: checkpoints; parseCheckpoint on random and mutated text throws only CHECKPOINT_MALFORMED', () => {
  fc.assert(
    fc.property(checkpointArb, (c) => assert.deepEqual(parseCheckpoint(formatCheckpoint(c)), { ...c })),
    RUNS,
  );
  const base = formatCheckpoint({
    origin: 'example.com/log',
    size: 123456,
    rootHash: new Uint8Array(32).fill(9),
    extensions: ['x'],
  });
  fc.assert(
    fc.property(fc.oneof(anyString, mutated(base)), (s) => {
      const c = codedOnly(() => parseCheckpoint(s));
      if (c) assert.equal(formatCheckpoint(c), s, 'only canonical text parses');
    }),
    RUNS,
  );
});

test('round trip: sign/open notes; openNote on random and mutated notes throws only coded errors and never changes the text', () => {
  const signer = noteSigner(notes.testKeys.log.skey);
  const textArb = fc.string({ unit: 'grapheme', maxLength: 60 }).map((s) => s.replace(/[\p{Cc}]/gu, '') + '\n');
  fc.assert(
    fc.property(textArb, (text) => assert.equal(openNote(signNote(text, [signer]), [logV]).text, text)),
    { numRuns: 200 },
  );
  const good: string = notes.checkpoints.size8Cosigned;
  const text = good.slice(0, good.indexOf('\n\n') + 1);
  fc.assert(
    fc.property(fc.oneof(anyString, mutated(good)), (s) => {
      const opened = codedOnly(() => openNote(s, [logV]));
      if (opened) assert.equal(opened.text, text);
      codedOnly(() => openNote(utf8(s), [logV]));
    }),
    RUNS,
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (b) => void codedOnly(() => openNote(b, [logV]))),
    RUNS,
  );
});

test('witness policy on mutated cosigned notes: coded errors only', () => {
  const good: string = notes.checkpoints.size8Cosigned;
  const policy = { witnesses: [notes.testKeys.witness.vkey], threshold: 1, now: 1700000100 };
  fc.assert(
    fc.property(mutated(good), (s) => void codedOnly(() => checkWitnessPolicy(s, policy))),
    RUNS,
  );
});

test('verifier keys: random and mutated vkeys throw only KEY_MALFORMED', () => {
  const vk: string = notes.testKeys.witness.vkey;
  fc.assert(
    fc.property(fc.oneof(anyString, mutated(vk)), (s) => {
      try {
        const k = parseVerifierKey(s);
        assert.equal(k.name.length > 0, true);
      } catch (e) {
        assert.ok(isVerifierError(e, 'KEY_MALFORMED'));
      }
    }),
    RUNS,
  );
});

test('round trip: tile paths; parseTilePath accepts only canonical paths', () => {
  const tileArb = fc.record({
    level: fc.integer({ min: 0, max: 5 }),
    index: fc.integer({ min: 0, max: 2 ** 30 }),
    width: fc.integer({ min: 1, max: 256 }),
  });
  fc.assert(
    fc.property(tileArb, fc.boolean(), (t, entries) => {
      if (t.index * 256 ** (t.level + 1) > Number.MAX_SAFE_INTEGER) {
        assert.throws(() => tilePath(t), RangeError);
        return;
      }
      const p = entries ? entriesPath(t.index, t.width) : tilePath(t);
      assert.deepEqual(parseTilePath(p), { tile: { ...t, level: entries ? 0 : t.level }, entries });
    }),
    RUNS,
  );
  fc.assert(
    fc.property(fc.oneof(anyString, mutated('tile/1/x001/x234/067.p/17'), mutated('tile/entries/x012/345')), (s) => {
      try {
        const { tile, entries } = parseTilePath(s);
        assert.equal(entries ? entriesPath(tile.index, tile.width) : tilePath(tile), s);
      } catch (e) {
        assert.ok(isVerifierError(e, 'TILE_PATH_INVALID'), String(e));
      }
    }),
    RUNS,
  );
});

test('round trip: entry bundles; decodeEntryBundle on random bytes is strict', () => {
  const entries = fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 20 });
  fc.assert(
    fc.property(entries, (es) => assert.deepEqual(decodeEntryBundle(encodeEntryBundle(es)), es)),
    RUNS,
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), (b) => {
      const es = codedOnly(() => decodeEntryBundle(b));
      if (es) assert.deepEqual(encodeEntryBundle(es), b);
    }),
    RUNS,
  );
});

test('round trip: tlog-proofs; parse/verify of random and mutated proofs throw only coded errors', () => {
  const ex = notes.tlogProof;
  const cp: string = notes.checkpoints.size8;
  const proofArb = fc.record({
    index: fc.maxSafeNat(),
    extra: fc.option(fc.uint8Array({ minLength: 1, maxLength: 40 }), { nil: undefined }),
    proof: fc.array(fc.uint8Array({ minLength: 32, maxLength: 32 }), { maxLength: 10 }),
  });
  fc.assert(
    fc.property(proofArb, (p) => {
      const q =
        p.extra === undefined
          ? { index: p.index, proof: p.proof, checkpoint: cp }
          : { ...p, extra: p.extra, checkpoint: cp };
      assert.deepEqual(parseTlogProof(formatTlogProof(q)), q);
    }),
    RUNS,
  );
  const leaf = hex(ex.leafInputHex);
  const policy = { witnesses: [notes.testKeys.witness.vkey], threshold: 1 };
  fc.assert(
    fc.property(fc.oneof(anyString, mutated(ex.proof)), (s) => {
      codedOnly(() => parseTlogProof(s));
      const r = codedOnly(() =>
        verifyTlogProof(s, {
          leaf,
          logVerifier: logV,
          origin: notes.testKeys.log.name,
          witnessPolicy: policy,
          now: 1700000100,
        }),
      );
      if (r) {
        assert.equal(r.index, 5);
        assert.equal(r.checkpoint.size, 8);
      }
    }),
    RUNS,
  );
});

test('proof checkers: arbitrary sizes, indexes and hash lists give coded errors only', () => {
  const num = fc.oneof(
    fc.maxSafeNat(),
    fc.integer({ min: -5, max: 300 }),
    fc.constantFrom(NaN, Infinity, 2 ** 53, 2 ** 64, 0.5, -0),
  );
  const hashes = fc.array(fc.uint8Array({ minLength: 0, maxLength: 40 }), { maxLength: 70 });
  const h32 = fc.uint8Array({ minLength: 32, maxLength: 32 });
  fc.assert(
    fc.property(hashes, num, num, h32, h32, (p, a, b, x, y) => {
      assert.throws(
        () => checkInclusion(p, a, b, x, y),
        (e) => isVerifierError(e),
      );
      let threw: unknown;
      try {
        checkConsistency(p, a, b, x, y);
      } catch (e) {
        threw = e;
      }
      if (threw === undefined)
        assert.ok(a === b && a > 0 && toHex(x) === toHex(y) && p.length === 0, 'only equal trees pass without a proof');
      else assert.ok(isVerifierError(threw), String(threw));
    }),
    { numRuns: 1000 },
  );
});

test('round trip: tlog-witness add-checkpoint bodies; random and mutated bodies throw only coded errors', () => {
  const cp: string = notes.checkpoints.size8;
  const arb = fc.record({
    oldSize: fc.maxSafeNat(),
    proof: fc.array(fc.uint8Array({ minLength: 32, maxLength: 32 }), { maxLength: 63 }),
  });
  fc.assert(
    fc.property(arb, (r) =>
      assert.deepEqual(parseAddCheckpoint(formatAddCheckpoint({ ...r, checkpoint: cp })), { ...r, checkpoint: cp }),
    ),
    RUNS,
  );
  const body: string = notes.tlogWitnessAddCheckpoint[1].requestBody;
  fc.assert(
    fc.property(fc.oneof(anyString, mutated(body)), (s) => {
      const r = codedOnly(() => parseAddCheckpoint(s));
      if (r) assert.equal(formatAddCheckpoint(r), s);
    }),
    RUNS,
  );
});
