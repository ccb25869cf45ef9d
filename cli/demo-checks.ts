/**
 * The demo's storyline: each step runs real `keycast` commands (and real servers: log, witness,
 * dev-kms, the enclave and its host) and records a check whose outcome is decided by what they
 * answered, never assumed.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { CreateKeyCommand, KMSClient, PutKeyPolicyCommand } from '@aws-sdk/client-kms';
import { LogClient, parseIdentityBinding, verifyAttestationDocument } from '#verifier';
import { formatEnclaveConfig, toBase64 } from '#verifier/build';
import type { Narrator, RunResult, Service } from './demo-steps.ts';
import { forwardChecks } from './demo-forward.ts';

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export interface DemoContext {
  say: Narrator;
  p(...s: string[]): string;
  services: Service[];
  writeInputs(dir: string, variant: string): void;
  buildArgs(inputs: string, out: string, enclaveConfig: string): string[];
  ORIGIN: string;
  SOURCE: string;
  keycast(args: string[]): Promise<RunResult>;
  keycastOk(args: string[]): Promise<RunResult>;
  startService(args: string[]): Promise<Service>;
  freePort(): Promise<number>;
  /** A cosignature key of a witness that never saw this log. */
  otherWitnessVkey: string;
  /** Called once while every service is up and the release active (test/readme-commands.test.ts runs the README here). */
  live?: (s: LiveStack) => Promise<void>;
}

/** The demo's services while they serve an active, endorsed release, and where its files are. */
export interface LiveStack {
  p(...s: string[]): string;
  logUrl: string;
  logVkey: string;
  witnessVkey: string;
  hostUrl: string;
  pcr0: string;
  releaseIndex: number;
  source: string;
}

interface HostStatus {
  enclave: {
    gate: { open: boolean; refusal: { code: string; message: string } | null; release: { index: number } | null };
    identity: { ready: boolean; hpkeX25519?: string };
  };
  host: { lastRefresh: { code: string | null; identity: string } | null };
  freshSecondsLeft: number;
}

/** The enclave's freshness window in the demo (maxCheckpointAgeSeconds), and the quiet spell watched. */
const DEMO_WINDOW = 8;
const QUIET_SECONDS = 20;

const ACCOUNT = '111122223333';
const CALLER = `arn:aws:iam::${ACCOUNT}:role/keycast-demo-enclave`;
const ADMIN = `arn:aws:iam::${ACCOUNT}:role/keycast-demo-key-admin`;
// dev-kms verifies signatures: the enclave's caller (whose credentials its host relays) is not the
// key's administrator, and only the administrator may PutKeyPolicy. Demo-only values, not secrets.
const DEMO_CREDENTIALS = {
  accessKeyId: 'AKIADEMOKEYCAST00001',
  secretAccessKey: 'demo-only-not-a-secret-000000000000000',
};
const DEMO_ADMIN_CREDENTIALS = {
  accessKeyId: 'AKIADEMOKEYCAST00002',
  secretAccessKey: 'demo-only-not-a-secret-admin-00000000',
};

/** The error code a refused `--json` command printed, or '' when none. */
function errorCode(r: RunResult): string {
  try {
    return String((JSON.parse(r.stdout) as { code?: unknown }).code ?? '');
  } catch {
    return '';
  }
}

function keyPolicy(pcr0s: string[]): string {
  const statements: unknown[] = [
    {
      Sid: 'Admin',
      Effect: 'Allow',
      Principal: { AWS: ADMIN },
      Action: ['kms:PutKeyPolicy', 'kms:GetKeyPolicy', 'kms:DescribeKey'],
      Resource: '*',
    },
  ];
  if (pcr0s.length > 0) {
    statements.push({
      Sid: 'LoggedEnclave',
      Effect: 'Allow',
      Principal: { AWS: CALLER },
      Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
      Resource: '*',
      Condition: { StringEqualsIgnoreCase: { 'kms:RecipientAttestation:ImageSha384': pcr0s } },
    });
  }
  return JSON.stringify({ Version: '2012-10-17', Statement: statements });
}

async function until<T>(f: () => Promise<T | undefined>, ms = 20_000): Promise<T | undefined> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 200));
  }
}

