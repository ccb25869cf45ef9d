/**
 * What a studio met (issue 17), each as a regression test, in process through cli/main.ts:
 *   - a host's 503 refusal is the enclave's refusal (exit 5, its code and evidence), not exit 6;
 *   - a malformed URL is a usage error at parse time (exit 2, no stack trace);
 *   - `--out` under a missing directory is refused the same way everywhere (exit 6, naming it);
 *   - the monitor alarms when a PCR0 is released again under another source commit, and takes
 *     the README's `$L` (with --publisher), alarming on a release by a key not among them;
 *   - `--profile FILE` / KEYCAST_PROFILE pin the log flags, explicit flags winning.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLog } from '../log-server/index.ts';
import { applyProfile, errorJson, runKeycast as run } from '../cli/index.ts';
import {
  bundleOfPayload,
  listenLog,
  newPublisher,
  releaseBundle,
  releaseFields,
  type Publisher,
} from './log-fixtures.ts';

const ORIGIN = 'releases.keycast.test/answers';
const hex = (alg: string, s: string) => createHash(alg).update(s).digest('hex');

/** A release of `seed`'s measurements, but naming `commit` as its source. */
function releaseFrom(p: Publisher, seed: string, commit: string): string {
  const f = releaseFields(seed);
  const statement = {
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ name: 'enclave.eif', digest: { sha256: f.eif } }],
    predicateType: 'https://keycast.dev/release/v1',
    predicate: {
      eif: { sha256: f.eif },
      measurements: { pcr0: f.pcr0, pcr1: hex('sha384', `pcr1-${seed}`), pcr2: hex('sha384', `pcr2-${seed}`) },
      source: { repo: 'https://github.com/keycast/demo-enclave', commit },
      lock: { sha256: hex('sha256', `lock-${seed}-${commit}`) },
      builder: { version: 'keycast-0.1.0' },
    },
  };
  return bundleOfPayload(p, Buffer.from(JSON.stringify(statement)));
}

