/**
 * `keycast verify release` against real logs on loopback, as a studio runs it: the happy path
 * (PCR0 and bundle), memory across calls (the saved checkpoint must be extended consistently),
 * a fork (two logs with the same key and origin serving different trees) caught by the saved
 * checkpoint with both checkpoints as evidence and nothing saved, a revoked release, an unlogged
 * PCR0, and the default state directory under $XDG_STATE_HOME.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLog } from '../log-server/index.ts';
import { runKeycast } from '../cli/index.ts';
import { listenLog, newPublisher, releaseBundle, releaseFields, revocationBundle } from './log-fixtures.ts';

const ORIGIN = 'releases.keycast.test/studio';

/** `keycast ARGS` in this process (cli/main.ts, as the binary runs it), with `env` set for the call. */
async function keycast(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string; json: () => Record<string, any> }> {
  const r = await runKeycast(args, env);
  return { ...r, json: () => JSON.parse(r.stdout) };
}

async function add(url: string, body: string): Promise<{ index: number; transparencyLogEntry: unknown }> {
  const r = await fetch(`${url}/add-entry`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  assert.equal(r.status, 200, await r.clone().text());
  return (await r.json()) as { index: number; transparencyLogEntry: unknown };
}

test('verify release: happy paths, memory across calls, a fork caught with both checkpoints, revocation, unlogged', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'keycast-studio-'));
  const { vkey } = createLog(join(dir, 'a'), ORIGIN);
  cpSync(join(dir, 'a'), join(dir, 'b'), { recursive: true }); // same key, same origin: a fork waiting to happen
  const p = newPublisher();
  writeFileSync(join(dir, 'publisher.pem'), p.publicPem);
  const stranger = newPublisher();
  writeFileSync(join(dir, 'stranger.pem'), stranger.publicPem);
  const a = await listenLog(t, join(dir, 'a'), [p.publicPem], join(dir, 'a'));
  const b = await listenLog(t, join(dir, 'b'), [p.publicPem], join(dir, 'b'));
  const state = join(dir, 'state');
  const base = (url: string, publisher = 'publisher.pem', stateDir = state) => [
    '--log',
    url,
    '--log-key',
    vkey,
    '--publisher',
    join(dir, publisher),
    '--state',
    stateDir,
    '--json',
  ];

  const v1 = releaseBundle(p, 'v1');
  const pub = await add(a.url, v1);
  await add(a.url, releaseBundle(p, 'v2'));
  const pcr0 = releaseFields('v1').pcr0;

  const first = await keycast(['verify', 'release', pcr0, ...base(a.url)]);
  assert.equal(first.code, 0, first.stderr + first.stdout);
  assert.deepEqual(
    [
      first.json().logIndex,
      first.json().status,
      first.json().treeSize,
      first.json().previousTreeSize,
      first.json().publisher,
    ],
    [0, 'active', 2, null, p.hint],
  );
  const savedFiles = readdirSync(join(state, 'checkpoints'));
  assert.equal(savedFiles.length, 1);
  const savedAfterFirst = readFileSync(join(state, 'checkpoints', savedFiles[0]!), 'utf8');
  assert.match(savedAfterFirst, new RegExp(`^${ORIGIN}\\n2\\n`));

  // the bundle as published (written back with the log's entry), checked through the log too
  const published = JSON.parse(v1);
  published.verificationMaterial.tlogEntries = [pub.transparencyLogEntry];
  writeFileSync(join(dir, 'bundle.json'), JSON.stringify(published));
  await add(a.url, releaseBundle(p, 'v3'));
  const [second, offline, notPinned, unlogged] = await Promise.all([
    keycast(['verify', 'release', '--bundle', join(dir, 'bundle.json'), ...base(a.url)]),
    keycast([
      'verify',
      'release',
      '--bundle',
      join(dir, 'bundle.json'),
      '--log-key',
      vkey,
      '--publisher',
      join(dir, 'publisher.pem'),
      '--json',
    ]),
    keycast(['verify', 'release', pcr0, ...base(a.url, 'stranger.pem')]),
    keycast(['verify', 'release', releaseFields('never').pcr0, ...base(a.url)]),
  ]);
  assert.equal(second.code, 0, second.stderr + second.stdout);
  assert.deepEqual([second.json().mode, second.json().logIndex, second.json().treeSize], ['bundle', 0, 3]);
  assert.ok([2, 3].includes(second.json().previousTreeSize), 'held against the saved checkpoint');
  assert.equal(offline.code, 0, offline.stderr);
  assert.equal(offline.json().treeSize, 1, 'offline: the checkpoint inside the bundle');
  assert.deepEqual([notPinned.code, notPinned.json().code], [1, 'SIGNER_NOT_ALLOWED']);
  assert.deepEqual([unlogged.code, unlogged.json().code], [1, 'RELEASE_NOT_LOGGED']);
  const savedBeforeFork = readFileSync(join(state, 'checkpoints', savedFiles[0]!), 'utf8');
  assert.match(savedBeforeFork, new RegExp(`^${ORIGIN}\\n3\\n`));

  // log b: same key and origin, another history that also holds release v1
  await add(b.url, releaseBundle(p, 'fork-only'));
  await add(b.url, v1);
  await add(b.url, releaseBundle(p, 'fork-2'));
  await add(b.url, releaseBundle(p, 'fork-3'));
  const fork = await keycast(['verify', 'release', pcr0, ...base(b.url)]);
  assert.equal(fork.code, 1, fork.stderr + fork.stdout);
  const ev = fork.json();
  assert.equal(ev.code, 'LOG_INCONSISTENT');
  assert.match(ev.evidence.older, new RegExp(`^${ORIGIN}\\n3\\n`));
  assert.match(ev.evidence.newer, new RegExp(`^${ORIGIN}\\n4\\n`));
  assert.equal(
    readFileSync(join(state, 'checkpoints', savedFiles[0]!), 'utf8'),
    savedBeforeFork,
    'nothing unverified is saved',
  );
  // a fresh studio (no memory) would accept b: the memory is what caught it
  const fresh = await keycast(['verify', 'release', pcr0, ...base(b.url, 'publisher.pem', join(dir, 'other-state'))]);
  assert.equal(fresh.code, 0, fresh.stderr + fresh.stdout);

  // revoked: the signed status statement says so, with the statement as evidence
  await add(a.url, revocationBundle(p, 0, pcr0));
  const revoked = await keycast(['verify', 'release', pcr0, ...base(a.url)]);
  assert.deepEqual([revoked.code, revoked.json().code, revoked.json().evidence.revokedBy], [1, 'RELEASE_REVOKED', 3]);
  assert.match(revoked.json().evidence.statement, /^keycast\.dev\/release-status\/v1\n/);

  // default state directory: $XDG_STATE_HOME/keycast
  const xdg = join(dir, 'xdg');
  const dflt = await keycast(
    [
      'verify',
      'release',
      releaseFields('v2').pcr0,
      '--log',
      a.url,
      '--log-key',
      vkey,
      '--publisher',
      join(dir, 'publisher.pem'),
    ],
    { XDG_STATE_HOME: xdg },
  );
  assert.equal(dflt.code, 0, dflt.stderr);
  assert.match(dflt.stdout, /OK release #1 of releases\.keycast\.test\/studio is active/);
  assert.ok(
    existsSync(join(xdg, 'keycast', 'checkpoints')) && readdirSync(join(xdg, 'keycast', 'checkpoints')).length === 1,
  );
});