export async function demoChecks(c: DemoContext): Promise<Check[]> {
  const { say, p } = c;
  const checks: Check[] = [];
  const check = (name: string, ok: boolean, detail: string): void => {
    checks.push({ name, ok, detail });
    say.say(`${ok ? '✓' : '✗'} ${detail}`);
  };

  say.step('Start the transparency log, three independent witnesses and a development KMS');
  const logVkey = (await c.keycastOk(['log', 'init', '--data', p('log'), '--origin', c.ORIGIN])).stdout
    .trim()
    .split('\n')
    .pop()!
    .trim();
  say.say(`log verifier key: ${logVkey}`);
  // three witnesses, started side by side
  const witnesses = await Promise.all(
    [1, 2, 3].map(async (n) => {
      const w = await c.startService([
        'witness',
        'serve',
        '--data',
        p(`witness${n}`),
        '--listen',
        `127.0.0.1:${await c.freePort()}`,
        '--log',
        logVkey,
        '--name',
        `witness${n}.demo.keycast.test`,
      ]);
      c.services.push(w);
      return w;
    }),
  );
  const witnessVkeys = await Promise.all(
    [1, 2, 3].map(async (n) => (await c.keycastOk(['witness', 'vkey', '--data', p(`witness${n}`)])).stdout.trim()),
  );
  const witnessVkey = witnessVkeys[0]!;
  await c.keycastOk(['release', 'keygen', '--out', p('release.pem')]);
  await c.keycastOk(['release', 'keygen', '--out', p('rebuilder.pem')]);
  // the simulated NSM's test PKI: the log admits enclave identity entries only from attestations under its root
  await c.keycastOk([
    'nsm',
    'test-pki',
    'init',
    '--out',
    p('test-pki.json'),
    '--keys',
    'issuing',
    '--root-out',
    p('test-root.pem'),
  ]);
  const log = await c.startService([
    'log',
    'serve',
    '--data',
    p('log'),
    '--listen',
    `127.0.0.1:${await c.freePort()}`,
    '--trust-signer',
    p('release.pem.pub'),
    '--trust-rebuilder',
    p('rebuilder.pem.pub'),
    ...witnesses.flatMap((w, i) => ['--witness', `${witnessVkeys[i]}=${w.url}`]),
    '--witness-refresh',
    '1',
    '--trust-root',
    p('test-root.pem'),
  ]);
  c.services.push(log);
  const client = new LogClient({ url: log.url, fetch: globalThis.fetch, logKey: logVkey });
  const served = (await client.checkpoint()).checkpoint;
  check(
    'log up',
    served.origin === c.ORIGIN && served.size === 0,
    `log at ${log.url} serves its empty checkpoint, signed by its key; witnesses ${witnessVkeys.map((v) => v.split('+')[0]).join(', ')}; the log asks them to cosign again every second`,
  );
  const kmsPort = await c.freePort();
  writeFileSync(
    p('kms-credentials.json'),
    JSON.stringify([
      { ...DEMO_CREDENTIALS, principal: CALLER },
      { ...DEMO_ADMIN_CREDENTIALS, principal: ADMIN },
    ]),
    { mode: 0o600 },
  );
  const kmsUrl = `http://127.0.0.1:${kmsPort}`;
  c.services.push(
    await c.startService([
      'dev-kms',
      '--data',
      p('kms'),
      '--listen',
      `127.0.0.1:${kmsPort}`,
      '--trust-root',
      p('test-root.pem'),
      '--credentials',
      p('kms-credentials.json'),
    ]),
  );
  Object.assign(process.env, {
    AWS_ACCESS_KEY_ID: DEMO_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: DEMO_CREDENTIALS.secretAccessKey,
    AWS_REGION: 'us-east-1',
  });
  const kms = new KMSClient({
    region: 'us-east-1',
    endpoint: kmsUrl,
    maxAttempts: 1,
    credentials: DEMO_ADMIN_CREDENTIALS,
  });
  const keyArn = (await kms.send(new CreateKeyCommand({ Description: 'demo enclave identity', Policy: keyPolicy([]) })))
    .KeyMetadata!.Arn!;
  say.say(`KMS key ${keyArn} (no image may use it yet)`);

  say.step("Build the enclave image from pinned inputs, twice, with the enclave's pinned configuration inside");
  c.writeInputs(p('inputs'), 'v1');
  writeFileSync(
    p('inputs', 'enclave.json'),
    formatEnclaveConfig({
      version: 1,
      log: { origin: c.ORIGIN, vkey: logVkey },
      witnesses: { vkeys: witnessVkeys, threshold: 2 },
      maxCheckpointAgeSeconds: DEMO_WINDOW,
      publishers: [readFileSync(p('release.pem.pub'), 'utf8')],
      kms: { keyArn, region: 'us-east-1' },
      deliveries: { required: true },
    }),
  );
  say.say(
    `enclave.json pins the log key and origin, the witnesses (2 of 3, cosigned ≤ ${DEMO_WINDOW} s ago: a demo-sized window; 600 s in production), the release key, the KMS key — and deliveries.required: every forward goes on the log before any KDM leaves the enclave usable`,
  );
  const b1 = JSON.parse(
    (await c.keycastOk(c.buildArgs(p('inputs'), p('build'), p('inputs', 'enclave.json')))).stdout,
  ) as { sha256: string; measurements: Record<string, string> };
  const pcr0 = b1.measurements.PCR0!;
  await c.keycastOk(['build', '--lock', p('build', 'builder.lock.json'), '--out', p('rebuild'), '--json']);
  const same = readFileSync(p('build', 'enclave.eif')).equals(readFileSync(p('rebuild', 'enclave.eif')));
  check(
    'reproducible',
    same,
    `rebuilt from the lock file: ${same ? 'byte-identical' : 'DIFFERENT'} EIF, PCR0 ${pcr0.slice(0, 16)}…`,
  );
  await kms.send(new PutKeyPolicyCommand({ KeyId: keyArn, PolicyName: 'default', Policy: keyPolicy([pcr0]) }));
  say.say(`key policy: kms:RecipientAttestation:ImageSha384 = ${pcr0.slice(0, 16)}… may GenerateDataKey/Decrypt`);

  say.step('Boot the enclave (simulated NSM) and its host — before the release is logged');
  const pair = async (build: string) => {
    const relay = await c.freePort();
    const enclave = await c.startService([
      'enclave',
      'run',
      '--nsm',
      'sim',
      '--pki',
      p('test-pki.json'),
      '--pcrs',
      p(build, 'measurements.json'),
      '--config',
      p('inputs', 'enclave.json'),
      '--listen',
      `127.0.0.1:${await c.freePort()}`,
      '--recheck',
      '2',
      '--kms-endpoint',
      `http://127.0.0.1:${relay}`,
    ]);
    c.services.push(enclave);
    const host = await c.startService([
      'host',
      'run',
      '--enclave',
      enclave.url,
      '--log',
      log.url,
      '--listen',
      `127.0.0.1:${await c.freePort()}`,
      '--store',
      p('host-store'),
      '--refresh',
      '1',
      '--kms-listen',
      `127.0.0.1:${relay}`,
      '--kms-target',
      `127.0.0.1:${kmsPort}`,
    ]);
    c.services.push(host);
    const status = async () => {
      const r = await fetch(`${host.url}/v1/status`);
      return { code: r.status, body: (await r.json()) as HostStatus };
    };
    return {
      enclave,
      host,
      status,
      async stop() {
        await host.stop();
        await enclave.stop();
      },
    };
  };
  let a = await pair('build');
  const s0 = await a.status();
  check(
    'gate refuses unlogged',
    s0.code === 503 && s0.body.enclave.gate.refusal?.code === 'PROOF_MISSING',
    `GET /v1/status → ${s0.code} ${s0.body.enclave.gate.refusal?.code ?? 'open'}: the log has no release of this PCR0, so nothing is served and KMS is never called`,
  );

  say.step('Sign the release into a Sigstore bundle and publish it to the log');
  await c.keycastOk([
    'release',
    'sign',
    '--eif',
    p('build', 'enclave.eif'),
    '--source',
    c.SOURCE,
    '--lock',
    p('build', 'builder.lock.json'),
    '--key',
    p('release.pem'),
    '--out',
    p('release.bundle.json'),
  ]);
  const pub = JSON.parse(
    (
      await c.keycastOk([
        'release',
        'publish',
        '--log',
        log.url,
        p('release.bundle.json'),
        '--log-key',
        logVkey,
        '--json',
      ])
    ).stdout,
  ) as { index?: number };
  const verified = await c.keycast([
    'verify',
    'release',
    '--bundle',
    p('release.bundle.json'),
    '--log-key',
    logVkey,
    '--publisher',
    p('release.pem.pub'),
  ]);
  check(
    'published + sigstore',
    verified.code === 0,
    `entry ${pub.index ?? '?'}; stock @sigstore/verify with a trusted root naming the log: ${verified.code === 0 ? 'accepted' : `refused (${verified.stderr.trim()})`}`,
  );
  await rebuildAndEndorse(c, { logUrl: log.url, logVkey, witnessVkey, pcr0, index: pub.index ?? 0, check });

  say.step('The enclave gate opens with the verifier the studio uses, and the enclave seals its identity through KMS');
  const opened = await until(async () => {
    const s = await a.status();
    return s.code === 200 && s.body.enclave.identity.ready ? s : undefined;
  });
  check(
    'gate serves',
    opened !== undefined,
    opened
      ? `the host brought a proof bundle (tlog-proof, the log's signed status at that tree, cosigned): gate open for release ${opened.body.enclave.gate.release?.index}`
      : `the gate did not open: ${JSON.stringify((await a.status()).body.enclave.gate.refusal)}`,
  );
  const hpke = opened?.body.enclave.identity.hpkeX25519 ?? '';
  check(
    'identity sealed',
    opened?.body.host.lastRefresh?.identity === 'created' || opened?.body.host.lastRefresh?.identity === 'ready',
    `first boot: keys generated in the enclave, data key from KMS GenerateDataKey+Recipient, sealed blob stored by the host; HPKE key ${hpke.slice(0, 12)}…`,
  );

  say.step("A studio verifies the enclave's attestation: chain, PCR0 logged, witnessed, fresh, active, keys bound");
  const nonce = 'ab'.repeat(16);
  writeFileSync(
    p('attestation.cbor'),
    new Uint8Array(await (await fetch(`${a.host.url}/v1/attestation?nonce=${nonce}`)).arrayBuffer()),
  );
  const untrusted = await c.keycast(['verify', 'attestation', p('attestation.cbor'), '--expect-pcr0', pcr0, '--json']);
  check(
    'test root not trusted by default',
    untrusted.code === 1,
    `without --trust-root the document is refused: ${errorCode(untrusted) || `exit ${untrusted.code}`}`,
  );
  const studio = await c.keycast([
    'verify',
    'attestation',
    p('attestation.cbor'),
    '--trust-root',
    p('test-root.pem'),
    '--expect-pcr0',
    pcr0,
    '--nonce',
    nonce,
    '--max-age',
    '300',
    '--log',
    log.url,
    '--log-key',
    logVkey,
    '--witness',
    witnessVkey,
    '--max-checkpoint-age',
    '600',
    '--json',
  ]);
  let bound = '';
  try {
    const v = verifyAttestationDocument(new Uint8Array(readFileSync(p('attestation.cbor'))), {
      trustedRoots: [
        new Uint8Array(
          Buffer.from(readFileSync(p('test-root.pem'), 'utf8').replace(/-----[^-]+-----|\s/g, ''), 'base64'),
        ),
      ],
    });
    bound = toBase64(parseIdentityBinding(v.userData, v.publicKey).hpkeX25519);
  } catch (e) {
    bound = `unreadable: ${(e as Error).message}`;
  }
  check(
    'studio verifies',
    studio.code === 0 && bound === hpke,
    `studio's check (chain, signature, PCR0, nonce, logged, witnessed, fresh, active): ${studio.code === 0 ? 'verified' : `refused ${errorCode(studio)}`}; public_key is the bound HPKE key: ${bound === hpke ? 'yes' : 'NO'}`,
  );
  const unwitnessed = await c.keycast([
    'verify',
    'attestation',
    p('attestation.cbor'),
    '--trust-root',
    p('test-root.pem'),
    '--log',
    log.url,
    '--log-key',
    logVkey,
    '--witness',
    c.otherWitnessVkey,
    '--json',
  ]);
  check(
    'unwitnessed refused',
    unwitnessed.code === 1,
    `requiring a witness that never saw this log: ${unwitnessed.code === 1 ? `refused ${errorCode(unwitnessed)}` : 'ACCEPTED'}`,
  );

  await forwardChecks(c, { hostUrl: a.host.url, logUrl: log.url, logVkey, witnessVkey, hpke, check });
  await c.live?.({
    p,
    logUrl: log.url,
    logVkey,
    witnessVkey,
    hostUrl: a.host.url,
    pcr0,
    releaseIndex: pub.index ?? 0,
    source: c.SOURCE,
  });

  say.step('A quiet day later: no new release, one witness down — the door stays open');
  await quietDay(c, { status: a.status, hostUrl: a.host.url, log, witness: witnesses[2]!, check });

  say.step('Restart the enclave: KMS Decrypt+Recipient unseals the same identity');
  await a.stop();
  a = await pair('build');
  const again = await until(async () => {
    const s = await a.status();
    return s.body.enclave.identity.ready ? s : undefined;
  });
  check(
    'restart same keys',
    again?.body.enclave.identity.hpkeX25519 === hpke,
    `after a restart the enclave holds HPKE key ${(again?.body.enclave.identity.hpkeX25519 ?? 'none').slice(0, 12)}… (${again?.body.host.lastRefresh?.identity ?? 'not unsealed'})`,
  );

  say.step('An operator swaps in modified code');
  c.writeInputs(p('inputs-evil'), 'v1 + exfiltration');
  const b2 = JSON.parse(
    (await c.keycastOk(c.buildArgs(p('inputs-evil'), p('evil'), p('inputs', 'enclave.json')))).stdout,
  ) as { measurements: Record<string, string> };
  const diff = await c.keycast(['diff-eif', p('build', 'enclave.eif'), p('evil', 'enclave.eif')]);
  const named = diff.code === 1 && diff.stdout.includes('forwarder.js');
  check(
    'diff-eif explains',
    named,
    `diff-eif names the changed file: ${named ? 'rootfs/app/forwarder.js' : diff.stdout.trim().split('\n')[0]}`,
  );
  await c.keycastOk([
    'nsm',
    'attest',
    '--sim',
    '--pki',
    p('test-pki.json'),
    '--pcrs',
    p('evil', 'measurements.json'),
    '--out',
    p('evil.cbor'),
  ]);
  const evil = await c.keycast([
    'verify',
    'attestation',
    p('evil.cbor'),
    '--trust-root',
    p('test-root.pem'),
    '--log',
    log.url,
    '--log-key',
    logVkey,
    '--json',
  ]);
  check(
    'unlogged refused',
    evil.code === 1,
    `PCR0 ${b2.measurements.PCR0!.slice(0, 16)}… is not in the log: ${evil.code === 1 ? `refused ${errorCode(evil)}` : 'ACCEPTED'}`,
  );
  const e = await pair('evil');
  const se = await e.status();
  check(
    'modified enclave refuses',
    se.code === 503 && !se.body.enclave.identity.ready,
    `the modified enclave answers ${se.code} ${se.body.enclave.gate.refusal?.code ?? 'open'} and never reaches its keys`,
  );
  await e.stop();

  say.step('The publisher revokes the release');
  await c.keycastOk([
    'release',
    'revoke',
    '--log',
    log.url,
    '--index',
    String(opened?.body.enclave.gate.release?.index ?? pub.index ?? 0),
    '--reason',
    'demo: key rotation',
    '--key',
    p('release.pem'),
    '--out',
    p('revocation.json'),
  ]);
  const after = await c.keycast([
    'verify',
    'attestation',
    p('attestation.cbor'),
    '--trust-root',
    p('test-root.pem'),
    '--log',
    log.url,
    '--log-key',
    logVkey,
    '--json',
  ]);
  check(
    'revoked refused',
    after.code === 1,
    `studio's check after revocation: ${after.code === 1 ? `refused ${errorCode(after)}` : 'ACCEPTED'}`,
  );
  const shut = await until(async () => {
    const s = await a.status();
    return s.code === 503 ? s : undefined;
  }, 10_000);
  check(
    'gate refuses revoked',
    shut?.body.enclave.gate.refusal?.code === 'RELEASE_REVOKED',
    `within one re-check the enclave answers ${shut?.code ?? 200} ${shut?.body.enclave.gate.refusal?.code ?? 'still open'}: ${shut?.body.enclave.gate.refusal?.message ?? ''}`,
  );
  kms.destroy();
  return checks;
}

