/**
 * The image boots the service. An EIF is built with `keycast build` from the documented inputs
 * (enclave/deploy/README.md: this repository under /app with its runtime node_modules, the
 * layout of enclave/deploy/enclave/image.json — /bin/sh, /bin/sleep, /bin/keycast, node, socat,
 * ip and their shared libraries — the pinned config, argv = image.json's). Its customer ramdisk
 * is unpacked and its `/cmd` booted the way Nitro's init does (chroot, /env as the environment,
 * proc and dev mounted) inside a network namespace that has only loopback. Nothing else runs in
 * there: the entrypoint brings up loopback, starts its bridges and becomes `keycast enclave run`
 * with the config it finds in the image.
 *
 * Two stand-ins, both outside what the image decides: vsock is UNIX sockets under the rootfs's
 * /run/vsock (this machine has no vsock transport; a socat shim in the unpacked tree maps
 * VSOCK-LISTEN:P / VSOCK-CONNECT:C:P to them — the one change made to the unpacked tree), and
 * the NSM is the simulator (its flags appended to the argv, which the entrypoint passes on),
 * measuring the PCRs of this very EIF. On the host side, everything as deployed: the host's
 * bridge (TCP → the enclave's vsock 5000), a TLS terminator for kms.us-east-1.amazonaws.com in
 * front of dev-kms at vsock 3:8000 (vsock-proxy's and KMS's role; the enclave trusts its test CA
 * through NODE_EXTRA_CA_CERTS), and `keycast host run --credentials-listen` behind vsock 3:8002
 * reading the role's credentials from an IMDSv2 stand-in. The host sees the gate shut, then open
 * once the release is published, and the enclave seals its identity through KMS signing with the
 * credentials the host served — none of which shows in any output. Then the service dies (the
 * enclave is gone, as init reboots) and the image boots again: the host reopens the gate, hands
 * the new process the credentials token, and it unseals the same identity.
 * Skipped, with the reason, without root, ip netns, unshare/chroot, socat or openssl.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { connect as netConnect } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { CreateKeyCommand, KMSClient, PutKeyPolicyCommand } from '@aws-sdk/client-kms';
import { formatEnclaveConfig, parseEif, readCpio, S_IFMT } from '#verifier/build';
import { build, parseLock } from '../builder/index.ts';
import { createTestPki, exportTestPki } from '../enclave/index.ts';
import { bundleOfPayload, newPublisher } from './log-fixtures.ts';
import { freePort, start, until, type Proc } from './enclave-e2e-helpers.ts';
import { keycastSync } from './enclave-stack.ts';

const REPO = resolve(import.meta.dirname, '..');
const image = JSON.parse(readFileSync(join(REPO, 'enclave/deploy/enclave/image.json'), 'utf8')) as {
  argv: string[];
  commands: Record<string, string>;
};
const has = (cmd: string, ...args: string[]) => spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;

function why(): string | false {
  if (process.getuid?.() !== 0) return 'needs root for ip netns, unshare and chroot';
  if (!has('socat', '-V')) return 'socat is not installed (apt-get install -y socat)';
  if (!has('openssl', 'version')) return 'openssl is not installed';
  if (!has('unshare', '--version') || !has('chroot', '--version'))
    return 'unshare/chroot (util-linux, coreutils) missing';
  const ns = `kc-probe-${randomBytes(3).toString('hex')}`;
  if (spawnSync('ip', ['netns', 'add', ns]).status !== 0) return 'ip netns is not available here';
  spawnSync('ip', ['netns', 'del', ns]);
  return false;
}

const which = (cmd: string): string =>
  realpathSync(spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).stdout.trim());

/** Copies a binary and every shared library ldd names to the same paths under `root`. */
function installBinary(root: string, from: string, to: string): void {
  mkdirSync(dirname(join(root, to)), { recursive: true });
  copyFileSync(from, join(root, to));
  chmodSync(join(root, to), 0o755);
  const ldd = spawnSync('ldd', [from], { encoding: 'utf8' }).stdout;
  for (const m of ldd.matchAll(/(?:=>\s*)?(\/\S+)\s+\(0x/g)) {
    const lib = m[1]!;
    if (existsSync(join(root, lib))) continue;
    mkdirSync(dirname(join(root, lib)), { recursive: true });
    copyFileSync(lib, join(root, lib));
  }
}

/** The runtime node_modules: the lock's non-dev packages, plus tsx and what it needs (bin/keycast.mjs loads it). */
function runtimePackages(): string[] {
  const lock = JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { dev?: boolean; dependencies?: Record<string, string> }>;
  };
  const top = (k: string) => /^node_modules\/(@[^/]+\/)?[^/]+$/.test(k);
  const out = new Set(Object.keys(lock.packages).filter((k) => k && top(k) && !lock.packages[k]!.dev));
  const walk = (name: string) => {
    const k = `node_modules/${name}`;
    if (out.has(k) || !lock.packages[k]) return;
    out.add(k);
    for (const d of Object.keys(lock.packages[k]!.dependencies ?? {})) walk(d);
  };
  walk('tsx');
  out.add(`node_modules/@esbuild/linux-${process.arch === 'arm64' ? 'arm64' : 'x64'}`);
  return [...out].filter((k) => existsSync(join(REPO, k)));
}

