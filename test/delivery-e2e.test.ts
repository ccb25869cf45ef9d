/**
 * Every KDM on the record (issue 19), end to end through the real CLI processes on loopback (the
 * shared enclave stack: log + witnesses + dev-kms + `keycast enclave run --nsm sim` + `keycast
 * host run`). The image pins `"deliveries": { "required": true }`; the studio's rules name its
 * audit key. Shown here:
 *  - a log that refuses the entry (here: the enclave's identity entry, while the log does not
 *    trust the simulator's root) → `keycast forward` exits 5 with DELIVERY_LOG_REFUSED, nothing on
 *    disk, nothing in the host's store; the same command once the log accepts → served, exactly
 *    one delivery entry, after the identity entry;
 *  - a third party holding the same sealed keys and rules forwards to its own projectors: a log
 *    that is down → DELIVERY_LOG_UNAVAILABLE, nothing on disk; the same command after the log
 *    returns → served, exactly one more entry;
 *  - every output has `<file>.logged.json`, checked by keycast forward itself; both deliveries
 *    are on the log (their entries read back from it) and their manifests open with the audit key
 *    to exactly the projectors each party sent to;
 *  - the studio's `monitor --deliveries` lists both with the right projectors and no alarm, and a
 *    cinema proves its KDM with `kdm logged`;
 *  - an enclave pinned without deliveries forwards as today (no delivery entry, no proof files);
 *  - no content key byte appears in any output, store file or process output.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { decodeDeliveryEntryLeaf, openManifest, parseKdmLoggedProof } from '#verifier';
import { auditPublicKey, formatEnclaveConfig, fromBase64, toBase64 } from '#verifier/build';
import { start, type Proc } from './enclave-e2e-helpers.ts';
import { KEYCAST, startStack } from './enclave-stack.ts';
import { CPL, KEY_IDS, DAY, isoZ, kdmT } from './forward-fixtures.ts';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Every entry of the log (GET /entry/N until 404): kind, and for deliveries the opened entry. */
async function logEntries(logUrl: string) {
  const out: Array<{ index: number; kind: string; count?: number; leaf: Uint8Array }> = [];
  for (let i = 0; ; i++) {
    const r = await fetch(`${logUrl}/entry/${i}`);
    if (r.status === 404) return out;
    assert.equal(r.status, 200);
    const j = (await r.json()) as { kind: string; leaf: string; count?: number };
    out.push({
      index: i,
      kind: j.kind,
      ...(j.count === undefined ? {} : { count: j.count }),
      leaf: fromBase64(j.leaf),
    });
  }
}

