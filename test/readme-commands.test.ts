/**
 * The demo and the README, from one run of the demo (`npm run demo` is `keycast demo`: cli/demo.ts's
 * runDemo, run here in process): every step of the story passes its check — build twice, log +
 * witness, sign/publish/verify with stock @sigstore/verify, simulated NSM attestation, the enclave
 * and its host (503 until logged, gate open and identity sealed through dev-kms), a studio
 * forwarding a film's keys to 300 projectors, a quiet spell with one of three witnesses down, the
 * same keys after a restart, a modified image refused, revocation shutting the gate — and, while its
 * services are up (log, witness, dev-kms, the enclave on the NSM simulator and its host, an active
 * and endorsed release), every command block of README.md runs, as written, in a shell (`sh -c`,
 * `keycast` on PATH). Only placeholders are substituted
 * (LOG_VKEY, W_VKEY, PCR0, HEX, N, X, URL, ARN, REPO@COMMIT, the example hosts and ports, files the
 * reader is assumed to have), and optional `[…]` parts are left out unless an expectation keeps them.
 *
 * The operator block is its own story in a scratch directory: it builds, starts its own log and
 * witness (on free ports for 9000/9001), signs, publishes and revokes there, and its placeholders
 * come from its own commands' output (`log init` prints LOG_VKEY, `witness vkey` W_VKEY). Its
 * studio-forwarding lines and the studio block talk to the demo's enclave, host and log.
 *
 * Each README command must match exactly one expectation below (exit code, what it prints), so a
 * command added to the README without a test here fails, as does one that stops working as written.
 * The blocks that are not keycast commands (npm ci, npm test, lint) are listed, and nothing else may be skipped.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runDemo, type LiveStack } from '../cli/index.ts';
import { freePort } from './enclave-e2e-helpers.ts';

const ROOT = resolve(import.meta.dirname, '..');
// The npm lines install, test and lint; the two studio-install lines (npm pack, then install the tarball
// and run npx keycast) are what test/verifier-package.test.ts does, offline, with the README's tarball name.
const SKIPPED = [
  'npm ci && npm run demo',
  'npm test',
  'npm run test:unit',
  '(cd verifier && npm pack --pack-destination /tmp)',
  'mkdir -p /tmp/studio && cd /tmp/studio && npm install /tmp/keycast-verifier-0.1.0.tgz && npx keycast verify release --help',
  'npm run lint',
  'npm run format',
];

/** The demo's story: every one of these checks must run (and, above, pass). */
const DEMO_CHECKS = [
  'reproducible',
  'published + sigstore',
  'rebuilt + endorsed',
  'test root not trusted by default',
  'studio verifies',
  'unwitnessed refused',
  'gate serves',
  'identity sealed',
  'enclave keys bound',
  'forwarded 300 KDMs',
  'delivery on the log',
  'studio opens manifest',
  'monitor lists delivery',
  'kdm logged',
  'projector decrypts',
  'delivery in receipt',
  'excluded refused',
  'forwarded from a DKDM',
  'quiet day open',
  'metrics',
  'restart same keys',
  'diff-eif explains',
  'unlogged refused',
  'gate refuses unlogged',
  'modified enclave refuses',
  'revoked refused',
  'gate refuses revoked',
];

interface Command {
  block: number;
  /** as written, continuation lines joined, the trailing comment removed */
  text: string;
}

