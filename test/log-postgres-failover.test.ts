/**
 * Failover of the log on PostgreSQL (issue 21): three real `keycast log serve --store` processes
 * on one database, 500 concurrent appends spread over them, and five times the server that holds
 * the integration lock (found in pg_locks, so it is killed mid-integration) is SIGKILLed and
 * restarted. Afterwards:
 *  - every acknowledged entry is in the final tree at the index it was given, with its leaf;
 *  - no two checkpoints any server served have one size and different roots;
 *  - every served checkpoint is the root of a prefix of the one final sequence of entries,
 *    checked independently by golang.org/x/mod/sumdb/{note,tlog} (as test/go-crosscheck.test.ts),
 *    i.e. they are one append-only history.
 * The time from each kill to the next new checkpoint any server serves is measured and reported.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { noteVerifier, openCheckpoint } from '#verifier';
import { bytesEqual, hashLeaf, toBase64, toHex } from '#verifier/build';
import { commands } from '../log-server/cli.ts';
import { newPublisher, releaseBundle } from './log-fixtures.ts';
import { serveKeycast, type Served } from './enclave-e2e-helpers.ts';
import { pgUnavailable, startPgCluster } from './pg-cluster.ts';

const ORIGIN = 'failover.keycast.test/log';
const ENTRIES = 500;
const CLIENTS = 48;
const KILLS = 5;
const GOPATH = '/usr/share/gocode';

const init = commands.find((c) => c.path.join(' ') === 'log init')!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function goUnavailable(): string | null {
  const r = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return 'go is not installed (Debian golang-go)';
  if (!existsSync(join(GOPATH, 'src/golang.org/x/mod/sumdb/tlog')))
    return 'golang.org/x/mod is not installed (Debian golang-golang-x-mod-dev)';
  return null;
}

const GO_MAIN = String.raw`package main

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type Input struct {
	Vkey, Origin string
	Leaves       [][]byte
	Notes        []string
}

func main() {
	var in Input
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil { panic(err) }
	v, err := note.NewVerifier(in.Vkey)
	if err != nil { panic(err) }
	var stored []tlog.Hash
	reader := tlog.HashReaderFunc(func(ix []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(ix))
		for i, x := range ix { out[i] = stored[x] }
		return out, nil
	})
	roots := map[int64]tlog.Hash{}
	for i, leaf := range in.Leaves {
		hs, err := tlog.StoredHashes(int64(i), leaf, reader)
		if err != nil { panic(err) }
		stored = append(stored, hs...)
		n := int64(i + 1)
		h, err := tlog.TreeHash(n, reader)
		if err != nil { panic(err) }
		roots[n] = h
	}
	roots[0] = sha256.Sum256(nil) // RFC 6962 MTH({}); x/mod 0.7 answers the zero hash for size 0
	var fails []string
	for _, text := range in.Notes {
		n, err := note.Open([]byte(text), note.VerifierList(v))
		if err != nil { fails = append(fails, "note: "+err.Error()); continue }
		lines := strings.Split(n.Text, "\n")
		size, err := strconv.ParseInt(lines[1], 10, 64)
		if lines[0] != in.Origin || err != nil { fails = append(fails, "bad checkpoint text"); continue }
		root, err := base64.StdEncoding.DecodeString(lines[2])
		want, ok := roots[size]
		if err != nil || !ok || string(root) != string(want[:]) {
			fails = append(fails, fmt.Sprintf("checkpoint of size %d is not the root of that prefix of the final log", size))
		}
	}
	json.NewEncoder(os.Stdout).Encode(map[string]interface{}{"failures": fails, "checked": len(in.Notes)})
}
`;

test('three servers on one PostgreSQL database survive five SIGKILLs mid-integration without losing or forking anything', {
  skip: pgUnavailable() ?? false,
  timeout: 120_000,
}, async (t) => {
  const started = Date.now();
  const cluster = await startPgCluster();
  const dir = mkdtempSync(join(tmpdir(), 'keycast-failover-'));
  const servers: Array<Served | null> = [];
  t.after(() => {
    for (const s of servers) s?.child.kill('SIGKILL');
    cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const url = await cluster.database('failover');
  const keyFile = join(dir, 'log.key');
  // keycast log init --store … --key-out …, run in-process (the serve processes below are the real boundary).
  const out: string[] = [];
  const print = console.log;
  console.log = (line: string) => out.push(line);
  try {
    assert.equal(await init.run(['--store', url, '--origin', ORIGIN, '--key-out', keyFile, '--json']), 0);
  } finally {
    console.log = print;
  }
  const { vkey } = JSON.parse(out[0]!) as { vkey: string };
  const publisher = newPublisher();
  writeFileSync(join(dir, 'publisher.pem'), publisher.publicPem);
  const serve = () =>
    serveKeycast([
      'log',
      'serve',
      '--store',
      url,
      '--key',
      keyFile,
      '--listen',
      '127.0.0.1:0',
      '--trust-signer',
      join(dir, 'publisher.pem'),
      '--admission-workers',
      '0',
    ]);
  servers.push(...(await Promise.all([serve(), serve(), serve()])));
  const verifier = noteVerifier(vkey);

  const acked = new Map<number, string>(); // index → leaf hash hex
  const served = new Set<string>();
  const sizes: Array<{ at: number; size: number }> = [];
  const note = (cp: string) => {
    if (served.has(cp)) return;
    served.add(cp);
    sizes.push({ at: Date.now(), size: openCheckpoint(cp, verifier, ORIGIN).checkpoint.size });
  };
  const problems: string[] = [];

  // Appends: each bundle is retried, on another server, until some server acknowledges it.
  let nextSeed = 0;
  let released = 0; // appends go out in waves, one per kill, so every kill lands under load
  let turn = 0;
  const client = async () => {
    while (nextSeed < ENTRIES) {
      if (nextSeed >= released) {
        await sleep(5);
        continue;
      }
      const seed = nextSeed++;
      const body = releaseBundle(publisher, `fo-${seed}`);
      for (let attempt = 0; ; attempt++) {
        const s = servers[turn++ % servers.length];
        if (!s) {
          await sleep(20);
          continue;
        }
        try {
          const r = await fetch(`${s.url}/add-entry`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body,
          });
          const j = await r.json();
          if (r.status === 200) {
            const prior = acked.get(j.index);
            if (prior !== undefined && prior !== j.leafHash)
              problems.push(`index ${j.index} acknowledged for two leaves`);
            acked.set(j.index, j.leafHash);
            note(j.transparencyLogEntry.inclusionProof.checkpoint.envelope);
            break;
          }
          if (r.status !== 503) problems.push(`status ${r.status}: ${JSON.stringify(j)}`);
        } catch {
          // the server died mid-request: not acknowledged; try another
        }
        if (attempt > 200) {
          problems.push(`bundle ${seed} never acknowledged`);
          break;
        }
        await sleep(10);
      }
    }
  };
  let stop = false;
  const poller = async () => {
    while (!stop) {
      await Promise.all(
        servers.map(async (s) => {
          if (!s) return;
          try {
            note(await (await fetch(`${s.url}/checkpoint`)).text());
          } catch {}
        }),
      );
      await sleep(5);
    }
  };

  // The integrator: the server whose transaction holds the tree-head row lock (a server that
  // found it taken skipped it, locked no row, and so has no transaction id).
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  t.after(() => admin.end());
  const integrator = async (): Promise<number | null> => {
    const r = await admin.query(
      `SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
       WHERE l.relation = 'log_tree_head'::regclass AND l.mode = 'RowShareLock' AND l.granted
         AND a.backend_xid IS NOT NULL AND a.application_name LIKE 'keycast-log-%'`,
    );
    const m = /^keycast-log-(\d+)$/.exec(r.rows[0]?.application_name ?? '');
    return m ? Number(m[1]) : null;
  };

  const kills: Array<{ at: number; size: number; midIntegration: boolean }> = [];
  const wave = Math.ceil(ENTRIES / (KILLS + 1));
  const killer = async () => {
    for (let k = 0; k < KILLS; k++) {
      released = (k + 1) * wave;
      while (acked.size < k * wave + wave / 4) await sleep(2); // the wave is flowing
      let victim = -1;
      let mid = false;
      for (let waited = 0; waited < 3000 && victim < 0; waited += 2) {
        const pid = await integrator();
        victim = servers.findIndex((s) => s !== null && s.child.pid === pid);
        if (victim < 0) await sleep(2);
        else mid = true;
      }
      if (victim < 0) victim = k % servers.length;
      const s = servers[victim]!;
      servers[victim] = null;
      s.child.kill('SIGKILL');
      kills.push({ at: Date.now(), size: Math.max(0, ...sizes.map((x) => x.size)), midIntegration: mid });
      await once(s.child, 'exit');
      servers[victim] = await serve();
    }
    released = ENTRIES;
  };

  const polling = poller();
  await Promise.all([...Array.from({ length: CLIENTS }, client), killer()]);
  await sleep(300);
  stop = true;
  await polling;
  const loadTime = Date.now() - started;

  assert.deepEqual(problems, []);
  assert.equal(kills.length, KILLS);
  assert.ok(
    kills.filter((k) => k.midIntegration).length >= 3,
    `most kills landed mid-integration (${kills.map((k) => k.midIntegration)})`,
  );
  assert.equal(acked.size, ENTRIES, 'every bundle was acknowledged exactly once');

  // The final tree, from every server: one checkpoint.
  const finals = await Promise.all(servers.map(async (s) => (await fetch(`${s!.url}/checkpoint`)).text()));
  const heads = finals.map((n) => openCheckpoint(n, verifier, ORIGIN).checkpoint);
  for (const h of heads) assert.ok(bytesEqual(h.rootHash, heads[0]!.rootHash) && h.size === heads[0]!.size);
  for (const n of finals) note(n);
  const final = heads[0]!;
  assert.equal(final.size, ENTRIES, 'nothing logged twice, nothing lost');

  // Every leaf of the final tree, from its entry bundles (served by one server, checked against its tiles' root below).
  const leaves: Uint8Array[] = [];
  for (let n = 0; n * 256 < final.size; n++) {
    const w = Math.min(256, final.size - n * 256);
    const path = `tile/entries/${String(n).padStart(3, '0')}${w < 256 ? `.p/${w}` : ''}`;
    const b = new Uint8Array(await (await fetch(`${servers[n % 3]!.url}/${path}`)).arrayBuffer());
    for (let o = 0; o < b.length; ) {
      const len = (b[o]! << 8) | b[o + 1]!;
      leaves.push(b.subarray(o + 2, o + 2 + len));
      o += 2 + len;
    }
  }
  assert.equal(leaves.length, final.size);
  for (const [index, leafHash] of acked)
    assert.equal(toHex(hashLeaf(leaves[index]!)), leafHash, `entry ${index} is at the index it was acknowledged with`);

  // Never two checkpoints of one size with different roots.
  const rootAt = new Map<number, string>();
  for (const n of served) {
    const cp = openCheckpoint(n, verifier, ORIGIN).checkpoint;
    const r = toBase64(cp.rootHash);
    assert.equal(rootAt.get(cp.size) ?? r, r, `two roots for size ${cp.size}`);
    rootAt.set(cp.size, r);
  }

  // One append-only history, checked by golang.org/x/mod.
  const noGo = goUnavailable();
  if (noGo) t.diagnostic(`Go cross-check skipped: ${noGo}`);
  else {
    const gdir = join(dir, 'go');
    mkdirSync(gdir);
    writeFileSync(join(gdir, 'main.go'), GO_MAIN);
    const r = spawnSync('go', ['run', 'main.go'], {
      cwd: gdir,
      input: JSON.stringify({ Vkey: vkey, Origin: ORIGIN, Leaves: leaves.map(toBase64), Notes: [...served] }),
      encoding: 'utf8',
      maxBuffer: 1 << 24,
      env: {
        ...process.env,
        GO111MODULE: 'off',
        GOPATH,
        GOPROXY: 'off',
        GOFLAGS: '',
        GOCACHE: join(tmpdir(), 'keycast-go-cache'),
      },
    });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { failures: string[] | null; checked: number };
    assert.deepEqual(out.failures ?? [], []);
    assert.equal(out.checked, served.size);
  }

  // Time from each kill to the next new checkpoint any server served.
  const recoveries = kills.map((k) => {
    const next = sizes.filter((x) => x.at >= k.at && x.size > k.size).sort((a, b) => a.at - b.at)[0];
    return next ? next.at - k.at : Number.NaN;
  });
  for (const r of recoveries) assert.ok(r < 10_000, `a checkpoint followed each kill within 10 s (${recoveries})`);
  t.diagnostic(
    `${KILLS} SIGKILLs (${kills.filter((k) => k.midIntegration).length} holding the integration lock), ` +
      `${acked.size} acknowledged, ${served.size} distinct checkpoints, final size ${final.size}; ` +
      `kill → next checkpoint: ${recoveries.map((r) => `${r} ms`).join(', ')}; load phase ${loadTime} ms`,
  );
});
