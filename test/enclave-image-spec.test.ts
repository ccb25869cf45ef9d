/**
 * The enclave image's one entrypoint, checked against everything that must agree with it:
 * enclave/deploy/enclave/image.json (argv, rootfs layout, config path), the entrypoint script,
 * `keycast enclave run`'s flags and config default, the Nix flake's argv, rootfs links and build
 * flags (evaluated with Debian's nix-bin: they need no nixpkgs), the host units' vsock ports,
 * and the host's credentials route. Any drift fails here before an image that cannot boot is
 * built. The watch script behind keycast-enclave.service is run against a fake nitro-cli.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ENCLAVE_CONFIG_PATH } from '#verifier/build';
import { commands } from '../enclave/runtime/cli.ts'; // the image's enclave run (no simulator)
import { CREDENTIALS_PATH } from '../enclave/index.ts';

const REPO = resolve(import.meta.dirname, '..');
const DEPLOY = join(REPO, 'enclave/deploy');
const image = JSON.parse(readFileSync(join(DEPLOY, 'enclave/image.json'), 'utf8')) as {
  argv: string[];
  app: string;
  commands: Record<string, string>;
  config: string;
};
const entrypoint = readFileSync(join(DEPLOY, 'enclave/entrypoint.sh'), 'utf8');
/** The script's lines without comments. */
const code = entrypoint
  .split('\n')
  .map((l) => l.replace(/(^|\s)#.*$/, '').trim())
  .filter(Boolean);
const unit = (name: string) => readFileSync(join(DEPLOY, 'host', name), 'utf8');

test('image.json names an entrypoint in /app that exists, runs under /bin/sh and is in the layout', () => {
  assert.equal(image.argv[0], '/bin/sh');
  assert.ok(image.argv[0]! in image.commands);
  const [, script] = image.argv;
  assert.ok(script!.startsWith(`${image.app}/`));
  const inRepo = join(REPO, script!.slice(image.app.length + 1));
  assert.equal(inRepo, join(DEPLOY, 'enclave/entrypoint.sh'));
  accessSync(inRepo, constants.X_OK);
  assert.ok(entrypoint.startsWith('#!/bin/sh\n'));
  assert.equal(image.config, `/${ENCLAVE_CONFIG_PATH}`);
  assert.equal(spawnSync('sh', ['-n', inRepo]).status, 0, 'the entrypoint does not parse');
  // /bin/keycast without Nix: the launcher in enclave/deploy runs the CLI from /app
  const launcher = readFileSync(join(DEPLOY, 'enclave/keycast'), 'utf8');
  assert.match(launcher, /^exec \/usr\/bin\/node \/app\/bin\/keycast\.mjs "\$@"$/m);
  assert.ok('/usr/bin/node' in image.commands && '/bin/keycast' in image.commands);
});

test('every command the entrypoint runs is in the image layout, on init’s PATH', () => {
  const builtins = new Set(['set', 'export', 'while', 'do', 'done', ':', 'bridge', 'exec', '}', 'PATH', 'AWS']);
  const used = new Set<string>();
  for (const l of code) {
    for (const part of l.split(/\|\||&&|;|\|/)) {
      const words = part.trim().replace(/&$/, '').trim().split(/\s+/);
      let w = words[0] ?? '';
      if (w === 'exec') w = words[1] ?? '';
      if (w === '' || /^[A-Za-z_][A-Za-z0-9_]*=/.test(w) || /\(\)$/.test(w) || builtins.has(w) || w.startsWith('"'))
        continue;
      used.add(w);
    }
  }
  assert.deepEqual([...used].sort(), ['/bin/keycast', 'ip', 'sleep', 'socat']);
  const path = /^PATH=(\S+)$/m.exec(entrypoint)![1]!.split(':');
  for (const c of used) {
    const found = c.startsWith('/') ? c in image.commands : path.some((d) => `${d}/${c}` in image.commands);
    assert.ok(found, `${c} is not in image.json's layout`);
  }
});

test('the entrypoint runs `keycast enclave run` with flags it has, the config from the image, and the bridges the host units expect', () => {
  const run = code.find((l) => l.startsWith('exec /bin/keycast '))!;
  assert.ok(run, 'the entrypoint must end in exec /bin/keycast enclave run');
  const args = run.split(/\s+/).slice(2);
  assert.deepEqual(args.slice(0, 2), ['enclave', 'run']);
  const cmd = commands.find((c) => c.path.join(' ') === 'enclave run')!;
  for (const f of args.filter((a) => a.startsWith('--')))
    assert.ok(cmd.help.includes(`${f} `), `keycast enclave run has no ${f}`);
  assert.ok(!args.includes('--config'), 'the config must come from the image (the default path)');
  assert.ok(cmd.help.includes(`(default /${ENCLAVE_CONFIG_PATH},`), 'enclave run reads the config from the image');
  assert.equal(args.at(-1), '"$@"');
  const listen = args[args.indexOf('--listen') + 1]!;
  const kmsBridge = args[args.indexOf('--kms-bridge') + 1]!;
  // vsock 5000 → the API; the host's bridge unit dials CID 16 port 5000
  assert.ok(code.some((l) => l.includes('VSOCK-LISTEN:5000,') && l.includes(`TCP:${listen}`)));
  assert.match(unit('keycast-enclave-bridge.service'), /VSOCK-CONNECT:16:5000/);
  assert.match(unit('keycast-enclave.service'), /KEYCAST_ENCLAVE_CID=16/);
  // KMS: the in-enclave TCP end of vsock 8000 → vsock-proxy 8000
  const [kh, kp] = kmsBridge.split(':');
  assert.ok(code.some((l) => l.includes(`TCP-LISTEN:${kp},bind=${kh}`) && l.includes('VSOCK-CONNECT:3:8000')));
  assert.match(unit('keycast-vsock-proxy.service'), /vsock-proxy 8000 /);
  // credentials: the SDK's URI → vsock 8002 → the host's --credentials-listen
  const uri = new URL(/AWS_CONTAINER_CREDENTIALS_FULL_URI=(\S+)/.exec(entrypoint)![1]!);
  assert.equal(uri.pathname, CREDENTIALS_PATH);
  assert.equal(uri.hostname, '127.0.0.1', 'the SDK takes plain HTTP only on loopback');
  assert.ok(
    code.some((l) => l.includes(`TCP-LISTEN:${uri.port},bind=127.0.0.1`) && l.includes('VSOCK-CONNECT:3:8002')),
  );
  assert.match(unit('keycast-credentials-bridge.service'), /VSOCK-LISTEN:8002,fork,reuseaddr TCP:127\.0\.0\.1:8002/);
  assert.match(unit('keycast-host.service'), /--credentials-listen 127\.0\.0\.1:8002/);
});

test('the enclave unit restarts a dead enclave', () => {
  const u = unit('keycast-enclave.service');
  assert.match(u, /^Restart=always$/m);
  assert.match(u, /^Type=simple$/m);
  assert.doesNotMatch(u, /RemainAfterExit=yes/, 'a oneshot unit never notices the enclave is gone');
  assert.match(u, /^ExecStart=\/opt\/keycast\/keycast-enclave-watch\.sh$/m);
});

test('the watch script starts the enclave, stays while it runs, exits 1 once it is gone', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kc-watch-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // a nitro-cli that lists the enclave RUNNING for three polls, then nothing
  const fake = join(dir, 'nitro-cli');
  writeFileSync(
    fake,
    `#!/bin/sh
echo "$*" >> ${dir}/calls
case "$1" in
  run-enclave) echo '{"EnclaveName": "keycast", "State": "RUNNING"}' ;;
  describe-enclaves)
    n=$(cat ${dir}/n 2>/dev/null || echo 0); echo $((n + 1)) > ${dir}/n
    if [ "$n" -lt 3 ]; then printf '[\\n  {\\n    "EnclaveName": "keycast",\\n    "EnclaveID": "i-0-enc1",\\n    "State": "RUNNING"\\n  }\\n]\\n'
    else echo '[]'; fi ;;
  terminate-enclave) exit 1 ;;
esac
`,
  );
  chmodSync(fake, 0o755);
  const r = spawnSync(join(DEPLOY, 'host/keycast-enclave-watch.sh'), [], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, NITRO_CLI: fake, KEYCAST_WATCH_SECONDS: '0', KEYCAST_EIF: '/x.eif' },
    timeout: 10_000,
  });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /no longer running/);
  const calls = readFileSync(join(dir, 'calls'), 'utf8').trim().split('\n');
  assert.equal(calls[0], 'terminate-enclave --enclave-name keycast');
  assert.equal(
    calls[1],
    'run-enclave --eif-path /x.eif --enclave-name keycast --enclave-cid 16 --cpu-count 2 --memory 2048',
  );
  assert.equal(calls.filter((c) => c === 'describe-enclaves').length, 4);
  // another enclave RUNNING under a different name does not count as ours
  writeFileSync(join(dir, 'n'), '99');
  writeFileSync(
    fake,
    `#!/bin/sh\ncase "$1" in describe-enclaves) echo '[{"EnclaveName": "other", "State": "RUNNING"}, {"EnclaveName": "keycast", "State": "TERMINATING"}]' ;; esac\n`,
  );
  const r2 = spawnSync(join(DEPLOY, 'host/keycast-enclave-watch.sh'), [], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, NITRO_CLI: fake, KEYCAST_WATCH_SECONDS: '0' },
    timeout: 10_000,
  });
  assert.equal(r2.status, 1);
  // run-enclave failing is a failure too
  writeFileSync(fake, `#!/bin/sh\ncase "$1" in run-enclave) exit 3 ;; esac\n`);
  const r3 = spawnSync(join(DEPLOY, 'host/keycast-enclave-watch.sh'), [], {
    env: { PATH: process.env.PATH, NITRO_CLI: fake },
    timeout: 10_000,
  });
  assert.equal(r3.status, 1);
});

