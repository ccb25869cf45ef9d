/**
 * The enclave stack on loopback through the real CLI, shared by the end-to-end tests: a SQLite
 * log with three witnesses (the image pins 2 of 3, as a deployment would: one witness down shuts
 * nothing), `keycast dev-kms` trusting the simulator's test root (the real
 * @aws-sdk/client-kms talks to it), and `pair()` to start `keycast enclave run --nsm sim` with
 * `keycast host run` feeding it proofs from the log, storing its sealed identity and relaying its
 * KMS traffic. The image's PCRs are the release fixture's for `seed`; publish its release with
 * `publish()`. Every process is registered with `run` so the caller can stop and scan them.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createHash } from 'node:crypto';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import type { EnclaveConfig } from '#verifier';
import { formatEnclaveConfig } from '#verifier/build';
import { createTestPki, exportTestPki } from '../enclave/index.ts';
import { ROOT, newPublisher, releaseBundle, releaseFields } from './log-fixtures.ts';
import { freePort, until, type Proc } from './enclave-e2e-helpers.ts';

export const KEYCAST = resolve(ROOT, 'bin/keycast.mjs');
export const ORIGIN = 'e2e.keycast.test/log';
const ACCOUNT = '111122223333';
const ADMIN = `arn:aws:iam::${ACCOUNT}:role/key-admin`;
const ENCLAVE_ROLE = `arn:aws:iam::${ACCOUNT}:role/keycast-enclave`;
export const CREDS = [
  { accessKeyId: 'AKIAADMINEXAMPLE0001', secretAccessKey: 'admin-secret-0000000000000000000000000', principal: ADMIN },
  {
    accessKeyId: 'AKIAENCLAVEEXAMPLE01',
    secretAccessKey: 'enclave-secret-00000000000000000000000',
    principal: ENCLAVE_ROLE,
  },
];

const sha384 = (s: string) => createHash('sha384').update(s).digest('hex');

/** Runs `keycast ARGS` to completion; asserts exit 0 and returns its trimmed stdout. */
export function keycastSync(...args: string[]): string {
  const r = spawnSync(process.execPath, [KEYCAST, ...args], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

export interface HostStatus {
  enclave: {
    gate: {
      open: boolean;
      refusal: { code: string } | null;
      release: { index: number } | null;
      freshUntil: number | null;
    };
    identity: { ready: boolean; hpkeX25519?: string; receiptsEd25519?: string };
  };
  host: { lastRefresh: { code: string | null; identity: string } | null };
  freshSecondsLeft: number;
}

export interface StackOptions {
  /** `log serve --witness-refresh` (default: the log's own default) */
  witnessRefreshSeconds?: number;
  /** `host run --refresh` (default 1) */
  hostRefreshSeconds?: number;
  /** more `log serve` flags (e.g. `--trust-root FILE` for enclave identity entries) */
  logArgs?: string[];
}

export async function startStack(
  tmp: string,
  run: (args: string[], env?: Record<string, string>) => Promise<Proc>,
  answers: string[] = [],
  seed = 'e2e',
  opts: StackOptions = {},
) {
  const logVkey = keycastSync('log', 'init', '--data', join(tmp, 'log'), '--origin', ORIGIN);
  const witnesses = await Promise.all(
    [1, 2, 3].map((n) =>
      run([
        'witness',
        'serve',
        '--data',
        join(tmp, `w${n}`),
        '--listen',
        '127.0.0.1:0',
        '--log',
        logVkey,
        '--name',
        `w${n}.e2e.keycast.test`,
      ]),
    ),
  );
  const witnessVkeys = [1, 2, 3].map((n) => keycastSync('witness', 'vkey', '--data', join(tmp, `w${n}`)));
  const witness = witnesses[0]!;
  const witnessVkey = witnessVkeys[0]!;
  const pub = newPublisher();
  writeFileSync(join(tmp, 'signer.pem'), pub.publicPem);
  // a fixed port, so a test can stop the log and start it again where the host looks for it
  const logArgs = [
    'log',
    'serve',
    '--data',
    join(tmp, 'log'),
    '--listen',
    `127.0.0.1:${await freePort()}`,
    '--trust-signer',
    join(tmp, 'signer.pem'),
    ...witnesses.flatMap((w, i) => ['--witness', `${witnessVkeys[i]}=${w.url}`]),
    ...(opts.witnessRefreshSeconds === undefined ? [] : ['--witness-refresh', String(opts.witnessRefreshSeconds)]),
    '--admission-workers',
    '0',
    ...(opts.logArgs ?? []),
  ];
  const log = await run(logArgs);
  /** Starts the log again (same data, same address) after a test stopped it; `extra` flags replace opts.logArgs. */
  const startLog = (extra?: string[]) =>
    run(extra === undefined ? logArgs : [...logArgs.slice(0, logArgs.length - (opts.logArgs?.length ?? 0)), ...extra]);
  const pki = createTestPki();
  writeFileSync(join(tmp, 'pki.json'), JSON.stringify(exportTestPki(pki, { keys: 'issuing' })), { mode: 0o600 });
  writeFileSync(join(tmp, 'root.pem'), pki.rootPem);
  writeFileSync(join(tmp, 'creds.json'), JSON.stringify(CREDS));
  const kms = await run([
    'dev-kms',
    '--data',
    join(tmp, 'kms'),
    '--listen',
    '127.0.0.1:0',
    '--trust-root',
    join(tmp, 'root.pem'),
    '--credentials',
    join(tmp, 'creds.json'),
  ]);
  const kmsCalls = () =>
    kms
      .out()
      .split('\n')
      .filter((l) => /^(GenerateDataKey|Decrypt) /.test(l)).length;

  // the image: the release fixture's PCRs; its config pins the log, the witness, the publisher, the KMS key
  const f = releaseFields(seed);
  const pcrs = { pcr0: f.pcr0, pcr1: sha384(`pcr1-${seed}`), pcr2: sha384(`pcr2-${seed}`) };
  writeFileSync(join(tmp, 'pcrs.json'), JSON.stringify(pcrs));
  const admin = new KMSClient({ region: 'us-east-1', endpoint: kms.url, maxAttempts: 1, credentials: CREDS[0]! });
  const key = (
    await admin.send(
      new CreateKeyCommand({
        Description: 'keycast enclave identity',
        Policy: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            {
              Sid: 'Admins',
              Effect: 'Allow',
              Principal: { AWS: ADMIN },
              Action: ['kms:PutKeyPolicy', 'kms:GetKeyPolicy', 'kms:DescribeKey'],
              Resource: '*',
            },
            {
              Sid: 'LoggedEnclave',
              Effect: 'Allow',
              Principal: { AWS: ENCLAVE_ROLE },
              Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
              Resource: '*',
              Condition: { StringEqualsIgnoreCase: { 'kms:RecipientAttestation:ImageSha384': [f.pcr0] } },
            },
          ],
        }),
      }),
    )
  ).KeyMetadata!.Arn!;
  const config = (maxAge: number): EnclaveConfig => ({
    version: 1,
    log: { origin: ORIGIN, vkey: logVkey },
    witnesses: { vkeys: witnessVkeys, threshold: 2 },
    maxCheckpointAgeSeconds: maxAge,
    publishers: [pub.publicPem],
    kms: { keyArn: key, region: 'us-east-1' },
  });
  writeFileSync(join(tmp, 'enclave.json'), formatEnclaveConfig(config(600)));

  const enclaveEnv = {
    AWS_ACCESS_KEY_ID: CREDS[1]!.accessKeyId,
    AWS_SECRET_ACCESS_KEY: CREDS[1]!.secretAccessKey,
    AWS_REGION: 'us-east-1',
  };
  /** `keycast enclave run --nsm sim` on this image, reaching KMS at `kmsEndpoint`, re-checking every second. */
  const enclaveOnly = (kmsEndpoint: string, cfg = 'enclave.json') =>
    run(
      [
        'enclave',
        'run',
        '--nsm',
        'sim',
        '--pki',
        join(tmp, 'pki.json'),
        '--pcrs',
        join(tmp, 'pcrs.json'),
        '--config',
        join(tmp, cfg),
        '--listen',
        '127.0.0.1:0',
        '--recheck',
        '1',
        '--kms-endpoint',
        kmsEndpoint,
      ],
      enclaveEnv,
    );
  /** One enclave and its host; the enclave reaches dev-kms only through its host's relay. */
  const pair = async (store: string, cfg = 'enclave.json') => {
    const relay = await freePort();
    const enclave = await enclaveOnly(`http://127.0.0.1:${relay}`, cfg);
    const kmsAddr = new URL(kms.url);
    const host = await run([
      'host',
      'run',
      '--enclave',
      enclave.url,
      '--log',
      log.url,
      '--log-key',
      logVkey,
      '--listen',
      '127.0.0.1:0',
      '--store',
      join(tmp, store),
      '--refresh',
      String(opts.hostRefreshSeconds ?? 1),
      '--kms-listen',
      `127.0.0.1:${relay}`,
      '--kms-target',
      `${kmsAddr.hostname}:${kmsAddr.port}`,
    ]);
    const status = async () => {
      const r = await fetch(`${host.url}/v1/status`);
      const text = await r.text();
      answers.push(text);
      return { code: r.status, body: JSON.parse(text) as HostStatus };
    };
    const when = (what: string, ok: (s: { code: number; body: HostStatus }) => boolean, ms?: number) =>
      until(
        what,
        async () => {
          const s = await status();
          return ok(s) ? s : undefined;
        },
        ms,
      );
    return {
      enclave,
      host,
      /** the host's KMS relay port (the enclave's KMS endpoint) */
      relay,
      status,
      when,
      async stop() {
        await host.stop();
        await enclave.stop();
      },
    };
  };
  /** Publishes this image's release to the log; returns its index. */
  const publish = async () => {
    const r = await fetch(`${log.url}/add-entry`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: releaseBundle(pub, seed),
    });
    assert.equal(r.status, 200, await r.text());
    return ((await (await fetch(`${log.url}/lookup/pcr0/${f.pcr0}`)).json()) as { index: number }).index;
  };
  return {
    logVkey,
    witness,
    witnessVkey,
    witnesses,
    witnessVkeys,
    pub,
    log,
    startLog,
    pki,
    kms,
    kmsCalls,
    admin,
    key,
    f,
    pcrs,
    seed,
    config,
    enclaveEnv,
    enclaveOnly,
    pair,
    publish,
  };
}
