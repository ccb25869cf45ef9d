/**
 * Forwarding end to end through the real CLI processes on loopback (the shared enclave stack:
 * log + witness + dev-kms + `keycast enclave run --nsm sim` + `keycast host run`): the studio
 * verifies the enclave (`verify enclave --out`), generates ~200 projectors (`dev certs`), signs
 * rules allowing the maker's root with one projector excluded (`rules sign`), seals two content
 * keys (`seal`) and runs `keycast forward` through the host. Every KDM validates against the
 * ST 430-1 XSD and decrypts with its projector's key to exactly the keys sealed; the receipt and
 * one delivery verify with `receipt verify`. A request naming the excluded projector, the same
 * request replayed, and rules signed by another key are refused with the enclave's code and
 * write nothing. The content keys' bytes appear in no output file, stdout/stderr or host store.
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
import { createPrivateKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { decryptKdm, parseKdm } from '#verifier';
import { start, type Proc } from './enclave-e2e-helpers.ts';
import { KEYCAST, startStack } from './enclave-stack.ts';
import { parseExposition, seriesKey } from './prometheus-text.ts';
import { CPL, KEY_IDS, DAY, isoZ, kdmT } from './forward-fixtures.ts';
import { toolsMissing, xsdValidate } from './kdm-tools.ts';

const PROJECTORS = 200;
const EXCLUDED = 7; // 1-based, as dev certs names the files

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

test('keycast forward through the host: ~200 KDMs that decrypt to the keys sealed, refusals write nothing, no key bytes anywhere', {
  timeout: 300_000,
}, async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'keycast-forward-e2e-'));
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

  // the enclave, logged and holding its identity; the studio verifies it
  const stack = await startStack(tmp, run);
  await stack.publish();
  const a = await stack.pair('store');
  await a.when('the enclave to hold its identity', (s) => s.code === 200 && s.body.enclave.identity.ready, 30_000);
  await ok(
    'verify',
    'enclave',
    a.host.url,
    '--log',
    stack.log.url,
    '--log-key',
    stack.logVkey,
    '--witness',
    stack.witnessVkey,
    '--publisher',
    f('signer.pem'),
    '--trust-root',
    f('root.pem'),
    '--state',
    f('state'),
    '--out',
    f('enclave-verified.json'),
  );

  // projectors, rules (the maker's root, one projector excluded), the studio key, the sealed keys
  await ok('dev', 'certs', '--projectors', String(PROJECTORS), '--key-pool', '4', '--out', f('pki'));
  const made = JSON.parse(readFileSync(f('pki', 'recipients.json'), 'utf8')) as {
    roots: string[];
    thumbprints: string[];
  };
  const studio = generateKeyPairSync('ed25519');
  writeFileSync(f('studio.key'), studio.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  writeFileSync(f('studio.pub'), studio.publicKey.export({ type: 'spki', format: 'pem' }));
  const other = generateKeyPairSync('ed25519');
  writeFileSync(f('other.key'), other.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  const now = Date.now();
  const window = { notBefore: kdmT(now + DAY), notAfter: kdmT(now + 8 * DAY) };
  writeFileSync(
    f('rules.json'),
    JSON.stringify({
      type: 'keycast-forward-rules/v2',
      film: { cplId: CPL, title: 'E2E Film' },
      contentKeyIds: KEY_IDS,
      kdmWindow: window,
      forwardFrom: isoZ(now - DAY),
      forwardUntil: isoZ(now + 5 * DAY),
      recipients: { thumbprints: [], roots: made.roots, excluded: [made.thumbprints[EXCLUDED - 1]!], roles: ['SM'] },
      formats: ['kdm', 'raw-rsa-oaep', 'raw-hpke'],
      limits: { maxKdmValidityDays: 14, maxRecipients: 1000 },
    }),
  );
  await ok('rules', 'sign', f('rules.json'), '--key', f('studio.key'), '--out', f('rules.dsse'));
  await ok('rules', 'sign', f('rules.json'), '--key', f('other.key'), '--out', f('rules-other.dsse'));
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
  const trust = [
    ...['--log', stack.log.url, '--log-key', stack.logVkey, '--witness', stack.witnessVkey],
    ...['--trust-root', f('root.pem'), '--state', f('state')],
  ];
  await ok(
    'seal',
    ...trust,
    '--enclave',
    f('enclave-verified.json'),
    '--keys',
    f('keys.json'),
    '--rules-key',
    f('studio.pub'),
    '--rules',
    f('rules.dsse'),
    '--out',
    f('sealed.json'),
  );
  rmSync(f('keys.json')); // the studio's plaintext keys are not an output of the run

  // the recipients: every projector but the excluded one, and the maker CA (sent as intermediate)
  const names = readdirSync(f('pki', 'projectors'))
    .filter((n) => n.endsWith('.pem'))
    .sort();
  const excludedName = `${String(EXCLUDED).padStart(6, '0')}.pem`;
  mkdirSync(f('allowed'));
  mkdirSync(f('all'));
  for (const n of names) {
    copyFileSync(f('pki', 'projectors', n), f('all', n));
    if (n !== excludedName) copyFileSync(f('pki', 'projectors', n), f('allowed', n));
  }
  for (const d of ['allowed', 'all']) copyFileSync(f('pki', 'maker-ca.pem'), f(d, 'maker-ca.pem'));
  const expires = isoZ(Date.now() + 3600_000);
  const forward = (out: string, recipients = 'allowed', rules = 'rules.dsse') =>
    keycast(
      'forward',
      ...trust,
      '--host',
      a.host.url,
      '--enclave',
      f('enclave-verified.json'),
      '--sealed',
      f('sealed.json'),
      '--rules',
      f(rules),
      '--recipients',
      f(recipients),
      '--out',
      f(out),
      '--expires',
      expires, // one instant for every run: sending the same request again is a replay
      '--json',
    );

  // 1. an excluded projector refuses the whole request, naming it; nothing is written
  const refused = await forward('out-refused', 'all');
  assert.equal(refused.code, 5, refused.stderr + refused.stdout);
  const rj = JSON.parse(refused.stdout) as {
    code: string;
    evidence: { recipient: { index: number; thumbprint: string } };
  };
  assert.equal(rj.code, 'FORWARD_RECIPIENT_NOT_ALLOWED');
  assert.deepEqual(
    [rj.evidence.recipient.index, rj.evidence.recipient.thumbprint],
    [EXCLUDED - 1, made.thumbprints[EXCLUDED - 1]],
  );
  assert.match(refused.stderr, /FORWARD_RECIPIENT_NOT_ALLOWED for recipient 6 .*000007\.pem/);
  assert.equal(existsSync(f('out-refused')), false);

  // 2. the allowed ones: one KDM per projector, receipt verified before writing
  const sent = await forward('out');
  assert.equal(sent.code, 0, sent.stderr + sent.stdout);
  assert.match(sent.stderr, /receipt verified/);
  assert.match(sent.stderr, /every KDM carries the attested KDM signer chain/);
  const index = JSON.parse(readFileSync(f('out', 'index.json'), 'utf8')) as {
    recipients: Array<{ index: number; file: string; proof: string; source: string; thumbprint: string }>;
  };
  assert.equal(index.recipients.length, PROJECTORS - 1);
  const files = index.recipients.map((r) => f('out', r.file));
  assert.equal(new Set(files).size, PROJECTORS - 1);
  const missing = toolsMissing();
  if (missing) t.diagnostic(`XSD check skipped: ${missing}`);
  else assert.equal(xsdValidate(files), null);
  for (const r of index.recipients) {
    const kdm = parseKdm(new Uint8Array(readFileSync(f('out', r.file))));
    assert.deepEqual([kdm.cplId, kdm.notBefore, kdm.notAfter], [CPL, window.notBefore, window.notAfter]);
    const got = decryptKdm(
      kdm,
      createPrivateKey(
        readFileSync(r.source.replace(/\.pem$/, '.key').replace(/[/\\]allowed[/\\]/, '/pki/projectors/')),
      ),
    );
    assert.deepEqual(
      got.map((k) => [k.id, k.type, Buffer.from(k.key).toString('hex')]),
      [
        [KEY_IDS[0], 'MDIK', keys[0]!.toString('hex')],
        [KEY_IDS[1], 'MDAK', keys[1]!.toString('hex')],
      ],
    );
    for (const k of got) k.key.fill(0);
  }
  const sample = index.recipients[42]!;
  const rv = await ok(
    'receipt',
    'verify',
    f('out', 'receipt.json'),
    '--enclave',
    f('enclave-verified.json'),
    '--trust-root',
    f('root.pem'),
    '--delivery',
    f('out', sample.file),
    '--proof',
    f('out', sample.proof),
  );
  assert.match(rv.stdout, new RegExp(`${PROJECTORS - 1} kdm deliveries`));
  assert.match(rv.stdout, /delivery #42 /);

  // 3. the same request again: the enclave serves a request once (FORWARD_REPLAY), nothing written
  const replayed = await forward('out-replayed');
  assert.equal(replayed.code, 5);
  assert.equal(JSON.parse(replayed.stdout).code, 'FORWARD_REPLAY');
  assert.equal(existsSync(f('out-replayed')), false);

  // 4. rules signed by another key than the one the sealed keys name
  const foreign = await forward('out-foreign', 'allowed', 'rules-other.dsse');
  assert.equal(foreign.code, 5);
  assert.equal(JSON.parse(foreign.stdout).code, 'RULES_SIGNATURE');
  assert.equal(existsSync(f('out-foreign')), false);
  assert.equal((await a.status()).code, 200, 'the enclave keeps serving');

  // 5. the host's /metrics counted it all: one forward, one KDM per allowed projector, refusals by code
  const metrics = parseExposition(await (await fetch(`${a.host.url}/metrics`)).text());
  const m = (name: string, labels: Record<string, string>) => metrics.samples.get(seriesKey(name, labels));
  assert.equal(m('keycast_forwards_total', { format: 'kdm' }), 1);
  assert.equal(m('keycast_kdms_total', { format: 'kdm' }), PROJECTORS - 1);
  for (const code of ['FORWARD_RECIPIENT_NOT_ALLOWED', 'RULES_SIGNATURE'])
    assert.equal(m('keycast_enclave_refusals_total', { code }), 1, code);
  // a replay is refused by the host from its store of served digests, before the enclave sees it
  assert.equal(m('keycast_host_refusals_total', { code: 'FORWARD_REPLAY' }), 1);
  await a.stop();

  // 5. the content keys' bytes appear in no output file, no stdout/stderr, no host store file
  const walk = (d: string): string[] =>
    readdirSync(d).flatMap((n) => (statSync(join(d, n)).isDirectory() ? walk(join(d, n)) : [join(d, n)]));
  const texts = [
    ...outputs,
    ...procs.map((p) => p.out()),
    ...[...walk(f('out')), ...walk(f('store')), f('sealed.json')].map((x) => readFileSync(x).toString('latin1')),
  ];
  assert.ok(
    walk(f('store')).some((n) => /forward-[0-9a-f]{64}\.json$/.test(n)),
    'the host stored the answer',
  );
  for (const k of keys) {
    for (const form of [
      k.toString('hex'),
      k.toString('hex').toUpperCase(),
      k.toString('base64'),
      k.toString('base64url'),
      k.toString('latin1'),
    ]) {
      assert.ok(!texts.some((x) => x.includes(form)), 'a content key appeared in an output of the run');
    }
  }
});