/** The README's ```sh blocks, one entry per command. */
export function readmeCommands(markdown: string): Command[] {
  const out: Command[] = [];
  const blocks = [...markdown.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
  blocks.forEach((body, block) => {
    const joined = body.replace(/\s*\\\n\s*/g, ' ');
    for (const raw of joined.split('\n')) {
      const line = raw.replace(/\s+#\s.*$/, '').trim();
      if (line === '' || line.startsWith('#')) continue;
      out.push({ block, text: line });
    }
  });
  return out;
}

interface Ran {
  code: number | null;
  out: string;
}

interface Expect {
  match: RegExp;
  code?: number;
  /** stdout + stderr must match */
  says?: RegExp;
  /** a server: it must print "listening" (and is stopped after the block) */
  server?: boolean;
  /** `--follow`: it must finish one pass (its stderr line) and keep following */
  follows?: RegExp;
  /** keep the optional […] parts */
  optional?: boolean;
  before?: () => void;
  after?: (r: Ran) => void;
}

test('every README command block runs as written against the demo services', { timeout: 900_000 }, async (t) => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const all = readmeCommands(readme);
  const skipped = all.filter((c) => !c.text.startsWith('keycast ') && !/^[A-Z]+=/.test(c.text));
  assert.deepEqual(
    skipped.map((c) => c.text),
    SKIPPED,
    'only the npm lines are not run here (they install, test and lint, or are the studio install verifier-package.test.ts runs)',
  );
  const commands = all.filter((c) => !skipped.includes(c));

  const dir = mkdtempSync(join(tmpdir(), 'keycast-readme-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  writeFileSync(
    join(bin, 'keycast'),
    `#!/bin/sh\nexec "${process.execPath}" "${join(ROOT, 'bin/keycast.mjs')}" "$@"\n`,
  );
  chmodSync(join(bin, 'keycast'), 0o755);
  process.env.XDG_STATE_HOME = join(dir, 'state');
  const env = { ...process.env, PATH: `${bin}:${process.env.PATH}` };
  const servers: Array<{ stop: () => Promise<void> }> = [];
  t.after(() => Promise.all(servers.map((s) => s.stop())));
  const results: string[] = [];
  const failures: string[] = [];

  const checks = await runDemo(join(dir, 'demo'), true, async (live) => {
    await runAll(live);
  });
  assert.deepEqual(
    checks.filter((c) => !c.ok),
    [],
    'the demo around the README passes too',
  );
  const names = checks.map((c) => c.name);
  for (const must of DEMO_CHECKS) assert.ok(names.includes(must), `the demo checks ${must}`);
  assert.ok(results.length === commands.length, `ran ${results.length} of ${commands.length}: ${results.join('\n')}`);

  async function runAll(live: LiveStack): Promise<void> {
    const ops = join(live.p(), 'readme-operator');
    const studio = join(live.p(), 'readme-studio'); // a sibling of build/: the lock's relative paths hold
    mkdirSync(ops);
    mkdirSync(studio);
    const ports = Object.fromEntries(
      await Promise.all(['9000', '9001', '8443', '8080', '4600'].map(async (p) => [p, String(await freePort())])),
    );
    const found: Record<string, string> = {};
    const nonce = 'c0'.repeat(16); // not the demo's: the host refuses a nonce twice
    const repo = live.source.split('@')[0]!;

    // what the reader has before the operator block: the inputs of a build, the simulator's root
    for (const f of ['bzImage', 'init', 'nsm.ko']) copyFileSync(live.p('inputs', f), join(ops, f));
    cpSync(live.p('inputs', 'rootfs'), join(ops, 'app'), { recursive: true });
    copyFileSync(live.p('test-root.pem'), join(ops, 'root.pem'));
    copyFileSync(live.p('test-root.pem'), join(ops, 'test-root.pem'));
    // …and before the studio block: the publisher's key, the release's lock and image, a rebuild, a rebuilder key
    copyFileSync(live.p('release.pem.pub'), join(studio, 'release.pem.pub'));
    copyFileSync(live.p('build', 'builder.lock.json'), join(studio, 'builder.lock.json'));
    copyFileSync(live.p('build', 'enclave.eif'), join(studio, 'enclave.eif'));
    mkdirSync(join(studio, 'again'));
    copyFileSync(live.p('rebuilt', 'enclave.eif'), join(studio, 'again', 'enclave.eif'));
    copyFileSync(live.p('rebuilder.pem'), join(studio, 'me.pem'));
    copyFileSync(live.p('rebuilder.pem.pub'), join(studio, 'r1.pub'));
    copyFileSync(live.p('test-root.pem'), join(studio, 'test-root.pem'));

    const kdmOf = () => {
      const index = JSON.parse(readFileSync(join(ops, 'kdms', 'index.json'), 'utf8')) as {
        recipients?: Array<{ file: string }>;
      };
      const list = Array.isArray(index) ? (index as Array<{ file: string }>) : (index.recipients ?? []);
      const file = list.map((r) => r.file).find((f) => f.endsWith('.kdm.xml'));
      assert.ok(file, `kdms/index.json names a KDM: ${JSON.stringify(index).slice(0, 300)}`);
      return file.replace(/\.kdm\.xml$/, '');
    };

    const expectations: Expect[] = [
      // the operator block (block 1): its own log and witness
      { match: /^keycast build --out out\// },
      { match: /^keycast build --lock out\/builder\.lock\.json --out again\// },
      { match: /^keycast describe-eif out\/enclave\.eif --json/, says: /"Measurements"/ },
      { match: /^keycast diff-eif a\.eif b\.eif/ },
      { match: /^keycast log init/, after: (r) => (found.LOG_VKEY = r.out.trim().split('\n').pop()!.trim()) },
      { match: /^keycast witness serve/, server: true },
      { match: /^keycast witness vkey/, after: (r) => (found.W_VKEY = r.out.trim().split('\n').pop()!.trim()) },
      { match: /^keycast release keygen/ },
      { match: /^keycast log serve/, server: true },
      { match: /^keycast release sign/, optional: true },
      { match: /^keycast release publish/, says: /logged at index 0/ },
      { match: /^keycast verify release --bundle/ },
      { match: /^keycast release revoke/, says: /logged at index 1/ },
      // inside an enclave only: here there is no /dev/nsm, and they say so (exit 6 naming it)
      { match: /^keycast nsm attest/, code: 6, says: /\/dev\/nsm/ },
      { match: /^keycast enclave run --nsm device/, code: 6, says: /\/dev\/nsm/ },
      { match: /^keycast host run/, server: true },
      { match: /^keycast dev-kms/, server: true },
      // the operator's log holds one release, revoked: no image may decrypt
      { match: /^keycast kms-policy --log/, after: () => readFileSync(join(ops, 'policy.json')) },
      { match: /^keycast kms-policy check/ },
      {
        // a simulator's document is not from AWS: refused before anything else, as it must be
        match: /^keycast verify attestation doc\.cbor/,
        code: 1,
        says: /ROOT_UNTRUSTED/,
      },
      { match: /^keycast dev certs/ },
      {
        match: /^keycast rules sign/,
        before: () => {
          // the studio's own rules for its film (the demo's), allowing the projectors `dev certs` just made
          const rules = JSON.parse(readFileSync(live.p('rules.json'), 'utf8')) as {
            recipients: { roots: string[]; excluded: string[] };
          };
          const made = JSON.parse(readFileSync(join(ops, 'pki', 'recipients.json'), 'utf8')) as { roots: string[] };
          rules.recipients = { ...rules.recipients, roots: made.roots, excluded: [] };
          writeFileSync(join(ops, 'rules.json'), JSON.stringify(rules, null, 2));
          copyFileSync(live.p('studio.pem'), join(ops, 'studio.pem'));
        },
      },
      {
        match: /^keycast seal/,
        before: () => {
          copyFileSync(live.p('enclave-verified.json'), join(ops, 'enclave.json'));
          copyFileSync(live.p('film-keys.json'), join(ops, 'keys.json'));
          copyFileSync(live.p('studio.pem.pub'), join(ops, 'studio.pub'));
        },
      },
      { match: /^keycast forward --host/, says: /receipt/ },
      { match: /^keycast kdm inspect/, says: /signature\s+verified/ },
      { match: /^keycast receipt verify/, says: /is in the receipt/ },
      // the studio block (block 2), against the demo's log and enclave
      { match: /^L=/ },
      { match: /^keycast verify release PCR0 \$L/, optional: true },
      { match: /^keycast verify enclave/, optional: true, says: /OK enclave .* runs release #/ },
      { match: /^keycast monitor \$L/, follows: /: \d+ events, 0 alarms/ },
      { match: /^keycast verify rebuild/, optional: true, says: /REPRODUCED release #/ },
      { match: /^keycast endorse/ },
    ];

    for (const c of commands) {
      const hits = expectations.filter((e) => e.match.test(c.text));
      assert.equal(hits.length, 1, `README command with ${hits.length} expectations: ${c.text}`);
      const e = hits[0]!;
      const operator = c.block === 1;
      const cwd = operator ? ops : studio;
      // the demo's enclave runs on the NSM simulator, so a [--trust-root …] is always given here
      const rooted = c.text.replace(/\[(--trust-root [^\]]*)\]/g, '$1');
      let text = e.optional ? rooted.replace(/\[([^\]]*)\]/g, '$1') : rooted.replace(/\s*\[[^\]]*\]/g, '');
      const subst: Array<[RegExp | string, string]> = operator
        ? [
            ['http://127.0.0.1:9000', `http://127.0.0.1:${ports['9000']}`],
            ['127.0.0.1:9000', `127.0.0.1:${ports['9000']}`],
            ['http://127.0.0.1:9001', `http://127.0.0.1:${ports['9001']}`],
            ['127.0.0.1:9001', `127.0.0.1:${ports['9001']}`],
            ['127.0.0.1:8443', `127.0.0.1:${ports['8443']}`],
            ['0.0.0.0:8080', `127.0.0.1:${ports['8080']}`],
            ['127.0.0.1:4600', `127.0.0.1:${ports['4600']}`],
            ['https://log.example.com/keycast', `http://127.0.0.1:${ports['9000']}`],
            [/--log URL/g, `--log http://127.0.0.1:${ports['9000']}`],
            ['s3://bucket/prefix', 'host-store/'],
            ['https://github.com/org/app@<40-hex>', live.source],
            ['https://host.example.com', live.hostUrl],
            ['--expect-pcr0 HEX', `--expect-pcr0 ${live.pcr0}`],
            ['--nonce HEX', `--nonce ${nonce}`],
            ['--enclave-role ARN', '--enclave-role arn:aws:iam::111122223333:role/keycast-enclave'],
            ['--admin ARN', '--admin arn:aws:iam::111122223333:role/key-admin'],
            ['a.eif b.eif', 'out/enclave.eif again/enclave.eif'],
            ['"…"', '"readme test"'],
            ['https://…/enclave.eif', 'http://127.0.0.1:9/enclave.eif'],
          ]
        : [
            ['https://log.example.com/keycast', live.logUrl],
            [/--log URL/g, `--log ${live.logUrl}`],
            ['https://host.example.com', live.hostUrl],
            ['https://github.com/org/app', repo],
            ['https://alerts/…', 'http://127.0.0.1:9/alerts'],
            ['REPO@COMMIT', live.source],
            ['--release-index N', `--release-index ${live.releaseIndex}`],
            [/\bPCR0 \$L/g, `${live.pcr0} $L`],
          ];
      for (const [from, to] of subst) text = text.replaceAll(from, to);
      // the forward line talks to the demo's transparent enclave: its deliveries are on the demo's log
      if (/^keycast forward /.test(text)) text = text.replaceAll('LOG_VKEY', live.logVkey);
      const vk = operator ? found : { LOG_VKEY: live.logVkey, W_VKEY: live.witnessVkey };
      if (text.includes('LOG_VKEY')) text = text.replaceAll('LOG_VKEY', need(vk.LOG_VKEY, 'LOG_VKEY'));
      if (text.includes('W_VKEY')) text = text.replaceAll('W_VKEY', need(vk.W_VKEY, 'W_VKEY'));
      if (/doc\.cbor/.test(text) && /verify attestation/.test(text)) {
        const r = await fetch(`${live.hostUrl}/v1/attestation?nonce=${nonce}`);
        assert.equal(r.status, 200, 'the live enclave attests');
        writeFileSync(join(ops, 'doc.cbor'), new Uint8Array(await r.arrayBuffer()));
      }
      if (/kdms\/X\.|kdm\.xml/.test(text)) {
        const x = kdmOf();
        text = text.replaceAll('kdms/X.', `kdms/${x}.`).replaceAll('proofs/X.', `proofs/${x}.`);
        text = text.replace(/(^| )kdm\.xml\b/, `$1kdms/${x}.kdm.xml`);
      }
      assert.doesNotMatch(
        text,
        /\b(LOG_VKEY|W_VKEY|HEX|URL|ARN|PCR0|REPO@COMMIT)\b|<40-hex>|…/,
        `a placeholder left: ${text}`,
      );
      e.before?.();
      const prelude = commands
        .filter((p) => p.block === c.block && /^[A-Z]+=/.test(p.text) && commands.indexOf(p) < commands.indexOf(c))
        .map((p) => substituted(p.text, live))
        .join('; ');
      const script = (exec: string) => (prelude ? `${prelude}; ${exec}${text}` : `${exec}${text}`);
      if (/^[A-Z]+=/.test(text)) {
        results.push(`ok (assignment) ${c.text}`);
        continue;
      }
      try {
        const r = e.server || e.follows ? await background(script('exec '), cwd, e) : await once(script(''), cwd);
        const label = `README: ${c.text}\n  ran: ${text}\n  exit ${r.code}\n${r.out.slice(-3000)}`;
        if (!e.server && !e.follows) assert.equal(r.code, e.code ?? 0, label);
        if (e.says) assert.match(r.out, e.says, label);
        e.after?.(r);
        results.push(`ok ${c.text}`);
      } catch (err) {
        // go on: one run shows every command that does not work as written
        failures.push((err as Error).message);
        results.push(`FAILED ${c.text}`);
      }
    }
    assert.deepEqual(failures, [], failures.join('\n\n'));
  }

  /** The studio block's `L=` line, with its placeholders. */
  function substituted(text: string, live: LiveStack): string {
    return text
      .replaceAll('https://log.example.com/keycast', live.logUrl)
      .replaceAll('LOG_VKEY', live.logVkey)
      .replaceAll('W_VKEY', live.witnessVkey);
  }

  function need(v: string | undefined, what: string): string {
    assert.ok(v, `${what} was not printed by the README's own commands`);
    return v;
  }

  function once(script: string, cwd: string): Promise<Ran> {
    return new Promise((done) => {
      const c = spawn('sh', ['-c', script], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      c.stdout.on('data', (d) => (out += d));
      c.stderr.on('data', (d) => (out += d));
      const timer = setTimeout(() => c.kill(), 240_000);
      c.on('close', (code) => {
        clearTimeout(timer);
        done({ code, out });
      });
    });
  }

  /** A server or a `--follow`: started, awaited until it listens or finishes a pass, kept (or stopped). */
  function background(script: string, cwd: string, e: Expect): Promise<Ran> {
    return new Promise((done, fail) => {
      const c = spawn('sh', ['-c', script], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      const stop = () =>
        new Promise<void>((ok) => {
          if (c.exitCode !== null || c.signalCode !== null) return ok();
          c.once('exit', () => ok());
          c.kill('SIGTERM');
        });
      const timer = setTimeout(() => fail(new Error(`did not start: ${script}\n${out}`)), 120_000);
      const seen = () => {
        if (e.server ? /listening /.test(out) : e.follows!.test(out)) {
          clearTimeout(timer);
          if (e.server) servers.push({ stop });
          else void stop();
          done({ code: null, out });
        }
      };
      c.stdout.on('data', (d) => {
        out += d;
        seen();
      });
      c.stderr.on('data', (d) => {
        out += d;
        seen();
      });
      c.on('exit', (code) => {
        clearTimeout(timer);
        fail(new Error(`exited ${code} instead of ${e.server ? 'serving' : 'following'}: ${script}\n${out}`));
      });
    });
  }
});

test('readmeCommands: continuation lines are joined, comments and blank lines dropped', () => {
  const md =
    '```sh\nkeycast a --x 1 \\\n    --y 2   # note\n# only a comment\n\nkeycast b\n```\ntext\n```sh\nnpm test\n```\n';
  assert.deepEqual(readmeCommands(md), [
    { block: 0, text: 'keycast a --x 1 --y 2' },
    { block: 0, text: 'keycast b' },
    { block: 1, text: 'npm test' },
  ]);
});