async function add(url: string, body: string): Promise<number> {
  const r = await fetch(`${url}/add-entry`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  assert.equal(r.status, 200, await r.clone().text());
  return ((await r.json()) as { index: number }).index;
}

function listen(server: Server): Promise<string> {
  return new Promise((ok) =>
    server.listen(0, '127.0.0.1', () => ok(`http://127.0.0.1:${(server.address() as { port: number }).port}`)),
  );
}

const dir = mkdtempSync(join(tmpdir(), 'keycast-answers-'));
const f = (...s: string[]) => join(dir, ...s);
const publisher = newPublisher();
writeFileSync(f('publisher.pem.pub'), publisher.publicPem);
const { vkey } = createLog(f('log'), ORIGIN);
test.after(() => rmSync(dir, { recursive: true, force: true }));

test("verify enclave: a host's 503 GATE_CLOSED is the enclave's refusal, exit 5 with its code and evidence", async (t) => {
  const refusal = {
    error: 'EnclaveError',
    code: 'GATE_CLOSED',
    message: 'the gate is closed: release 0 is revoked',
    evidence: { refusal: { code: 'RELEASE_REVOKED', message: 'revoked by entry 1' } },
  };
  const host = createServer((_req, res) =>
    res.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify(refusal)),
  );
  const url = await listen(host);
  t.after(() => host.close());
  const args = ['verify', 'enclave', url, '--log', 'http://127.0.0.1:9', '--log-key', vkey];
  const json = await run([...args, '--publisher', f('publisher.pem.pub'), '--json']);
  assert.equal(json.code, 5, json.stdout + json.stderr);
  const e = errorJson(json);
  // the enclave's own code and evidence, with where it came from added
  assert.deepEqual([(JSON.parse(json.stdout) as { error: string }).error, e.code], ['EnclaveError', 'GATE_CLOSED']);
  assert.deepEqual(e.evidence, { ...refusal.evidence, url: e.evidence.url, status: 503 });
  assert.match(String(e.evidence.url), /^http:\/\/127\.0\.0\.1:\d+\//);
  const text = await run([...args, '--publisher', f('publisher.pem.pub')]);
  assert.equal(text.code, 5);
  assert.match(text.stderr, /GATE_CLOSED: the enclave at .* refused to attest/);
  assert.match(text.stderr, /evidence:[\s\S]*"RELEASE_REVOKED"/, 'text mode prints the evidence too');
  // a 503 without a coded body stays "the host answered HTTP 503" (exit 6)
  const bare = createServer((_req, res) => res.writeHead(503).end('busy'));
  const bareUrl = await listen(bare);
  t.after(() => bare.close());
  const b = await run(['verify', 'enclave', bareUrl, ...args.slice(3), '--publisher', f('publisher.pem.pub')]);
  assert.equal(b.code, 6, b.stderr);
});

test('malformed URLs are usage errors at parse time: exit 2, the flag named, no stack trace', async () => {
  const pub = f('publisher.pem.pub');
  const pcr0 = 'ab'.repeat(48);
  const cases: Array<[string[], RegExp]> = [
    [['verify', 'release', pcr0, '--log', 'not-a-url', '--log-key', vkey, '--publisher', pub], /--log "not-a-url"/],
    [
      ['verify', 'release', pcr0, '--log', 'log.example.com/keycast', '--log-key', vkey, '--publisher', pub],
      /--log "log\.example\.com\/keycast"/,
    ],
    [['monitor', '--log', 'http://127.0.0.1:9', '--log-key', vkey, '--webhook', 'notaurl'], /--webhook "notaurl"/],
    [['monitor', '--log', 'http://127.0.0.1:9', '--log-key', vkey, '--mirror-url', 'x'], /--mirror-url "x"/],
    [['verify', 'attestation', f('nothing.cbor'), '--log', 'nope', '--log-key', vkey], /--log "nope"/],
    [['verify', 'enclave', 'host.example.com', '--log', 'http://127.0.0.1:9', '--log-key', vkey], /HOST_URL/],
    [['release', 'publish', '--log', 'ftp://log.example.com', f('b.json')], /--log "ftp:\/\/log\.example\.com"/],
    [['kms-policy', '--log', 'localhost', '--log-key', vkey], /--log "localhost"/],
    [
      ['log', 'serve', '--data', f('log'), '--listen', '127.0.0.1:0', '--witness', `${vkey}=notaurl`],
      /--witness "notaurl"/,
    ],
    [['forward', '--host', 'notaurl', '--out', f('kdms')], /--host "notaurl"/],
  ];
  for (const [args, msg] of cases) {
    const r = await run(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, msg, args.join(' '));
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
});

test('--out under a missing directory: exit 6 naming the directory, in every command, and nothing created', async () => {
  const missing = f('missing', 'dir');
  const out = join(missing, 'file');
  writeFileSync(f('any.txt'), 'x');
  const pub = f('publisher.pem.pub');
  const cases: string[][] = [
    ['release', 'keygen', '--out', out],
    [
      'release',
      'sign',
      '--eif',
      f('any.txt'),
      '--source',
      `https://github.com/a/b@${'0'.repeat(40)}`,
      '--lock',
      f('any.txt'),
      '--key',
      f('k.pem'),
      '--out',
      out,
    ],
    [
      'endorse',
      '--eif',
      f('any.txt'),
      '--source',
      `https://github.com/a/b@${'0'.repeat(40)}`,
      '--lock',
      f('any.txt'),
      '--key',
      f('k.pem'),
      '--out',
      out,
    ],
    ['build', '--out', out, '--kernel', f('any.txt'), '--init', f('any.txt'), '--rootfs', dir, '--cmdline', 'x'],
    ['rules', 'sign', f('rules.json'), '--key', f('k.pem'), '--out', out],
    ['seal', '--enclave', f('e.json'), '--keys', f('k.json'), '--rules-key', pub, '--out', out],
    [
      'verify',
      'enclave',
      'http://127.0.0.1:9',
      '--log',
      'http://127.0.0.1:9',
      '--log-key',
      vkey,
      '--publisher',
      pub,
      '--out',
      out,
    ],
    [
      'verify',
      'rebuild',
      '--lock',
      f('any.txt'),
      '--log',
      'http://127.0.0.1:9',
      '--log-key',
      vkey,
      '--publisher',
      pub,
      '--out',
      out,
    ],
    ['forward', '--host', 'http://127.0.0.1:9', '--out', out],
    ['nsm', 'test-pki', 'init', '--out', out, '--keys', 'none'],
    ['nsm', 'attest', '--out', out],
    ['dev', 'certs', '--projectors', '1', '--out', out],
  ];
  for (const args of cases) {
    const r = await run([...args, '--json']);
    assert.equal(r.code, 6, `${args.slice(0, 2).join(' ')}: ${r.stdout}${r.stderr}`);
    const e = errorJson(r);
    assert.equal(e.code, 'ENOENT', args.join(' '));
    assert.equal(e.evidence.directory, missing, args.join(' '));
    assert.match(e.message, /directory .* does not exist/);
    assert.equal(existsSync(f('missing')), false, `${args.slice(0, 2).join(' ')} created nothing`);
  }
});

test('monitor: a PCR0 released again under another commit alarms PROVENANCE_CHANGED; $L with --publisher works', async (t) => {
  const other = newPublisher();
  writeFileSync(f('other.pem.pub'), other.publicPem);
  const { url } = await listenLog(t, f('log'), [publisher.publicPem, other.publicPem], f('log-gone'));
  const L = ['--log', url, '--log-key', vkey, '--publisher', f('publisher.pem.pub')];
  await add(url, releaseBundle(publisher, 'one'));
  const clean = await run(['monitor', ...L, '--state', f('state-clean'), '--json']);
  assert.equal(clean.code, 0, clean.stdout + clean.stderr);

  // the same measurements again, from another commit: the log admits it, the monitor must say so
  const first = releaseFields('one');
  const again = await add(url, releaseFrom(publisher, 'one', 'ee'.repeat(20)));
  const r = await run(['monitor', ...L, '--state', f('state-1'), '--json']);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  const alarms = (JSON.parse(r.stdout) as { alarms: Array<{ code: string; evidence: Record<string, unknown> }> })
    .alarms;
  const p = alarms.find((a) => a.code === 'PROVENANCE_CHANGED');
  assert.ok(p, JSON.stringify(alarms));
  assert.deepEqual(p.evidence.first, {
    index: 0,
    repo: 'https://github.com/keycast/demo-enclave',
    commit: first.commit,
  });
  assert.deepEqual(p.evidence.again, {
    index: again,
    repo: 'https://github.com/keycast/demo-enclave',
    commit: 'ee'.repeat(20),
  });
  // the same commit again (a re-release of the same source) is no alarm: a monitor that saw the clean log
  // and now sees only the changed provenance alarms for it alone
  const r2 = await run(['monitor', ...L, '--state', f('state-clean'), '--json']);
  assert.equal(r2.code, 1);
  assert.deepEqual(
    (JSON.parse(r2.stdout) as { alarms: Array<{ code: string }> }).alarms.map((a) => a.code),
    ['PROVENANCE_CHANGED'],
  );

  // a release of the watched repo by a key that is not one of the studio's --publisher keys
  await add(url, releaseBundle(other, 'two'));
  const s = await run(['monitor', ...L, '--state', f('state-2'), '--json']);
  const codes = (JSON.parse(s.stdout) as { alarms: Array<{ code: string; evidence: Record<string, unknown> }> }).alarms;
  const signer = codes.find((a) => a.code === 'PUBLISHER_UNEXPECTED' && a.evidence.check === 'SIGNER_NOT_ALLOWED');
  assert.ok(signer, s.stdout);
  assert.equal(signer.evidence.signer, other.hint);
  assert.equal(s.code, 1);
});

test('--profile FILE and KEYCAST_PROFILE pin --log --log-key --witness --publisher; flags given win', async (t) => {
  const pub = newPublisher();
  const logDir = f('log-profile');
  const { vkey: pvkey } = createLog(logDir, 'releases.keycast.test/profile');
  writeFileSync(f('profile-pub.pem'), pub.publicPem);
  const { url } = await listenLog(t, logDir, [pub.publicPem], f('log-profile-gone'));
  await add(url, releaseBundle(pub, 'profiled'));
  const pcr0 = releaseFields('profiled').pcr0;
  writeFileSync(f('vkey.txt'), `${pvkey}\n`);
  // relative paths are relative to the profile's own directory
  writeFileSync(f('studio.json'), JSON.stringify({ log: url, 'log-key': 'vkey.txt', publisher: ['profile-pub.pem'] }));
  const ok = await run(['verify', 'release', pcr0, '--profile', f('studio.json'), '--state', f('st-p'), '--json']);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);

  // a profile naming a dead log: the --log given on the command line wins
  writeFileSync(
    f('dead.json'),
    JSON.stringify({ log: 'http://127.0.0.1:9', 'log-key': pvkey, publisher: f('profile-pub.pem') }),
  );
  const win = await run(['verify', 'release', pcr0, '--profile', f('dead.json'), '--log', url, '--state', f('st-p')]);
  assert.equal(win.code, 0, win.stderr);
  // …and the profile's log is used when none is given (and the dead log is then what fails: exit 3)
  process.env.KEYCAST_PROFILE = f('dead.json');
  try {
    const dead = await run(['verify', 'release', pcr0, '--state', f('st-p'), '--timeout', '1', '--json']);
    assert.equal(dead.code, 3, dead.stdout);
    const env = await run(['verify', 'release', pcr0, '--log', url, '--state', f('st-p')]);
    assert.equal(env.code, 0, env.stderr);
  } finally {
    delete process.env.KEYCAST_PROFILE;
  }

  // the argument plumbing itself: what each command takes, what wins, what is refused
  assert.deepEqual(applyProfile(['endorse'], ['--eif', 'x', '--profile', f('studio.json')], {}), [
    '--eif',
    'x',
    '--log',
    url,
    '--log-key',
    f('vkey.txt'),
  ]);
  assert.deepEqual(
    applyProfile(['monitor'], ['--publisher', 'mine.pem'], { KEYCAST_PROFILE: f('studio.json') }).filter((a) =>
      a.endsWith('.pem'),
    ),
    ['mine.pem'],
    'a repeatable flag given replaces the profile list',
  );
  assert.deepEqual(applyProfile(['build'], ['--out', 'o'], { KEYCAST_PROFILE: f('studio.json') }), ['--out', 'o']);
  writeFileSync(f('bad.json'), JSON.stringify({ log: url, logs: 'typo' }));
  assert.equal((await run(['verify', 'release', pcr0, '--profile', f('bad.json')])).code, 2, 'unknown key');
  assert.equal((await run(['verify', 'release', pcr0, '--profile', f('absent.json')])).code, 6, 'missing profile');
  assert.equal((await run(['build', '--profile', f('studio.json'), '--out', f('o')])).code, 2, 'not a studio command');
});
