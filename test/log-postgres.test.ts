/**
 * The log on PostgreSQL (issue 21), in-process against a real private cluster (test/pg-cluster.ts):
 * several servers on one database sequence and integrate one history, a replay gets its first
 * index from any server, revocation rules hold across servers, the database refuses a second
 * root for one size, start-up fails closed on a tampered tree or an object-store checkpoint
 * ahead of the database, and a SQLite log migrates without changing a byte of its tree.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { checkConsistency, noteVerifier, openCheckpoint } from '#verifier';
import {
  bytesEqual,
  fromBase64,
  utf8,
  formatCheckpoint,
  signNote,
  formatSignerKey,
  cosignatureSigner,
  cosignatureVerifierKey,
  proveConsistency,
  SIG_COSIGNATURE_V1,
} from '#verifier/build';
import { randomBytes } from 'node:crypto';
import {
  MemoryObjectStore,
  addEntry,
  createLog,
  createPgLog,
  isLogError,
  migrateToPg,
  openLog,
  openPgLog,
  releasePolicy,
  buildApp,
  buildWitnessApp,
  FileWitnessState,
  WitnessClient,
} from '../log-server/index.ts';
import type { Log } from '../log-server/index.ts';
import { commands } from '../log-server/cli.ts';
import { bundleOfPayload, newPublisher, releaseBundle, releaseFields, revocationBundle } from './log-fixtures.ts';
import { pgUnavailable, startPgCluster } from './pg-cluster.ts';
import type { PgCluster } from './pg-cluster.ts';

const ORIGIN = 'pg.keycast.test/log';
const skip = pgUnavailable();
const publisher = newPublisher();
const policy = () => releasePolicy({ allowedSigners: [publisher.publicPem], workers: 0 });

let cluster: PgCluster;
let dbs = 0;
const tmp = mkdtempSync(join(tmpdir(), 'keycast-pgtest-'));

async function newLog(): Promise<{ url: string; keyFile: string; vkey: string }> {
  const url = await cluster.database(`log${dbs++}`);
  const keyFile = join(tmp, `key${dbs}`);
  const { vkey } = await createPgLog(url, ORIGIN, keyFile);
  return { url, keyFile, vkey };
}

const open = (l: { url: string; keyFile: string }, extra = {}) =>
  openPgLog(l.url, l.keyFile, { policy: policy(), pollMs: 50, ...extra });

test('PostgreSQL store', { skip: skip ?? false, timeout: 120_000 }, async (t) => {
  cluster = await startPgCluster();
  t.after(() => {
    cluster.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  await t.test(
    'two servers, one history: concurrent appends, replays answered with the first index from either',
    async () => {
      const l = await newLog();
      const a = await open(l);
      const b = await open(l);
      try {
        const results = await Promise.all(
          Array.from({ length: 40 }, (_, i) => addEntry(i % 2 ? a : b, releaseBundle(publisher, `two-${i}`))),
        );
        const indexes = results.map((r) => r.index).sort((x, y) => x - y);
        assert.deepEqual(
          indexes,
          Array.from({ length: 40 }, (_, i) => i),
          'every entry has its own index, none lost',
        );
        // A replay through the other server: the first index, marked duplicate.
        const again = await addEntry(b, releaseBundle(publisher, 'two-1'));
        assert.equal(again.index, results[1]!.index);
        assert.equal(again.duplicate, true);
        // The same new bundle to both servers at once: one index.
        const [x, y] = await Promise.all([
          addEntry(a, releaseBundle(publisher, 'both')),
          addEntry(b, releaseBundle(publisher, 'both')),
        ]);
        assert.equal(x.index, y.index);
        assert.ok(x.duplicate !== y.duplicate, 'exactly one of the two is the original');
        // Both servers converge on one checkpoint and serve the same tiles.
        for (let i = 0; i < 100 && a.sequencer.current.note !== b.sequencer.current.note; i++)
          await new Promise((r) => setTimeout(r, 20));
        assert.equal(a.sequencer.current.note, b.sequencer.current.note);
        assert.equal(a.sequencer.current.size, 41);
        assert.ok(bytesEqual(a.tiles.read('tile/0/000.p/41', 41).body, b.tiles.read('tile/0/000.p/41', 41).body));
        assert.ok(
          bytesEqual(a.tiles.read('tile/entries/000.p/41', 41).body, b.tiles.read('tile/entries/000.p/41', 41).body),
        );
        // Lookups, status statements and proofs of an entry integrated by either, read from B.
        const { pcr0 } = releaseFields('two-0');
        const app = await buildApp({ log: b });
        try {
          const lookup = await app.inject(`/lookup/pcr0/${pcr0}`);
          assert.equal(lookup.statusCode, 200);
          assert.equal(lookup.json().index, results[0]!.index);
          const status = await app.inject(`/status/${results[0]!.index}`);
          assert.equal(status.statusCode, 200);
          assert.match(status.body, /keycast\.dev\/release-status\/v1/);
          const proof = await app.inject(`/proof/inclusion?index=${results[0]!.index}&size=41`);
          assert.equal(proof.statusCode, 200);
        } finally {
          await app.close();
        }
      } finally {
        await a.close();
        await b.close();
      }
    },
  );

  await t.test('revocation rules hold across servers (checked under the sequencing lock)', async () => {
    const l = await newLog();
    const a = await open(l);
    const b = await open(l);
    try {
      const rel = await addEntry(a, releaseBundle(publisher, 'rev'));
      const { pcr0 } = releaseFields('rev');
      const rev = await addEntry(b, revocationBundle(publisher, rel.index, pcr0));
      assert.equal(rev.index, rel.index + 1);
      await assert.rejects(addEntry(a, revocationBundle(publisher, rel.index, pcr0, 'again')), (e) =>
        isLogError(e, 'REVOCATION_TARGET'),
      );
      // A new release of the retired measurement, through either server.
      const statement = JSON.parse(
        Buffer.from(JSON.parse(releaseBundle(publisher, 'rev')).dsseEnvelope.payload, 'base64').toString(),
      );
      statement.predicate.source.commit = 'e'.repeat(40);
      const again = bundleOfPayload(publisher, Buffer.from(JSON.stringify(statement)));
      await assert.rejects(addEntry(a, again), (e) => isLogError(e, 'MEASUREMENT_REVOKED'));
    } finally {
      await a.close();
      await b.close();
    }
  });

  await t.test('two roots for one size cannot both be recorded (a primary key, not a convention)', async () => {
    const l = await newLog();
    const a = await open(l);
    await addEntry(a, releaseBundle(publisher, 'fork'));
    await a.close();
    const c = new pg.Client({ connectionString: l.url });
    await c.connect();
    t.after(() => c.end());
    await assert.rejects(
      c.query(`INSERT INTO log_checkpoints (size, root, note) VALUES (1, $1, 'forged')`, [Buffer.alloc(32, 7)]),
      (e: { code?: string }) => e.code === '23505',
    );
    await assert.rejects(
      c.query(
        `INSERT INTO log_entries (idx, leaf, leaf_hash, replay_key, kind) VALUES (0, 'x', $1, 'other', 'release')`,
        [Buffer.alloc(32)],
      ),
      (e: { code?: string }) => e.code === '23505',
    );
  });

  await t.test(
    'start-up fails closed: tiles tampered, or an object-store checkpoint ahead of the database',
    async () => {
      const l = await newLog();
      const objects = new MemoryObjectStore();
      const a = await open(l, { objectStore: objects });
      for (let i = 0; i < 5; i++) await addEntry(a, releaseBundle(publisher, `fc-${i}`));
      const size = a.sequencer.current.size;
      await a.close();
      assert.ok((await objects.get('tile/0/000.p/5')) !== null, 'tiles were written to the object store');
      // A checkpoint in the bucket that the database has never reached (e.g. a database restored from an old backup).
      const key = (await import('../log-server/index.ts')).loadLogKey;
      const { readFileSync } = await import('node:fs');
      const k = key(readFileSync(l.keyFile, 'utf8').trim(), l.vkey, ORIGIN);
      const ahead = signNote(
        formatCheckpoint({ origin: ORIGIN, size: size + 3, rootHash: new Uint8Array(32), extensions: [] }),
        [k.signer],
      );
      const bucket = new MemoryObjectStore();
      await bucket.put('checkpoint', utf8(ahead), { contentType: 'text/plain', immutable: false });
      await assert.rejects(open(l, { objectStore: bucket }), (e) => {
        assert.ok(isLogError(e, 'STARTUP_MISMATCH'), String(e));
        assert.equal((e as { evidence: Record<string, unknown> }).evidence.objectSize, size + 3);
        assert.equal((e as { evidence: Record<string, unknown> }).evidence.databaseSize, size);
        return true;
      });
      // A stored hash ("tile") changed under the tree head.
      const c = new pg.Client({ connectionString: l.url });
      await c.connect();
      await c.query(`UPDATE log_hashes SET hash = $1 WHERE level = 0 AND idx = 2`, [Buffer.alloc(32, 1)]);
      await c.end();
      await assert.rejects(open(l), (e) => isLogError(e, 'STARTUP_MISMATCH'));
      // The wrong key.
      const other = await newLog();
      await assert.rejects(openPgLog(l.url, other.keyFile, { policy: policy() }), (e) => isLogError(e));
    },
  );

  await t.test(
    'witness cosignatures: whichever server integrates asks the witness, and every server serves the cosigned note',
    async () => {
      const l = await newLog();
      const wdir = mkdtempSync(join(tmp, 'witness-'));
      const skey = formatSignerKey('witness.pg.test', SIG_COSIGNATURE_V1, new Uint8Array(randomBytes(32)));
      const wapp = await buildWitnessApp({
        state: new FileWitnessState(wdir),
        signer: cosignatureSigner(skey),
        logs: [{ origin: ORIGIN, vkey: l.vkey }],
      });
      const wurl = await wapp.listen({ host: '127.0.0.1', port: 0 });
      const logs: Log[] = [];
      const withWitness = async () => {
        const client = new WitnessClient({
          witnesses: [{ vkey: cosignatureVerifierKey(skey), url: wurl }],
          timeoutMs: 2000,
          prove: (o, n) => proveConsistency(o, n, logs.at(-1)!.hashes.read),
        });
        const log = await open(l, { witnesses: client });
        logs.push(log);
        return log;
      };
      const a = await withWitness();
      try {
        await addEntry(a, releaseBundle(publisher, 'w-0'));
        assert.match(a.sequencer.current.cosigned, /— witness\.pg\.test /);
        const b = await withWitness();
        assert.equal(
          b.sequencer.current.cosigned,
          a.sequencer.current.cosigned,
          'the other server serves the cosigned note',
        );
        // B integrates next (its witness client starts at old 0 and is resynced by the witness's 409).
        const r = await addEntry(b, releaseBundle(publisher, 'w-1'));
        assert.equal(r.index, 1);
        assert.match(b.sequencer.current.cosigned, /— witness\.pg\.test /);
        assert.equal(b.sequencer.current.size, 2);
      } finally {
        for (const log of logs) await log.close();
        await wapp.close();
      }
    },
  );

  await t.test(
    'an object store holding other bytes for a tile stops the integrating server (PUBLISH_FAILED)',
    async () => {
      const l = await newLog();
      const objects = new MemoryObjectStore();
      await objects.put('tile/0/000.p/1', new Uint8Array(32).fill(9), {
        contentType: 'application/octet-stream',
        immutable: true,
      });
      const a = await open(l, { objectStore: objects });
      try {
        await assert.rejects(addEntry(a, releaseBundle(publisher, 'pf')), (e) => isLogError(e, 'PUBLISH_FAILED'));
        await assert.rejects(addEntry(a, releaseBundle(publisher, 'pf-2')), (e) => isLogError(e, 'PUBLISH_FAILED'));
        assert.equal(a.sequencer.current.size, 0, 'no checkpoint was committed past the conflicting tile');
      } finally {
        await a.close();
      }
    },
  );

  await t.test(
    'a database rolled back under a running server: it stops writing and keeps serving what it verified',
    async () => {
      const l = await newLog();
      const a = await open(l);
      try {
        for (let i = 0; i < 3; i++) await addEntry(a, releaseBundle(publisher, `rb-${i}`));
        const verified = a.sequencer.current;
        assert.equal(verified.size, 3);
        // Whoever controls the database moves the head back to an older signed checkpoint.
        const c = new pg.Client({ connectionString: l.url });
        await c.connect();
        const old = (await c.query('SELECT size, note FROM log_checkpoints WHERE size < 3 ORDER BY size DESC LIMIT 1'))
          .rows[0];
        await c.query('UPDATE log_tree_head SET size = $1, note = $2, cosigned = $2', [old.size, old.note]);
        await c.end();
        await new Promise((r) => setTimeout(r, 400)); // a few polls
        await assert.rejects(addEntry(a, releaseBundle(publisher, 'rb-after')), (e) =>
          isLogError(e, 'STARTUP_MISMATCH'),
        );
        assert.equal(
          a.sequencer.current.note,
          verified.note,
          'the server still serves the newest checkpoint it verified',
        );
        // A fresh server would open at the older head, but could not sign size 3 again with
        // another root: log_checkpoints still holds size 3 (primary key). An object store holding
        // the newer checkpoint makes it refuse to start at all (the start-up test).
      } finally {
        await a.close();
      }
    },
  );

  await t.test(
    'the database drops every connection (as in a failover): the servers reconnect, listen again and carry on',
    async () => {
      const l = await newLog();
      const a = await open(l);
      const b = await open(l);
      try {
        await addEntry(a, releaseBundle(publisher, 'drop-0'));
        const c = new pg.Client({ connectionString: l.url });
        await c.connect();
        const killed = await c.query(
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE 'keycast-log-%' AND pid <> pg_backend_pid()`,
        );
        await c.end();
        assert.ok(killed.rowCount! >= 2, 'the servers had connections to drop');
        await new Promise((r) => setTimeout(r, 200));
        const r = await addEntry(b, releaseBundle(publisher, 'drop-1')).catch(() =>
          addEntry(b, releaseBundle(publisher, 'drop-1')),
        );
        assert.equal(r.index, 1);
        for (let i = 0; i < 100 && a.sequencer.current.size < 2; i++) await new Promise((r) => setTimeout(r, 20));
        assert.equal(a.sequencer.current.size, 2, 'the other server follows again');
        assert.equal((await addEntry(a, releaseBundle(publisher, 'drop-2'))).index, 2);
      } finally {
        await a.close();
        await b.close();
      }
    },
  );

  await t.test('keycast log migrate: a SQLite log moves without changing a byte of its tree', async () => {
    const dir = join(tmp, 'sqlite');
    createLog(dir, ORIGIN);
    const sq = await openLog(dir, { policy: policy() });
    await Promise.all(Array.from({ length: 300 }, (_, i) => addEntry(sq, releaseBundle(publisher, `mig-${i}`))));
    const before = sq.sequencer.current;
    const tiles = ['tile/0/000', 'tile/0/001.p/44', 'tile/1/000.p/1', 'tile/entries/001.p/44'].map(
      (p) => sq.tiles.read(p, before.size).body,
    );
    await sq.close();
    const url = await cluster.database('migrated');
    const migrate = commands.find((c) => c.path.join(' ') === 'log migrate')!;
    assert.equal(await migrate.run(['--from', dir, '--to', url]), 0, 'keycast log migrate --from DIR --to URL');
    const r = { vkey: sq.key.vkey };
    const moved = await openPgLog(url, join(dir, 'log.key'), { policy: policy() });
    try {
      assert.equal(moved.sequencer.current.cosigned, before.cosigned, 'the same checkpoint, byte for byte');
      ['tile/0/000', 'tile/0/001.p/44', 'tile/1/000.p/1', 'tile/entries/001.p/44'].forEach((p, i) =>
        assert.ok(bytesEqual(moved.tiles.read(p, before.size).body, tiles[i]!), `${p} unchanged`),
      );
      // The migrated log grows, and its new checkpoint is consistent with the SQLite one.
      await addEntry(moved, releaseBundle(publisher, 'after-migration'));
      const v = noteVerifier(r.vkey);
      const old = openCheckpoint(before.note, v, ORIGIN).checkpoint;
      const now = openCheckpoint(moved.sequencer.current.note, v, ORIGIN).checkpoint;
      assert.equal(now.size, 301);
      const app = await buildApp({ log: moved });
      const res = await app.inject(`/proof/consistency?old=${old.size}&new=${now.size}`);
      const proof = res.json().hashes.map(fromBase64);
      checkConsistency(proof, old.size, now.size, old.rootHash, now.rootHash);
      await app.close();
      // A second migration into the same database is refused.
      await assert.rejects(migrateToPg(dir, url), (e) => isLogError(e, 'DATA_EXISTS'));
    } finally {
      await moved.close();
    }
  });
});

export type { Log };
