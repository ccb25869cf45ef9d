/**
 * The verifier's LogClient against the real log server on loopback (the same fetch the CLI
 * uses): publish through POST add-entry, then read everything back verified — the checkpoint,
 * hash tiles and entry bundles against it, entries with inclusion, lookups as tlog-proofs,
 * consistency between two checkpoints, revocation status — and a refusal as a coded error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LogClient, decodeLeaf, isVerifierError } from '#verifier';
import { hashLeaf } from '#verifier/build';
import { createLog } from '../log-server/index.ts';
import { listenLog, newPublisher, releaseBundle, releaseFields, revocationBundle } from './log-fixtures.ts';

const ORIGIN = 'client.keycast.test/log';

test('LogClient on loopback: add-entry, then checkpoint, tiles, bundles, proofs, lookups and status all verify', async (t) => {
  const pub = newPublisher();
  const dir = mkdtempSync(join(tmpdir(), 'keycast-client-'));
  createLog(dir, ORIGIN);
  const { log, url } = await listenLog(t, dir, [pub.publicPem], dir);
  const client = new LogClient({ url, fetch: globalThis.fetch, logKey: log.key.vkey });
  const first = await client.checkpoint();
  assert.deepEqual([first.checkpoint.origin, first.checkpoint.size], [ORIGIN, 0]);

  const added = [];
  for (let i = 0; i < 3; i++) added.push(await client.addEntry(releaseBundle(pub, `v${i}`)));
  assert.deepEqual(
    added.map((a) => [a.index, a.duplicate]),
    [
      [0, false],
      [1, false],
      [2, false],
    ],
  );
  assert.equal((await client.addEntry(releaseBundle(pub, 'v1'))).duplicate, true);
  const mid = await client.checkpoint();
  await client.addEntry(revocationBundle(pub, 1, releaseFields('v1').pcr0));
  const cp = await client.checkpoint();
  assert.equal(cp.checkpoint.size, 4);
  await client.consistencyProof(mid, cp);
  await client.consistencyProof(first, cp);

  assert.equal((await client.tile(0, 0, cp)).length, 4 * 32);
  const entries = await client.entryBundle(0, cp);
  assert.equal(entries.length, 4);
  assert.equal(decodeLeaf(entries[2]!).pcr0, releaseFields('v2').pcr0);
  const e = await client.entry(2, cp);
  assert.deepEqual(hashLeaf(e.leaf), hashLeaf(entries[2]!));
  assert.deepEqual(await client.releaseStatus(1), { index: 1, status: 'revoked', revokedBy: 3 });
  assert.deepEqual(await client.releaseStatus(0), { index: 0, status: 'active' });

  const logged = await client.loggedPcr0(Buffer.from(releaseFields('v2').pcr0, 'hex'));
  assert.deepEqual([logged.index, logged.checkpoint.size], [2, 4]);
  await assert.rejects(client.loggedPcr0(Buffer.from(releaseFields('v1').pcr0, 'hex')), (err: unknown) =>
    isVerifierError(err, 'RELEASE_REVOKED'),
  );
  await assert.rejects(client.loggedPcr0(Buffer.from(releaseFields('none').pcr0, 'hex')), (err: unknown) =>
    isVerifierError(err, 'RELEASE_NOT_LOGGED'),
  );
  assert.equal((await client.lookup('commit', releaseFields('v0').commit))?.index, 0);
  assert.equal((await client.lookup('eif', releaseFields('v0').eif))?.status, 'active');

  // the log's refusals arrive as coded errors with the log's own code
  const stranger = newPublisher();
  await assert.rejects(
    client.addEntry(releaseBundle(stranger, 'x')),
    (err: unknown) => isVerifierError(err, 'LOG_REFUSED') && err.evidence.status === 403,
  );
  await assert.rejects(
    client.entry(99),
    (err: unknown) => isVerifierError(err, 'LOG_REFUSED') && err.evidence.logCode === 'NOT_FOUND',
  );
});