/**
 * Nothing is published for QUIET_SECONDS (several freshness windows) and the third witness is
 * stopped: the log re-cosigns its unchanged checkpoint every second, the host brings the fresh
 * proof to the enclave, 2 of 3 witnesses still meet the policy, and the door never shuts.
 */
async function quietDay(
  c: DemoContext,
  d: {
    status: () => Promise<{ code: number; body: HostStatus }>;
    hostUrl: string;
    log: Service;
    witness: Service;
    check: (name: string, ok: boolean, detail: string) => void;
  },
): Promise<void> {
  const size = async () => Number((await (await fetch(`${d.log.url}/checkpoint`)).text()).split('\n')[1]);
  const before = await size();
  await d.witness.stop();
  c.say.say(
    `witness3 stopped; watching GET /v1/status for ${QUIET_SECONDS} s (${QUIET_SECONDS / DEMO_WINDOW} windows)`,
  );
  const end = Date.now() + QUIET_SECONDS * 1000;
  let polls = 0;
  const shut: string[] = [];
  let least = Infinity;
  while (Date.now() < end) {
    const s = await d.status();
    polls++;
    if (s.code !== 200) shut.push(s.body.enclave.gate.refusal?.code ?? String(s.code));
    else least = Math.min(least, s.body.freshSecondsLeft);
    await new Promise((r) => setTimeout(r, 500));
  }
  const after = await size();
  const last = await d.status();
  d.check(
    'quiet day open',
    shut.length === 0 && after === before && last.code === 200 && last.body.freshSecondsLeft > 0,
    shut.length === 0
      ? `${polls} status checks over ${QUIET_SECONDS} s with the log at size ${after} (nothing appended) and 2 of 3 witnesses: always open, freshSecondsLeft ≥ ${least} (now ${last.body.freshSecondsLeft})`
      : `the door shut ${shut.length} of ${polls} times: ${[...new Set(shut)].join(', ')}`,
  );
  const text = await (await fetch(`${d.hostUrl}/metrics`)).text();
  const shown = text
    .split('\n')
    .filter((l) => /^keycast_(gate_open|fresh_seconds_left|forwards_total|kdms_total|kms_round_trips_total)\b/.test(l));
  for (const l of shown) c.say.say(`  ${l}`);
  d.check(
    'metrics',
    /^keycast_gate_open 1$/m.test(text) && /^keycast_kdms_total\{format="kdm"\} [1-9]/m.test(text),
    `GET /metrics (Prometheus text): door open, ${shown.length} figures shown above`,
  );
}