test('the transparent enclave: deliveries by the studio and a third party on the log, none usable before, one entry each', {
  timeout: 400_000,
}, async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'keycast-delivery-e2e-'));
  const procs: Proc[] = [];
  const outputs: string[] = [];
  t.after(() => {
    for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    rmSync(tmp, { recursive: true, force: true });
  });
  const run = async (args: string[], env?: Record<string, string>) => {
    const p = await start(args, env);
    procs.push(p);
    return p;
  };
  const keycast = (...args: string[]): Promise<Run> =>
    new Promise((done) => {
      execFile(
        process.execPath,
        [KEYCAST, ...args],
        { timeout: 180_000, maxBuffer: 64 << 20 },
        (err, stdout, stderr) => {
          outputs.push(stdout, stderr);
          done({ code: err ? (typeof err.code === 'number' ? err.code : 70) : 0, stdout, stderr });
        },
      );
    });
  const ok = async (...args: string[]) => {
    const r = await keycast(...args);
    assert.equal(r.code, 0, `keycast ${args.slice(0, 2).join(' ')}: ${r.stderr}${r.stdout}`);
    return r;
  };
  const f = (...n: string[]) => join(tmp, ...n);

  // the log starts without --trust-root: it refuses identity entries from the simulator's root
  const stack = await startStack(tmp, run);
  let log = stack.log;
  await stack.publish();
  writeFileSync(
    f('enclave-transparent.json'),
    formatEnclaveConfig({ ...stack.config(600), deliveries: { required: true } }),
  );
  const a = await stack.pair('store', 'enclave-transparent.json');
  await a.when('the enclave to hold its identity', (s) => s.code === 200 && s.body.enclave.identity.ready, 30_000);
  const status = (await a.status()).body as unknown as { enclave: { deliveries: { required: boolean } } };
  assert.deepEqual(status.enclave.deliveries, { required: true });

  const trust = [
    ...['--log', stack.log.url, '--log-key', stack.logVkey, '--witness', stack.witnessVkey],
    ...['--trust-root', f('root.pem'), '--state', f('state')],
  ];
  for (const who of ['studio', 'third'])
    await ok(
      'verify',
      'enclave',
      a.host.url,
      ...trust,
      '--publisher',
      f('signer.pem'),
      '--out',
      f(`${who}-verified.json`),
    );

  // six projectors: the studio sends to 1–3, the third party (same sealed keys and rules) to 4–6
  await ok('dev', 'certs', '--projectors', '6', '--key-pool', '2', '--out', f('pki'));
  const made = JSON.parse(readFileSync(f('pki', 'recipients.json'), 'utf8')) as {
    roots: string[];
    thumbprints: string[];
  };
  const names = readdirSync(f('pki', 'projectors'))
    .filter((n) => n.endsWith('.pem'))
    .sort();
  for (const [dir, pick] of [
    ['to-studio', names.slice(0, 3)],
    ['to-third', names.slice(3, 6)],
  ] as const) {
    mkdirSync(f(dir));
    for (const n of pick) copyFileSync(f('pki', 'projectors', n), f(dir, n));
    copyFileSync(f('pki', 'maker-ca.pem'), f(dir, 'maker-ca.pem'));
  }
  const studio = generateKeyPairSync('ed25519');
  writeFileSync(f('studio.key'), studio.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  writeFileSync(f('studio.pub'), studio.publicKey.export({ type: 'spki', format: 'pem' }));
  // the studio's audit key, as `openssl genpkey -algorithm X25519` writes it
  const audit = generateKeyPairSync('x25519');
  writeFileSync(f('audit.key'), audit.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  const now = Date.now();
  const rules = (withAudit: boolean) => ({
    type: 'keycast-forward-rules/v2',
    film: { cplId: CPL, title: 'Transparent Film' },
    contentKeyIds: KEY_IDS,
    kdmWindow: { notBefore: kdmT(now + DAY), notAfter: kdmT(now + 8 * DAY) },
    forwardFrom: isoZ(now - DAY),
    forwardUntil: isoZ(now + 5 * DAY),
    recipients: { thumbprints: [], roots: made.roots, excluded: [], roles: ['SM'] },
    formats: ['kdm'],
    limits: { maxKdmValidityDays: 14, maxRecipients: 100 },
    ...(withAudit ? { audit: { hpkeX25519: toBase64(auditPublicKey(audit.publicKey)) } } : {}),
  });
  writeFileSync(f('rules.json'), JSON.stringify(rules(true)));
  await ok('rules', 'sign', f('rules.json'), '--key', f('studio.key'), '--out', f('rules.dsse'));
  const keys = [randomBytes(16), randomBytes(16)];
  writeFileSync(
    f('keys.json'),
    JSON.stringify({
      cplId: CPL,
      keys: [
        { id: KEY_IDS[0], type: 'MDIK', key: keys[0]!.toString('hex') },
        { id: KEY_IDS[1], type: 'MDAK', key: keys[1]!.toString('hex') },
      ],
    }),
  );
  const seal = (enclave: string, rulesFile: string, out: string) =>
    ok(
      'seal',
      ...trust,
      '--enclave',
      f(enclave),
      '--keys',
      f('keys.json'),
      '--rules-key',
      f('studio.pub'),
      '--rules',
      f(rulesFile),
      '--out',
      f(out),
    );
  await seal('studio-verified.json', 'rules.dsse', 'sealed.json');

  const forward = (
    who: string,
    to: string,
    out: string,
    expires: string,
    host = a.host.url,
    sealed = 'sealed.json',
    rulesFile = 'rules.dsse',
  ) =>
    keycast(
      'forward',
      // the PCR policy by PCR0 (the log may be down: that is the point), and the log key to check deliveries
      ...['--expect-pcr0', stack.f.pcr0, '--log-key', stack.logVkey, '--trust-root', f('root.pem')],
      '--host',
      host,
      '--enclave',
      f(`${who}-verified.json`),
      '--sealed',
      f(sealed),
      '--rules',
      f(rulesFile),
      '--recipients',
      f(to),
      '--out',
      f(out),
      '--expires',
      expires,
      '--json',
    );
  const storeFiles = (store: string) => readdirSync(f(store)).filter((n) => /^forward-[0-9a-f]{64}\.json$/.test(n));
  const refusedWith = (r: Run, code: string, out: string, stored: string[]) => {
    assert.equal(r.code, 5, r.stderr + r.stdout);
    // one name per refusal: the host's code reaches the user as it is, with the status as evidence
    const j = JSON.parse(r.stdout) as { code: string; evidence: { status: number } };
    assert.equal(j.code, code);
    assert.equal(j.evidence.status, 503);
    assert.equal(existsSync(f(out)), false, 'nothing on disk');
    assert.deepEqual(storeFiles('store'), stored, 'the host stored no answer for it');
  };

  // 1. the log refuses the entry (it does not trust the simulator's root yet): 503, nothing anywhere
  const studioExpires = isoZ(Date.now() + 3600_000);
  refusedWith(
    await forward('studio', 'to-studio', 'out-studio', studioExpires),
    'DELIVERY_LOG_REFUSED',
    'out-studio',
    [],
  );
  assert.deepEqual(
    (await logEntries(log.url)).map((e) => e.kind),
    ['release'],
    'the refused request left no entry',
  );

  // the log comes back trusting the simulator's root: the SAME request is served, one entry
  await log.stop();
  log = await stack.startLog(['--trust-root', f('root.pem')]);
  procs.push(log);
  const studioRun = await forward('studio', 'to-studio', 'out-studio', studioExpires);
  assert.equal(studioRun.code, 0, studioRun.stderr + studioRun.stdout);
  assert.match(studioRun.stderr, /the delivery is on the log at index \d+/);

  // 2. the third party forwards to its own projectors with the same sealed keys and rules; the log is down
  await log.stop();
  const thirdExpires = isoZ(Date.now() + 3000_000);
  const storedBefore = storeFiles('store');
  assert.equal(storedBefore.length, 1);
  refusedWith(
    await forward('third', 'to-third', 'out-third', thirdExpires),
    'DELIVERY_LOG_UNAVAILABLE',
    'out-third',
    storedBefore,
  );
  log = await stack.startLog(['--trust-root', f('root.pem')]);
  procs.push(log);
  await a.when(
    'the host to see the log again',
    (s) => s.code === 200 && s.body.host.lastRefresh?.code === null,
    30_000,
  );
  const thirdRun = await forward('third', 'to-third', 'out-third', thirdExpires);
  assert.equal(thirdRun.code, 0, thirdRun.stderr + thirdRun.stdout);
  // served once: the same request again is a replay, and makes no entry
  const replay = await forward('third', 'to-third', 'out-third-again', thirdExpires);
  assert.equal(replay.code, 5);
  assert.equal(JSON.parse(replay.stdout).code, 'FORWARD_REPLAY');

  // 3. on the log: one identity entry, then exactly one delivery entry per request, and nothing else
  const entries = await logEntries(log.url);
  assert.deepEqual(
    entries.map((e) => e.kind),
    ['release', 'identity', 'delivery', 'delivery'],
  );
  const deliveries = entries
    .filter((e) => e.kind === 'delivery')
    .map((e) => ({ ...e, opened: decodeDeliveryEntryLeaf(e.leaf) }));
  for (const [i, [who, out, to]] of (
    [
      ['studio', 'out-studio', 'to-studio'],
      ['third', 'out-third', 'to-third'],
    ] as const
  ).entries()) {
    const index = JSON.parse(readFileSync(f(out, 'index.json'), 'utf8')) as {
      requestDigest: string;
      batches: Array<{ logIndex: number }>;
      recipients: Array<{ file: string; thumbprint: string; logged: string; subject: string }>;
    };
    const d = deliveries[i]!;
    assert.equal(d.opened.entry.requestDigest, index.requestDigest, `${who}'s request is the entry`);
    assert.equal(d.opened.entry.count, 3);
    assert.equal(d.count, 3);
    assert.equal(index.batches[0]!.logIndex, d.index);
    for (const r of index.recipients) {
      const proof = parseKdmLoggedProof(readFileSync(f(out, r.logged)));
      assert.equal(proof.entryIndex, d.index);
      assert.equal(proof.delivery.thumbprint, r.thumbprint);
    }
    // the studio's audit key opens the manifest the log serves: exactly the projectors this party sent to
    const sealedManifest = new Uint8Array(
      await (await fetch(`${log.url}/delivery-manifest/${d.opened.entry.manifest.sha256}`)).arrayBuffer(),
    );
    const manifest = await openManifest(sealedManifest, audit.privateKey, d.opened.entry.requestDigest);
    assert.deepEqual(
      manifest.recipients.map((m) => m.thumbprint),
      index.recipients.map((r) => r.thumbprint),
    );
    assert.equal(readdirSync(f(to)).filter((n) => n.endsWith('.pem')).length - 1, manifest.recipients.length);
    // no projector identity in the public entry, in any encoding
    const pub = Buffer.from(d.leaf).toString('latin1');
    for (const r of index.recipients) {
      assert.ok(!pub.includes(r.thumbprint) && !pub.includes(Buffer.from(r.thumbprint, 'base64').toString('hex')));
      assert.ok(!pub.includes(r.subject.split(',')[0]!));
    }
  }

  // the studio's monitor lists both deliveries under its rules, with the projectors each went to, and no alarm
  const mon = await ok(
    'monitor',
    '--deliveries',
    '--log',
    log.url,
    '--log-key',
    stack.logVkey,
    '--rules-key',
    f('studio.pub'),
    '--audit-key',
    f('audit.key'),
    '--once',
    '--json',
  );
  const watched = JSON.parse(mon.stdout) as {
    deliveries: Array<{
      index: number;
      count: number;
      recipients: Array<{ thumbprint: string }>;
      enclave: { pcr0: string };
    }>;
    alarms: unknown[];
  };
  assert.deepEqual(watched.alarms, []);
  assert.deepEqual(
    watched.deliveries.map((x) => x.index),
    deliveries.map((x) => x.index),
  );
  for (const [i, out] of ['out-studio', 'out-third'].entries()) {
    const idx = JSON.parse(readFileSync(f(out, 'index.json'), 'utf8')) as {
      recipients: Array<{ thumbprint: string; file: string; logged: string }>;
    };
    assert.deepEqual(
      watched.deliveries[i]!.recipients.map((r) => r.thumbprint),
      idx.recipients.map((r) => r.thumbprint),
    );
    assert.equal(watched.deliveries[i]!.enclave.pcr0, stack.f.pcr0);
    // a cinema proves its KDM is on the record
    const one = idx.recipients[1]!;
    await ok(
      'kdm',
      'logged',
      f(out, one.file),
      '--proof',
      f(out, one.logged),
      '--log',
      log.url,
      '--log-key',
      stack.logVkey,
      '--trust-root',
      f('root.pem'),
    );
  }
  // the host counted one delivery round trip per served request (and the one that found the log down)
  const metrics = await (await fetch(`${a.host.url}/metrics`)).text();
  assert.match(metrics, /^keycast_delivery_log_round_trips_total\{step="delivery",outcome="ok"\} 2$/m);
  assert.match(
    metrics,
    /^keycast_delivery_log_round_trips_total\{step="delivery",outcome="DELIVERY_LOG_UNAVAILABLE"\} 1$/m,
  );

  // 4. an enclave pinned without deliveries forwards as today: no entry, no proof files
  const plain = await stack.pair('store-plain');
  await plain.when(
    'the plain enclave to hold its identity',
    (s) => s.code === 200 && s.body.enclave.identity.ready,
    30_000,
  );
  await ok(
    'verify',
    'enclave',
    plain.host.url,
    ...trust,
    '--publisher',
    f('signer.pem'),
    '--out',
    f('plain-verified.json'),
  );
  writeFileSync(f('rules-plain.json'), JSON.stringify(rules(false)));
  await ok('rules', 'sign', f('rules-plain.json'), '--key', f('studio.key'), '--out', f('rules-plain.dsse'));
  await seal('plain-verified.json', 'rules-plain.dsse', 'sealed-plain.json');
  const plainRun = await forward(
    'plain',
    'to-studio',
    'out-plain',
    isoZ(Date.now() + 3600_000),
    plain.host.url,
    'sealed-plain.json',
    'rules-plain.dsse',
  );
  assert.equal(plainRun.code, 0, plainRun.stderr + plainRun.stdout);
  assert.equal(readdirSync(f('out-plain')).filter((n) => n.endsWith('.logged.json')).length, 0);
  assert.equal((await logEntries(log.url)).filter((e) => e.kind === 'delivery').length, 2);
  // and the transparent enclave refuses rules without an audit key
  await seal('studio-verified.json', 'rules-plain.dsse', 'sealed-noaudit.json');
  const noAudit = await forward(
    'studio',
    'to-studio',
    'out-noaudit',
    isoZ(Date.now() + 3600_000),
    a.host.url,
    'sealed-noaudit.json',
    'rules-plain.dsse',
  );
  assert.equal(noAudit.code, 5);
  assert.equal(JSON.parse(noAudit.stdout).code, 'FORWARD_AUDIT_REQUIRED');
  await plain.stop();
  await a.stop();

  // 5. the content keys' bytes appear in no output file, store file or process output
  const walk = (d: string): string[] =>
    readdirSync(d).flatMap((n) => (statSync(join(d, n)).isDirectory() ? walk(join(d, n)) : [join(d, n)]));
  const texts = [
    ...outputs,
    ...procs.map((p) => p.out()),
    ...[...walk(f('out-studio')), ...walk(f('out-third')), ...walk(f('store'))].map((x) =>
      readFileSync(x).toString('latin1'),
    ),
  ];
  for (const k of keys)
    for (const form of [k.toString('hex'), k.toString('base64'), k.toString('latin1')])
      assert.ok(!texts.some((x) => x.includes(form)), 'a content key appeared in an output of the run');
});