const nixEval = (expr: string) =>
  spawnSync('nix-instantiate', ['--eval', '--strict', '--json', '-E', expr], { encoding: 'utf8', cwd: REPO });

test('the Nix flake builds the same entrypoint, layout and pinned config (nix-instantiate)', (t) => {
  if (spawnSync('nix-instantiate', ['--version']).status !== 0)
    return t.skip('nix-instantiate (Debian nix-bin) not installed');
  const dir = mkdtempSync(join(tmpdir(), 'kc-nixspec-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'enclave.json'), '{}\n');
  // keycast.nix evaluated lazily without nixpkgs: only what is asked for is forced
  const r = nixEval(
    `let k = import ./nix/keycast.nix { pkgs = {}; repo = ./.; enclaveConfig = ${join(dir, 'enclave.json')}; };
     in { argv = k.argv; links = builtins.attrNames k.rootfsLinks; flags = k.imageFlags; }`,
  );
  assert.equal(r.status, 0, r.stderr);
  const got = JSON.parse(r.stdout) as { argv: string[]; links: string[]; flags: string[] };
  assert.deepEqual(got.argv, image.argv);
  const want = [image.app, ...Object.keys(image.commands)].map((p) => p.slice(1)).sort();
  assert.deepEqual(got.links, want, 'the flake rootfs layout drifted from image.json');
  assert.equal(got.flags[0], '--enclave-config');
  assert.match(got.flags[1]!, /-enclave\.json$/);
  assert.deepEqual(
    got.flags.slice(2),
    image.argv.flatMap((a) => ['--arg', a]),
  );
  // no pinned config, no image: evaluation refuses, saying why
  const none = nixEval('(import ./nix/keycast.nix { pkgs = {}; repo = ./.; }).imageFlags');
  assert.notEqual(none.status, 0);
  assert.match(none.stderr, /no pinned enclave configuration/);
  // the flake passes nix/enclave.json when it exists, and keycast.nix builds the EIF with imageFlags
  const flake = readFileSync(join(REPO, 'nix/flake.nix'), 'utf8');
  assert.match(flake, /enclaveConfig = if builtins\.pathExists \.\/enclave\.json then \.\/enclave\.json else null;/);
  const nix = readFileSync(join(REPO, 'nix/keycast.nix'), 'utf8');
  assert.match(nix, /--rootfs \$\{rootfs\}[^\n]*\\\n\s+\$\{lib\.escapeShellArgs imageFlags\}/);
  assert.doesNotMatch(nix, /enclave serve/);
});
