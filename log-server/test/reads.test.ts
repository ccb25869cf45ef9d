/**
 * Two logs in one process keep their own checkpoint state: the parsed-checkpoint cache is per log,
 * so interleaved appends answer each client with its own log's root and checkpoint.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { noteVerifier, openNote, parseCheckpoint } from '#verifier';
import { fromBase64, splitNote, toBase64 } from '#verifier/build';
import { addEntry } from '../src/add.ts';
import { readCheckpointRoot } from '../src/reads.ts';
import { leafBundle, startTestLog } from './helpers.ts';

type Tle = { inclusionProof: { rootHash: string; treeSize: string; checkpoint: { envelope: string } } };

test("two logs in one process never see each other's checkpoint", async (t) => {
  const a = await startTestLog();
  const b = await startTestLog();
  t.after(async () => {
    await a.close();
    await b.close();
  });
  for (let i = 0; i < 4; i++) {
    for (const [l, other, name] of [
      [a, b, 'a'],
      [b, a, 'b'],
    ] as const) {
      const r = await addEntry(l.log, leafBundle(`${name}-${i}${name === 'b' ? '-more' : ''}`));
      const tle = r.transparencyLogEntry as Tle;
      const note = tle.inclusionProof.checkpoint.envelope;
      openNote(note, [noteVerifier(l.vkey)]); // signed by this log
      assert.throws(
        () => openNote(note, [noteVerifier(other.vkey)]),
        `log ${name}'s checkpoint is not the other log's`,
      );
      const cp = parseCheckpoint(splitNote(note).text);
      assert.equal(tle.inclusionProof.rootHash, toBase64(cp.rootHash));
      assert.equal(toBase64(readCheckpointRoot(l.log, l.log.sequencer.current)), toBase64(cp.rootHash));
    }
  }
  // the cache is per log: reading B's checkpoint does not evict A's parsed root
  const ra = readCheckpointRoot(a.log, a.log.sequencer.current);
  const rb = readCheckpointRoot(b.log, b.log.sequencer.current);
  assert.equal(readCheckpointRoot(a.log, a.log.sequencer.current), ra);
  assert.equal(readCheckpointRoot(b.log, b.log.sequencer.current), rb);
  assert.notDeepEqual(fromBase64(toBase64(ra)), rb);
});
