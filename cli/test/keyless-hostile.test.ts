/**
 * Attacks on keyless admission and verification (stand-ins on loopback): a certificate from a
 * CA the trust root does not name, a bundle stripped of its timestamp, a certificate swapped for
 * another identity's, a statement re-signed under a stolen certificate by another key, and the
 * log's real `--trust-identity` flags (a spawned `keycast log serve`) admitting exactly the pinned
 * workflow.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { generateKeyPairSync, sign } from 'node:crypto';
import { keylessPublishers, verifyEntryBundle } from '#verifier';
import { dssePae } from '#verifier/build';
import { createLog } from '../../log-server/index.ts';
import { commands as builderCommands } from '../../builder/cli.ts';
import { fakeOidcToken, githubClaims, startSigstoreStandins } from './sigstore-standins.ts';

const REPO = 'keycast/enclave-app';
const REF = 'refs/tags/v9';
const IDENTITY = `https://github.com/${REPO}/.github/workflows/release.yml@${REF}`;
const ISSUER = 'https://token.actions.githubusercontent.com';
const POLICY = { identity: IDENTITY, issuer: ISSUER };

async function signKeyless(
  dir: string,
  url: string,
  out: string,
  claims: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const sign = builderCommands.find((c) => c.path.join(' ') === 'release sign')!;
  const write = process.stderr.write.bind(process.stderr);
  const log = console.log;
  process.stderr.write = (() => true) as typeof process.stderr.write;
  console.log = () => {};
  try {
    const code = await sign.run([
      '--eif',
      join(dir, 'eif'),
      '--pcrs',
      join(dir, 'pcrs.json'),
      '--lock',
      join(dir, 'lock'),
      '--source',
      `https://github.com/${REPO}@${'d'.repeat(40)}`,
      '--keyless',
      '--identity-token',
      fakeOidcToken(claims),
      '--fulcio-url',
      url,
      '--timestamp-server-url',
      url,
      '--out',
      join(dir, out),
    ]);
    assert.equal(code, 0);
  } finally {
    process.stderr.write = write;
    console.log = log;
  }
  const { readFileSync } = await import('node:fs');
  return JSON.parse(readFileSync(join(dir, out), 'utf8'));
}

const code = (c: string) => (e: unknown) => {
  assert.equal((e as { code?: string }).code, c, String(e));
  return true;
};

test('keyless admission refuses untrusted CAs, missing timestamps, swapped certificates and re-signed statements', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'keycast-keyless-hostile-'));
  const sig = await startSigstoreStandins();
  const rogue = await startSigstoreStandins(); // another Fulcio: valid chains, unknown to the trust root
  t.after(async () => {
    await sig.close();
    await rogue.close();
    rmSync(dir, { recursive: true, force: true });
  });
  writeFileSync(join(dir, 'eif'), 'image');
  writeFileSync(
    join(dir, 'pcrs.json'),
    JSON.stringify({ PCR0: 'a'.repeat(96), PCR1: 'b'.repeat(96), PCR2: 'c'.repeat(96) }),
  );
  writeFileSync(join(dir, 'lock'), '{}\n');
  const claims = githubClaims({
    repository: REPO,
    workflowPath: '.github/workflows/release.yml',
    ref: REF,
    sha: 'd'.repeat(40),
  });
  const good = await signKeyless(dir, sig.url, 'good.json', claims);
  const policy = { allowedSigners: [], allowedIdentities: keylessPublishers([POLICY], sig.trustedRoot) };

  assert.equal(verifyEntryBundle(JSON.stringify(good), policy).kind, 'release');

  // a certificate from a Fulcio the trust root does not name
  const fromRogue = await signKeyless(dir, rogue.url, 'rogue.json', claims);
  assert.throws(() => verifyEntryBundle(JSON.stringify(fromRogue), policy), code('SIGSTORE_INVALID'));

  // no timestamp: nothing shows the signature was made while the certificate was valid
  const stripped = structuredClone(good) as { verificationMaterial: Record<string, unknown> };
  delete stripped.verificationMaterial.timestampVerificationData;
  assert.throws(() => verifyEntryBundle(JSON.stringify(stripped), policy), code('SIGSTORE_INVALID'));

  // the pinned identity's certificate pasted onto another identity's signature
  const other = await signKeyless(dir, sig.url, 'other.json', {
    ...claims,
    sub: IDENTITY.replace(REF, 'refs/heads/dev'),
    ref: 'refs/heads/dev',
  });
  assert.throws(() => verifyEntryBundle(JSON.stringify(other), policy), code('IDENTITY_MISMATCH'));
  const swapped = structuredClone(other) as { verificationMaterial: Record<string, unknown> };
  swapped.verificationMaterial.certificate = (good.verificationMaterial as Record<string, unknown>).certificate;
  assert.throws(() => verifyEntryBundle(JSON.stringify(swapped), policy), code('SIGSTORE_INVALID'));

  // the same statement re-signed by a key the certificate does not certify (timestamp kept)
  const resigned = structuredClone(good) as {
    dsseEnvelope: { payload: string; payloadType: string; signatures: Array<{ sig: string }> };
  };
  const k = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  resigned.dsseEnvelope.signatures = [
    {
      sig: sign(
        'sha256',
        dssePae(resigned.dsseEnvelope.payloadType, Buffer.from(resigned.dsseEnvelope.payload, 'base64')),
        k.privateKey,
      ).toString('base64'),
    },
  ];
  assert.throws(() => verifyEntryBundle(JSON.stringify(resigned), policy), code('SIGSTORE_INVALID'));

  // no identity pinned: a keyless bundle is not admitted on its certificate alone
  assert.throws(() => verifyEntryBundle(JSON.stringify(good), { allowedSigners: [] }), code('SIGNER_NOT_ALLOWED'));

  // the real flags: `keycast log serve --trust-identity FILE --trusted-root FILE`
  createLog(join(dir, 'log'), 'log.keycast.test/hostile');
  writeFileSync(join(dir, 'policy.json'), JSON.stringify([POLICY]));
  writeFileSync(join(dir, 'root.json'), JSON.stringify(sig.trustedRoot));
  const child = spawn(
    process.execPath,
    [
      resolve(import.meta.dirname, '../../bin/keycast.mjs'),
      'log',
      'serve',
      '--data',
      join(dir, 'log'),
      '--listen',
      '127.0.0.1:0',
      '--trust-identity',
      join(dir, 'policy.json'),
      '--trusted-root',
      join(dir, 'root.json'),
      '--admission-workers',
      '0',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  t.after(() => child.kill());
  const url = await new Promise<string>((ok, fail) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /listening (\S+)\n/.exec(out);
      if (m) ok(m[1]!);
    });
    child.on('exit', (c) => fail(new Error(`log serve exited ${c}`)));
  });
  const post = async (b: unknown) => {
    const r = await fetch(`${url}/add-entry`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(b),
    });
    return { status: r.status, body: (await r.json()) as { code?: string; evidence?: { field?: string } } };
  };
  assert.equal((await post(good)).status, 200);
  const refused = await post(other);
  assert.equal(refused.status, 422);
  assert.equal(refused.body.code, 'IDENTITY_MISMATCH');
  assert.equal(refused.body.evidence?.field, 'certificate-identity');
});
