/**
 * Parse once (issue 18): the gate reads its pinned configuration's keys once, when the config is
 * parsed at boot, and a submitted bundle's tlog-proof once for the whole decision — its
 * checkpoint note split and parsed once, and not again when the open door is re-checked. Counted
 * from the outside: the config's key fields and the read proof's parts are getters that count.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { noteVerifier, parseEnclaveConfig, readTlogProof, verifyTlogProof, type ReadTlogProof } from '#verifier';
import { formatEnclaveConfig, generateNoteKey, noteSigner } from '#verifier/build';
import { Gatekeeper } from '../runtime/gatekeeper.ts';
import { GateWorld, ORIGIN, measurements, pcrMap } from '#test-kit';

/** Replaces o[k] by a getter counting its reads into `reads[name]`. */
function counted<T extends object>(o: T, k: keyof T, name: string, reads: Record<string, number>): void {
  const v = o[k];
  Object.defineProperty(o, k, {
    get: () => {
      reads[name] = (reads[name] ?? 0) + 1;
      return v;
    },
  });
}

test('the gate never parses its pinned keys again after boot: not on submit, not on re-check', () => {
  const w = new GateWorld();
  const m = measurements('parse-once');
  const index = w.publish(m);
  const config = parseEnclaveConfig(formatEnclaveConfig(w.config()));
  const reads: Record<string, number> = {};
  counted(config.log, 'vkey', 'log.vkey', reads);
  counted(config.witnesses, 'vkeys', 'witnesses.vkeys', reads);
  counted(config, 'publishers', 'publishers', reads);
  const gate = new Gatekeeper({ pcrs: pcrMap(m), config, now: () => w.now });
  assert.equal(gate.submit(w.bundle(index)).open, true);
  w.now += 10;
  assert.equal(gate.recheck().open, true);
  assert.equal(gate.submit(w.bundle(index)).open, true);
  assert.deepEqual(reads, {}, 'a decision parsed a pinned key again');
});

test("a read proof's checkpoint note is split and parsed once, and verifies as its text does", () => {
  const w = new GateWorld();
  const index = w.publish(measurements('parse-once'));
  const config = w.config();
  const text = w.bundle(index).proof;
  const read = readTlogProof(text);
  const reads: Record<string, number> = {};
  let parses = 0;
  const wrapped: ReadTlogProof = {
    ...read,
    parsedCheckpoint: () => {
      parses++;
      return read.parsedCheckpoint();
    },
  };
  counted(wrapped, 'note', 'note', reads);
  const opts = {
    leaf: w.tree.entry(index),
    logVerifier: noteVerifier(config.log.vkey),
    origin: config.log.origin,
    witnessPolicy: { witnesses: config.witnesses.vkeys, threshold: 2 },
    now: w.now,
  };
  assert.deepEqual(verifyTlogProof(wrapped, opts), verifyTlogProof(text, opts));
  assert.deepEqual(reads, { note: 1 });
  assert.equal(parses, 1);
  // a forged checkpoint is still refused for its signature, before its text is parsed
  const forged = readTlogProof(w.bundle(index, { checkpointSigner: noteSigner(generateNoteKey(ORIGIN).skey) }).proof);
  let forgedParses = 0;
  assert.throws(
    () =>
      verifyTlogProof(
        {
          ...forged,
          parsedCheckpoint: () => {
            forgedParses++;
            return forged.parsedCheckpoint();
          },
        },
        opts,
      ),
    (e: Error & { code?: string }) => e.code === 'NOTE_UNVERIFIED' || e.code === 'NOTE_BAD_SIGNATURE',
  );
  assert.equal(forgedParses, 0);
});