/**
 * An independent rebuilder (a key the log admits with --trust-rebuilder) reproduces the release
 * from its lock, checks the released image it was given, and endorses it in the log; the studio then
 * requires one such rebuild.
 */
async function rebuildAndEndorse(
  c: DemoContext,
  o: {
    logUrl: string;
    logVkey: string;
    witnessVkey: string;
    pcr0: string;
    index: number;
    check: (name: string, ok: boolean, detail: string) => void;
  },
): Promise<void> {
  const { p, say } = c;
  say.step('An independent rebuilder reproduces the release from its lock and endorses it in the log');
  const logFlags = ['--log', o.logUrl, '--log-key', o.logVkey, '--witness', o.witnessVkey];
  const rebuilt = await c.keycast([
    'verify',
    'rebuild',
    '--lock',
    p('build', 'builder.lock.json'),
    '--released-eif',
    p('build', 'enclave.eif'),
    '--out',
    p('rebuilt'),
    ...logFlags,
    '--publisher',
    p('release.pem.pub'),
    '--json',
  ]);
  let reproduced = false;
  try {
    reproduced = (JSON.parse(rebuilt.stdout) as { reproduced?: boolean }).reproduced === true;
  } catch {
    reproduced = false;
  }
  await c.keycast([
    'endorse',
    '--eif',
    p('rebuilt', 'enclave.eif'),
    '--source',
    c.SOURCE,
    '--lock',
    p('build', 'builder.lock.json'),
    '--release-index',
    String(o.index),
    '--key',
    p('rebuilder.pem'),
    '--log',
    o.logUrl,
    '--log-key',
    o.logVkey,
    '--out',
    p('endorsement.json'),
  ]);
  const required = await c.keycast([
    'verify',
    'release',
    o.pcr0,
    ...logFlags,
    '--publisher',
    p('release.pem.pub'),
    '--require-rebuilds',
    '1',
    '--rebuilder',
    p('rebuilder.pem.pub'),
  ]);
  o.check(
    'rebuilt + endorsed',
    rebuilt.code === 0 && reproduced && required.code === 0,
    `verify rebuild: ${rebuilt.code === 0 && reproduced ? 'REPRODUCED (PCR0/1/2, and --released-eif is the released image)' : `exit ${rebuilt.code} ${errorCode(rebuilt)}`}; endorse → verify release --require-rebuilds 1 --rebuilder rebuilder.pem.pub: ${required.code === 0 ? 'passes' : `exit ${required.code} ${errorCode(required) || required.stderr.trim().split('\n').pop()}`}`,
  );
}
