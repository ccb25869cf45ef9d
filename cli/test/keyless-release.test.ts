/**
 * Keyless releases end to end, on loopback: `release sign --keyless` gets a Fulcio certificate for
 * a GitHub Actions workflow identity (the token from a file, a flag, or the runner's ambient token
 * endpoint) and an RFC 3161 timestamp, from @sigstore/mock stand-ins (cli/test/sigstore-standins.ts),
 * never the public instance; a log that pins publishers by identity (`--trust-identity`) admits it;
 * `verify release` proves it by identity (bundle alone, and through the log by PCR0); `monitor`
 * alarms on a release by another identity; the enclave gate (#verifier decideGate, the log's own
 * proof and status, a witness cosignature) opens for a config pinning the identity; and the wrong
 * workflow, ref, issuer, trigger or repository is refused with IDENTITY_MISMATCH naming the field.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  LogClient,
  decideGate,
  decodeLeaf,
  fetchProofBundle,
  parseTlogProof,
  keylessPublishers,
  parseEnclaveConfig,
  requireConfigIdentity,
  type EnclaveConfig,
} from '#verifier';
import {
  cosignatureSigner,
  cosignatureVerifierKey,
  formatTlogProof,
  fromHex,
  generateNoteKey,
  signNote,
  splitNote,
  fromBase64,
} from '#verifier/build';
import { buildApp, createLog, openLog, releasePolicy } from '../../log-server/index.ts';
import { main } from '../main.ts';
import { fakeOidcToken, githubClaims, startSigstoreStandins } from './sigstore-standins.ts';

const ORIGIN = 'log.keycast.test/keyless';
const REPO = 'keycast/enclave-app';
const WORKFLOW = '.github/workflows/release.yml';
const REF = 'refs/tags/v1.2.0';
const IDENTITY = `https://github.com/${REPO}/${WORKFLOW}@${REF}`;
const ISSUER = 'https://token.actions.githubusercontent.com';
const SHA = 'c0ffee'.padEnd(40, '0');

/** Runs `keycast ARGS` in-process; returns the exit code and what it printed (stdout + stderr). */
async function keycast(
  args: string[],
  cwd: string,
  env: Record<string, string> = {},
): Promise<{ code: number; out: string }> {
  const log = console.log;
  const write = process.stderr.write.bind(process.stderr);
  const here = process.cwd();
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  let out = '';
  console.log = (...a: unknown[]) => {
    out += `${a.join(' ')}\n`;
  };
  process.stderr.write = ((c: string | Uint8Array) => {
    out += String(c);
    return true;
  }) as typeof process.stderr.write;
  Object.assign(process.env, env);
  process.chdir(cwd);
  try {
    return { code: await main(args), out };
  } finally {
    process.chdir(here);
    console.log = log;
    process.stderr.write = write;
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

test('keyless release → log admission by identity → verify release by identity → enclave config hook', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'keycast-keyless-'));
  const sig = await startSigstoreStandins();
  t.after(async () => {
    await sig.close();
    rmSync(dir, { recursive: true, force: true });
  });
  writeFileSync(join(dir, 'trusted_root.json'), JSON.stringify(sig.trustedRoot));
  const policy = { identity: IDENTITY, issuer: ISSUER, githubWorkflowRef: REF, githubWorkflowRepository: REPO };
  writeFileSync(join(dir, 'publisher.json'), JSON.stringify(policy));

  // the log pins the publisher by identity (what `log serve --trust-identity publisher.json` wires)
  const { vkey } = createLog(join(dir, 'log'), ORIGIN);
  const log = await openLog(join(dir, 'log'), {
    policy: releasePolicy({ allowedSigners: [], allowedIdentities: keylessPublishers([policy], sig.trustedRoot) }),
  });
  const app = await buildApp({ log });
  const logUrl = await app.listen({ host: '127.0.0.1', port: 0 });
  t.after(async () => {
    await app.close();
    await log.close();
  });

  const pcr = (c: string) => c.repeat(96);
  writeFileSync(join(dir, 'enclave.eif'), randomBytes(2048));
  writeFileSync(join(dir, 'pcrs.json'), JSON.stringify({ PCR0: pcr('a'), PCR1: pcr('b'), PCR2: pcr('c') }));
  writeFileSync(join(dir, 'builder.lock.json'), '{"inputs":[]}\n');
  const claims = githubClaims({ repository: REPO, workflowPath: WORKFLOW, ref: REF, sha: SHA, eventName: 'push' });
  const token = fakeOidcToken(claims);
  writeFileSync(join(dir, 'token'), `${token}\n`);
  const signArgs = (out: string, tokenArgs: string[]) => [
    'release',
    'sign',
    '--eif',
    'enclave.eif',
    '--pcrs',
    'pcrs.json',
    '--source',
    `https://github.com/${REPO}@${SHA}`,
    '--lock',
    'builder.lock.json',
    '--keyless',
    ...tokenArgs,
    '--fulcio-url',
    sig.url,
    '--timestamp-server-url',
    sig.url,
    '--out',
    out,
  ];
  const signed = await keycast(signArgs('bundle.json', ['--identity-token-file', 'token']), dir);
  assert.equal(signed.code, 0, signed.out);
  assert.ok(!signed.out.includes(token), 'the token was printed');
  assert.deepEqual([...new Set(sig.seen)].sort(), ['/api/v1/timestamp', '/api/v2/signingCert']);
  const bundle = JSON.parse(readFileSync(join(dir, 'bundle.json'), 'utf8'));
  assert.ok(bundle.verificationMaterial.certificate, 'a keyless bundle carries its Fulcio certificate');
  assert.equal(bundle.verificationMaterial.timestampVerificationData.rfc3161Timestamps.length, 1);

  const pub = await keycast(['release', 'publish', '--log', logUrl, 'bundle.json', '--log-key', vkey], dir);
  assert.equal(pub.code, 0, pub.out);

  const id = [
    '--certificate-identity',
    IDENTITY,
    '--certificate-oidc-issuer',
    ISSUER,
    '--trusted-root',
    'trusted_root.json',
  ];
  const offline = await keycast(['verify', 'release', '--bundle', 'bundle.json', '--log-key', vkey, ...id], dir);
  assert.equal(offline.code, 0, offline.out);
  assert.match(offline.out, new RegExp(`publisher  ${IDENTITY.replace(/[.]/g, '\\.')}`));
  const state = join(dir, 'state');
  const online = await keycast(
    ['verify', 'release', pcr('a'), '--log', logUrl, '--log-key', vkey, '--state', state, ...id, '--json'],
    dir,
  );
  assert.equal(online.code, 0, online.out);
  const facts = JSON.parse(online.out.slice(online.out.indexOf('{')));
  assert.deepEqual(facts.identity, { sans: [IDENTITY], issuer: ISSUER });
  assert.equal(facts.status, 'active');

  // wrong workflow, ref, issuer, trigger, repository: refused (exit 1) naming the field
  const refusals: Array<[string[], string]> = [
    [
      ['--certificate-identity', IDENTITY.replace('release.yml', 'other.yml'), '--certificate-oidc-issuer', ISSUER],
      'certificate-identity',
    ],
    [
      ['--certificate-identity', IDENTITY, '--certificate-oidc-issuer', 'https://accounts.google.com'],
      'certificate-oidc-issuer',
    ],
    [
      [
        '--certificate-identity',
        IDENTITY,
        '--certificate-oidc-issuer',
        ISSUER,
        '--certificate-github-workflow-ref',
        'refs/heads/main',
      ],
      'certificate-github-workflow-ref',
    ],
    [
      [
        '--certificate-identity',
        IDENTITY,
        '--certificate-oidc-issuer',
        ISSUER,
        '--certificate-github-workflow-trigger',
        'workflow_dispatch',
      ],
      'certificate-github-workflow-trigger',
    ],
    [
      [
        '--certificate-identity',
        IDENTITY,
        '--certificate-oidc-issuer',
        ISSUER,
        '--certificate-github-workflow-repository',
        'keycast/fork',
      ],
      'certificate-github-workflow-repository',
    ],
    // a prefix is not the identity, and a regexp must match all of it
    [['--certificate-identity', IDENTITY.slice(0, -3), '--certificate-oidc-issuer', ISSUER], 'certificate-identity'],
    [
      ['--certificate-identity-regexp', 'https://github\\.com/keycast/', '--certificate-oidc-issuer', ISSUER],
      'certificate-identity-regexp',
    ],
  ];
  for (const [flags, field] of refusals) {
    const args = [
      'verify',
      'release',
      '--bundle',
      'bundle.json',
      '--log-key',
      vkey,
      ...flags,
      '--trusted-root',
      'trusted_root.json',
      '--json',
    ];
    const r = await keycast(args, dir);
    assert.equal(r.code, 1, `${field}: ${r.out}`);
    const err = JSON.parse(r.out.slice(r.out.indexOf('{')));
    assert.equal(err.code, 'IDENTITY_MISMATCH', r.out);
    assert.equal(err.evidence.field, field);
  }
  const regexpOk = await keycast(
    [
      'verify',
      'release',
      '--bundle',
      'bundle.json',
      '--log-key',
      vkey,
      '--certificate-identity-regexp',
      'https://github\\.com/keycast/.*@refs/tags/v.*',
      '--certificate-oidc-issuer',
      ISSUER,
      '--trusted-root',
      'trusted_root.json',
    ],
    dir,
  );
  assert.equal(regexpOk.code, 0, regexpOk.out);
  // the public-good root does not know the stand-in Fulcio: refused, not accepted on any certificate
  const noRoot = await keycast(
    [
      'verify',
      'release',
      '--bundle',
      'bundle.json',
      '--log-key',
      vkey,
      '--certificate-identity',
      IDENTITY,
      '--certificate-oidc-issuer',
      ISSUER,
    ],
    dir,
  );
  assert.equal(noRoot.code, 1, noRoot.out);
  // a key-only studio does not accept a keyless release
  const keyOnly = await keycast(
    ['verify', 'release', '--bundle', 'bundle.json', '--log-key', vkey, '--publisher', 'trusted_root.json'],
    dir,
  );
  assert.notEqual(keyOnly.code, 0);

  // monitor: every release must be by the pinned identity, else PUBLISHER_UNEXPECTED naming the field
  const mon = (extra: string[], st: string) =>
    keycast(
      ['monitor', '--log', logUrl, '--log-key', vkey, '--state', join(dir, st), '--once', '--json', ...extra],
      dir,
    );
  const clean = await mon(id, 'mon-ok');
  assert.equal(clean.code, 0, clean.out);
  const alarmed = await mon(
    [
      '--certificate-identity',
      IDENTITY,
      '--certificate-oidc-issuer',
      ISSUER,
      '--certificate-github-workflow-ref',
      'refs/heads/main',
      '--trusted-root',
      'trusted_root.json',
    ],
    'mon-bad',
  );
  assert.equal(alarmed.code, 1, alarmed.out);
  const report = JSON.parse(alarmed.out.slice(alarmed.out.indexOf('{"origin"')).split('\n')[0]!);
  assert.equal(report.alarms[0].code, 'PUBLISHER_UNEXPECTED');
  assert.equal(report.alarms[0].evidence.field, 'certificate-github-workflow-ref');

  // the log refuses the same workflow at another ref (its --trust-identity pins the ref)
  const otherRef = fakeOidcToken({
    ...claims,
    ref: 'refs/heads/feature',
    sub: IDENTITY.replace(REF, 'refs/heads/feature'),
  });
  const bad = await keycast(signArgs('bad.json', ['--identity-token', otherRef]), dir);
  assert.equal(bad.code, 0, bad.out);
  const refused = await keycast(['release', 'publish', '--log', logUrl, 'bad.json', '--log-key', vkey, '--json'], dir);
  assert.notEqual(refused.code, 0);
  assert.match(refused.out, /IDENTITY_MISMATCH/);

  // the enclave config hook: the logged leaf passes for a config pinning this identity and CA
  const published = JSON.parse(readFileSync(join(dir, 'bundle.json'), 'utf8'));
  const leaf = fromBase64(published.verificationMaterial.tlogEntries[0].canonicalizedBody);
  const entry = decodeLeaf(leaf);
  assert.equal(entry.signer.certificate, true);
  const caDer = fromBase64(
    (sig.trustedRoot.certificateAuthorities as Array<{ certChain: { certificates: Array<{ rawBytes: string }> } }>)[0]!
      .certChain.certificates[0]!.rawBytes,
  );
  const caPem = new X509Certificate(Buffer.from(caDer)).toString();
  const config = (ids: unknown[]): EnclaveConfig =>
    parseEnclaveConfig(
      JSON.stringify({
        version: 1,
        log: { origin: ORIGIN, vkey },
        witnesses: { vkeys: [cosignatureVerifierKey(generateNoteKey('witness.keycast.test').skey)], threshold: 1 },
        maxCheckpointAgeSeconds: 600,
        publishers: [],
        kms: { keyArn: 'arn:aws:kms:us-east-1:111122223333:key/k', region: 'us-east-1' },
        publisherIdentities: ids,
        fulcioCAs: [caPem],
      }),
    );
  requireConfigIdentity(config([policy]), entry);

  // …and the gate itself opens: the log's proof for this PCR0, its checkpoint cosigned by the
  // config's witness, the log's signed status, decided by the enclave's pure gate
  const witness = generateNoteKey('witness.keycast.test');
  const gateConfig = (ids: unknown[]): EnclaveConfig => ({
    ...config(ids),
    witnesses: { vkeys: [cosignatureVerifierKey(witness.skey)], threshold: 1 },
  });
  const client = new LogClient({ url: logUrl, fetch: globalThis.fetch, logKey: vkey });
  const fetched = await fetchProofBundle(client, fromHex(pcr('a')), null);
  assert.ok(fetched);
  const tp = parseTlogProof(fetched.proof);
  const now = Math.floor(Date.now() / 1000);
  const text = splitNote(tp.checkpoint).text;
  const cosig = signNote(text, [cosignatureSigner(witness.skey, () => now)]).slice(text.length + 1);
  const proofBundle = { ...fetched, proof: formatTlogProof({ ...tp, checkpoint: tp.checkpoint + cosig }) };
  const pcrs = new Map([0, 1, 2].map((i) => [i, fromHex(pcr('abc'[i]!))] as [number, Uint8Array]));
  const gate = decideGate({ pcrs, config: gateConfig([policy]), bundle: proofBundle, now });
  assert.equal(gate.open, true, gate.open ? '' : `${gate.code} ${gate.message}`);
  const wrongRef = decideGate({
    pcrs,
    config: gateConfig([{ ...policy, githubWorkflowRef: 'refs/heads/main' }]),
    bundle: proofBundle,
    now,
  });
  assert.equal(wrongRef.open, false);
  if (!wrongRef.open) {
    assert.equal(wrongRef.code, 'IDENTITY_MISMATCH');
    assert.equal(wrongRef.evidence.field, 'certificate-github-workflow-ref');
  }
  assert.throws(
    () => requireConfigIdentity(config([{ ...policy, githubWorkflowRef: 'refs/heads/main' }]), entry),
    (e: unknown) =>
      (e as { code?: string; evidence?: { field?: string } }).code === 'IDENTITY_MISMATCH' &&
      (e as { evidence: { field: string } }).evidence.field === 'certificate-github-workflow-ref',
  );
});