/**
 * The documented rootfs (enclave/deploy/README.md "Without Nix"), hard-linked rather than
 * copied where it can be (the builder treats a file whose other links lie outside the rootfs
 * as a plain file). Node itself (~100 MB) is added to the unpacked tree instead, with its
 * libraries, to keep the build and the unpacking short; everything else boots from the EIF.
 */
function stageRootfs(root: string): void {
  const app = join(root, 'app');
  mkdirSync(join(app, 'node_modules/@esbuild'), { recursive: true });
  copyFileSync(join(REPO, 'package.json'), join(app, 'package.json'));
  for (const d of ['bin', 'cli', 'verifier', 'builder', 'enclave'])
    cpSync(join(REPO, d), join(app, d), { recursive: true, filter: (s) => !/\/(test|node_modules)$/.test(s) });
  const modules = realpathSync(join(REPO, 'node_modules'));
  const pkgs = runtimePackages().map((k) => k.slice('node_modules/'.length));
  for (const scope of new Set(pkgs.filter((p) => p.startsWith('@')).map((p) => p.split('/')[0]!)))
    mkdirSync(join(app, 'node_modules', scope), { recursive: true });
  for (const chunk of [0, 1, 2, 3].map((i) => pkgs.filter((_, j) => j % 4 === i))) {
    if (chunk.length === 0) continue;
    const r = spawnSync('sh', ['-c', 'cd "$1" && shift && cp -al --parents "$@" "$DEST"', 'cp', modules, ...chunk], {
      env: { ...process.env, DEST: join(app, 'node_modules') },
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
  }
  for (const [to, from] of Object.entries(RUNTIME_BINARIES()).filter(([to]) => to !== '/usr/bin/node'))
    installBinary(root, from, to);
  copyFileSync(join(REPO, 'enclave/deploy/enclave/keycast'), join(root, 'bin/keycast'));
  chmodSync(join(root, 'bin/keycast'), 0o755);
}

const RUNTIME_BINARIES = (): Record<string, string> => ({
  '/bin/sh': which('sh'),
  '/bin/sleep': which('sleep'),
  '/usr/bin/node': process.execPath,
  '/usr/bin/socat': which('socat'),
  '/sbin/ip': which('ip'),
});

/** Unpacks the EIF's customer ramdisk: rootfs/… into `root`, and returns its cmd and env lines. */
function unpack(eifPath: string, root: string): { cmd: string[]; env: string[] } {
  const { entries } = readCpio(parseEif(new Uint8Array(readFileSync(eifPath))).ramdisks[1]!);
  const lines = (name: string) => {
    const e = entries.find((x) => x.name === name);
    assert.ok(e, `the ramdisk has no ${name}`);
    return Buffer.from(e.data).toString('utf8').split('\n').filter(Boolean);
  };
  for (const e of entries) {
    if (e.name !== 'rootfs' && !e.name.startsWith('rootfs/')) continue;
    assert.ok(!e.name.split('/').includes('..'));
    const p = join(root, e.name.slice('rootfs'.length));
    const type = e.mode & S_IFMT;
    if (type === 0o040000) mkdirSync(p, { recursive: true, mode: e.mode & 0o7777 });
    else if (type === 0o100000) writeFileSync(p, e.data, { mode: e.mode & 0o7777 });
    else if (type === 0o120000) symlinkSync(Buffer.from(e.data).toString('utf8'), p);
    else assert.fail(`unexpected member type ${type.toString(8)} for ${e.name}`);
  }
  return { cmd: lines('cmd'), env: lines('env') };
}

/** socat in the unpacked tree → the real one, with VSOCK addresses mapped to /run/vsock/*.sock. */
const SOCAT_SHIM = `#!/usr/bin/node
// test stand-in for vsock (none on this machine): VSOCK-LISTEN:P → UNIX-LISTEN:/run/vsock/listen-P.sock,
// VSOCK-CONNECT:C:P → UNIX-CONNECT:/run/vsock/C-P.sock; everything else unchanged
const { spawnSync } = require('node:child_process');
const args = process.argv.slice(2).map((a) => {
  let m = /^VSOCK-LISTEN:(\\d+)(,.*)?$/.exec(a);
  if (m) return 'UNIX-LISTEN:/run/vsock/listen-' + m[1] + '.sock' + (m[2] || '').replace(',reuseaddr', '') + ',unlink-early';
  m = /^VSOCK-CONNECT:(\\d+):(\\d+)$/.exec(a);
  if (m) return 'UNIX-CONNECT:/run/vsock/' + m[1] + '-' + m[2] + '.sock';
  return a;
});
process.exitCode = spawnSync('/usr/bin/socat.real', args, { stdio: 'inherit' }).status ?? 1;
`;

const CALLER = 'arn:aws:iam::111122223333:role/keycast-enclave';
const KMS_HOST = 'kms.us-east-1.amazonaws.com';

test('the EIF built from the documented inputs boots its entrypoint in a chroot behind the host bridge, and the gate opens after publication', {
  skip: why(),
  timeout: 240_000,
}, async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'keycast-boot-'));
  const ns = `keycast-boot-${randomBytes(3).toString('hex')}`;
  const procs: Proc[] = [];
  const children: ChildProcess[] = [];
  const closers: Array<() => void> = [];
  t.after(() => {
    for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    for (const c of closers) c();
    spawnSync('ip', ['netns', 'del', ns]);
    rmSync(tmp, { recursive: true, force: true });
  });
  const keycast = keycastSync;

  // outside: log, witness; the release signer; the test PKI the simulated NSM signs with
  const origin = 'boot.keycast.test/log';
  const logVkey = keycast('log', 'init', '--data', join(tmp, 'log'), '--origin', origin);
  const witnessStarting = start([
    'witness',
    'serve',
    '--data',
    join(tmp, 'w'),
    '--listen',
    '127.0.0.1:0',
    '--log',
    logVkey,
    '--name',
    'w.boot.keycast.test',
  ]);
  // the image's inputs are staged while the witness starts
  const inputs = join(tmp, 'inputs');
  stageRootfs(join(inputs, 'rootfs'));
  const witness = await witnessStarting;
  procs.push(witness);
  const witnessVkey = keycast('witness', 'vkey', '--data', join(tmp, 'w'));
  const pub = newPublisher();
  writeFileSync(join(tmp, 'signer.pem'), pub.publicPem);
  const pki = createTestPki();
  writeFileSync(join(tmp, 'root.pem'), pki.rootPem);

  // dev-kms checks SigV4 with the role credentials the IMDS stand-in hands out
  const role = {
    AccessKeyId: 'ASIABOOTTEST00000001',
    SecretAccessKey: randomBytes(30).toString('base64'),
    Token: randomBytes(96).toString('base64'),
  };
  const admin = { accessKeyId: 'AKIABOOTADMIN0000001', secretAccessKey: randomBytes(30).toString('base64') };
  writeFileSync(
    join(tmp, 'kms-creds.json'),
    JSON.stringify([
      {
        accessKeyId: role.AccessKeyId,
        secretAccessKey: role.SecretAccessKey,
        sessionToken: role.Token,
        principal: CALLER,
      },
      { ...admin, principal: CALLER },
    ]),
  );
  const [log, kms] = await Promise.all([
    start([
      'log',
      'serve',
      '--data',
      join(tmp, 'log'),
      '--listen',
      '127.0.0.1:0',
      '--trust-signer',
      join(tmp, 'signer.pem'),
      '--witness',
      `${witnessVkey}=${witness.url}`,
      '--admission-workers',
      '0',
    ]),
    start([
      'dev-kms',
      '--data',
      join(tmp, 'kms'),
      '--listen',
      '127.0.0.1:0',
      '--trust-root',
      join(tmp, 'root.pem'),
      '--credentials',
      join(tmp, 'kms-creds.json'),
    ]),
  ]);
  procs.push(log, kms);

  // the image: documented inputs → keycast build (argv and config as the deploy docs say)
  writeFileSync(join(inputs, 'kernel'), createHash('sha512').update('not booted: the test boots the rootfs').digest());
  writeFileSync(join(inputs, 'init'), createHash('sha512').update('init').digest());
  // the KMS key comes first: its ARN is part of the pinned config, hence of PCR0; its policy
  // names that PCR0, so it is written once the image is built (a fresh client per call: a
  // kept-alive socket left idle through the build may be closed under it)
  const withAdmin = async <T>(f: (c: KMSClient) => Promise<T>): Promise<T> => {
    const client = new KMSClient({ region: 'us-east-1', endpoint: kms.url, maxAttempts: 1, credentials: admin });
    try {
      return await f(client);
    } finally {
      client.destroy();
    }
  };
  const keyArn = (
    await withAdmin((c) =>
      c.send(
        new CreateKeyCommand({
          Policy: JSON.stringify({
            Version: '2012-10-17',
            Statement: [
              {
                Sid: 'Admin',
                Effect: 'Allow',
                Principal: { AWS: CALLER },
                Action: ['kms:PutKeyPolicy', 'kms:GetKeyPolicy'],
                Resource: '*',
              },
            ],
          }),
        }),
      ),
    )
  ).KeyMetadata!.Arn!;
  writeFileSync(
    join(inputs, 'enclave.json'),
    formatEnclaveConfig({
      version: 1,
      log: { origin, vkey: logVkey },
      witnesses: { vkeys: [witnessVkey], threshold: 1 },
      maxCheckpointAgeSeconds: 600,
      publishers: [pub.publicPem],
      kms: { keyArn, region: 'us-east-1' },
    }),
  );
  const z = '0'.repeat(64);
  const built = await build({
    lock: parseLock(
      JSON.stringify({
        version: 1,
        arch: process.arch === 'arm64' ? 'aarch64' : 'x86_64',
        format: 'linuxkit',
        inputs: {
          kernel: { path: 'kernel', sha256: z },
          init: { path: 'init', sha256: z },
          rootfs: { path: 'rootfs', sha256: z, type: 'dir' },
          enclaveConfig: { path: 'enclave.json', sha256: z },
        },
        cmdline: 'reboot=k panic=30 pci=off nomodules console=ttyS0',
        argv: image.argv,
        env: [],
        image: { name: 'keycast-enclave', version: '0.1.0' },
      }),
    ),
    lockDir: inputs,
    outDir: join(tmp, 'out'),
    verify: false,
  });
  rmSync(inputs, { recursive: true, force: true });
  await withAdmin((c) =>
    c.send(
      new PutKeyPolicyCommand({
        KeyId: keyArn,
        PolicyName: 'default',
        Policy: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            {
              Sid: 'Admin',
              Effect: 'Allow',
              Principal: { AWS: CALLER },
              Action: ['kms:PutKeyPolicy', 'kms:GetKeyPolicy'],
              Resource: '*',
            },
            {
              Sid: 'Enclave',
              Effect: 'Allow',
              Principal: { AWS: CALLER },
              Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
              Resource: '*',
              Condition: { StringEqualsIgnoreCase: { 'kms:RecipientAttestation:ImageSha384': [built.pcr0] } },
            },
          ],
        }),
      }),
    ),
  );

  // unpack the EIF's customer ramdisk: this tree is what boots
  const root = join(tmp, 'root');
  const { cmd, env } = unpack(built.eifPath, root);
  assert.deepEqual(cmd, image.argv, 'the image boots the documented entrypoint');
  assert.ok(existsSync(join(root, 'etc/keycast/enclave.json')), 'the pinned config is in the image');
  installBinary(root, process.execPath, '/usr/bin/node');
  for (const c of Object.keys(image.commands)) assert.ok(existsSync(join(root, c)), `the rootfs lacks ${c}`);
  renameSync(join(root, 'usr/bin/socat'), join(root, 'usr/bin/socat.real'));
  writeFileSync(join(root, 'usr/bin/socat'), SOCAT_SHIM, { mode: 0o755 });
  mkdirSync(join(root, 'run/vsock'), { recursive: true });
  mkdirSync(join(root, 'run/test'), { recursive: true });
  writeFileSync(join(root, 'run/test/pki.json'), JSON.stringify(exportTestPki(pki, { keys: 'issuing' })), {
    mode: 0o600,
  });
  writeFileSync(
    join(root, 'run/test/pcrs.json'),
    JSON.stringify({ pcr0: built.pcr0, pcr1: built.pcr1, pcr2: built.pcr2 }),
  );

  // KMS as the enclave reaches it on AWS: TLS for kms.us-east-1.amazonaws.com at vsock 3:8000
  const ca = join(tmp, 'kms-tls');
  mkdirSync(ca);
  const ssl = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '1',
      '-subj',
      `/CN=${KMS_HOST}`,
      '-addext',
      `subjectAltName=DNS:${KMS_HOST}`,
      '-keyout',
      join(ca, 'key.pem'),
      '-out',
      join(ca, 'cert.pem'),
    ],
    { encoding: 'utf8' },
  );
  assert.equal(ssl.status, 0, ssl.stderr);
  copyFileSync(join(ca, 'cert.pem'), join(root, 'run/test/kms-ca.pem'));
  const kmsPort = Number(new URL(kms.url).port);
  const tls = createTlsServer(
    { key: readFileSync(join(ca, 'key.pem')), cert: readFileSync(join(ca, 'cert.pem')) },
    (s) => {
      const up = netConnect(kmsPort, '127.0.0.1');
      s.pipe(up).pipe(s);
      s.on('error', () => up.destroy());
      up.on('error', () => s.destroy());
    },
  );
  await new Promise<void>((r) => tls.listen(join(root, 'run/vsock/3-8000.sock'), r));
  closers.push(() => tls.close());

  // IMDSv2 stand-in: token by PUT, then the role's credentials
  const imdsTokens = new Set<string>();
  const imds = createHttpServer((req, res) => {
    if (
      req.method === 'PUT' &&
      req.url === '/latest/api/token' &&
      req.headers['x-aws-ec2-metadata-token-ttl-seconds']
    ) {
      const tok = randomBytes(16).toString('hex');
      imdsTokens.add(tok);
      return res.end(tok);
    }
    if (!imdsTokens.has(String(req.headers['x-aws-ec2-metadata-token']))) return res.writeHead(401).end();
    if (req.url === '/latest/meta-data/iam/security-credentials/') return res.end('keycast-enclave');
    if (req.url === '/latest/meta-data/iam/security-credentials/keycast-enclave')
      return res.end(
        JSON.stringify({
          Code: 'Success',
          Type: 'AWS-HMAC',
          ...role,
          Expiration: new Date(Date.now() + 3_600_000).toISOString(),
        }),
      );
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => imds.listen(0, '127.0.0.1', r));
  closers.push(() => imds.close());

  // the host's side of the bridges (keycast-enclave-bridge and keycast-credentials-bridge)
  const [bridge, credsPort] = await Promise.all([freePort(), freePort()]);
  const socat = (...args: string[]) => children.push(spawn('socat', args, { stdio: 'ignore' }));
  socat(
    `TCP-LISTEN:${bridge},bind=127.0.0.1,fork,reuseaddr`,
    `UNIX-CONNECT:${join(root, 'run/vsock/listen-5000.sock')}`,
  );
  socat(`UNIX-LISTEN:${join(root, 'run/vsock/3-8002.sock')},fork,unlink-early`, `TCP:127.0.0.1:${credsPort}`);

  // boot: a network namespace with only loopback (down, as an enclave boots), a mount and PID
  // namespace, proc/dev/tmp as init mounts them, chroot, /cmd with /env as the environment
  assert.equal(spawnSync('ip', ['netns', 'add', ns]).status, 0);
  let enclaveOut = '';
  const bootEnclave = (): ChildProcess => {
    const boot = spawn(
      'ip',
      [
        'netns',
        'exec',
        ns,
        'unshare',
        '--mount',
        '--pid',
        '--fork',
        '--kill-child',
        'sh',
        '-c',
        'R=$1; shift; mount -t proc proc "$R/proc" && mount --rbind /dev "$R/dev" && mount -t tmpfs tmpfs "$R/tmp" && exec chroot "$R" "$@"',
        'boot',
        root,
        ...cmd,
        '--nsm',
        'sim',
        '--pki',
        '/run/test/pki.json',
        '--pcrs',
        '/run/test/pcrs.json',
        '--recheck',
        '1',
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          PATH: '/sbin:/usr/sbin:/bin:/usr/bin', // init's
          ...Object.fromEntries(env.map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)])),
          NODE_EXTRA_CA_CERTS: '/run/test/kms-ca.pem', // the test CA of the TLS terminator in front of dev-kms
        },
      },
    );
    children.push(boot);
    boot.stdout!.on('data', (d) => (enclaveOut += d));
    boot.stderr!.on('data', (d) => (enclaveOut += d));
    return boot;
  };
  const boot = bootEnclave();

  const host = await start([
    'host',
    'run',
    '--enclave',
    `127.0.0.1:${bridge}`,
    '--log',
    log.url,
    '--listen',
    '127.0.0.1:0',
    '--store',
    join(tmp, 'store'),
    '--refresh',
    '1',
    '--credentials-listen',
    `127.0.0.1:${credsPort}`,
    '--imds-endpoint',
    `http://127.0.0.1:${(imds.address() as { port: number }).port}`,
  ]);
  procs.push(host);
  const status = async () => {
    const r = await fetch(`${host.url}/v1/status`);
    return {
      code: r.status,
      body: (await r.json()) as {
        enclave?: {
          gate?: { refusal: { code: string } | null };
          identity?: { ready: boolean; hpkeX25519?: string };
          pcr0?: string;
        };
      },
    };
  };
  const shut = await until(
    'the booted enclave to answer through the bridge, gate shut',
    async () => ((await status()).body.enclave?.gate?.refusal?.code === 'PROOF_MISSING' ? status() : undefined),
    90_000,
  ).catch((e) => assert.fail(`${(e as Error).message}\n--- enclave ---\n${enclaveOut}\n--- host ---\n${host.out()}`));
  assert.equal(shut.code, 503);
  assert.equal(shut.body.enclave?.pcr0, built.pcr0, 'the enclave measures the EIF it booted from');

  // inside, only loopback
  const links = spawnSync('ip', ['netns', 'exec', ns, 'ip', '-o', 'link'], { encoding: 'utf8' })
    .stdout.trim()
    .split('\n');
  assert.deepEqual(
    links.map((l) => l.split(':')[1]!.trim()),
    ['lo'],
  );

  // publish the release of this EIF: the host brings the proof, the gate opens, KMS seals the identity
  const statement = {
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ name: 'enclave.eif', digest: { sha256: built.sha256 } }],
    predicateType: 'https://keycast.dev/release/v1',
    predicate: {
      eif: { sha256: built.sha256 },
      measurements: { pcr0: built.pcr0, pcr1: built.pcr1, pcr2: built.pcr2 },
      source: { repo: 'https://github.com/keycast/keycast', commit: createHash('sha1').update('boot').digest('hex') },
      lock: { sha256: built.lockSha256 },
      builder: { version: 'keycast-0.1.0' },
    },
  };
  const r = await fetch(`${log.url}/add-entry`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: bundleOfPayload(pub, Buffer.from(JSON.stringify(statement))),
  });
  assert.equal(r.status, 200, await r.text());
  const open = await until(
    'the gate to open and the identity to be sealed through KMS with the served credentials',
    async () => {
      const x = await status();
      return x.code === 200 && x.body.enclave?.identity?.ready ? x : undefined;
    },
    30_000,
  ).catch(async (e) => {
    const why = await fetch(`http://127.0.0.1:${bridge}/v1/identity`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    assert.fail(
      `${(e as Error).message}: ${await why.text()}\n--- enclave ---\n${enclaveOut}\n--- host ---\n${host.out()}\n--- kms ---\n${kms.out()}`,
    );
  });
  assert.equal(open.code, 200);
  assert.match(kms.out(), /GenerateDataKey/);
  assert.ok(existsSync(join(tmp, 'store', 'identity.json')));
  const identity = open.body.enclave?.identity?.hpkeX25519;
  assert.ok(identity);

  // the service dies (init would reboot: the enclave is gone) and a fresh enclave boots the same
  // image: a new process with no token and no keys; the host gives it the proof and the token
  // again, and it unseals the same identity through KMS
  const died = new Promise((r) => boot.once('exit', r));
  boot.kill('SIGKILL');
  await died;
  await until('the host to see the enclave gone', async () => ((await status()).code === 200 ? undefined : true));
  bootEnclave();
  const back = await until(
    'the rebooted enclave to reopen and unseal the same identity',
    async () => {
      const x = await status();
      return x.code === 200 && x.body.enclave?.identity?.ready ? x : undefined;
    },
    60_000,
  ).catch((e) => assert.fail(`${(e as Error).message}\n--- enclave ---\n${enclaveOut}\n--- host ---\n${host.out()}`));
  assert.equal(back.body.enclave?.identity?.hpkeX25519, identity, 'the same identity, unsealed');
  assert.match(host.out(), /identity unsealed/);
  assert.match(kms.out(), /Decrypt/);

  // no credential in any output
  for (const [who, out] of [
    ['enclave', enclaveOut],
    ['host', host.out()],
    ['dev-kms', kms.out()],
  ] as const)
    for (const v of [role.SecretAccessKey, role.Token, role.Token.slice(0, 24)])
      assert.ok(!out.includes(v), `${who} printed a credential`);
});
