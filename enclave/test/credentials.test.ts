/**
 * AWS credentials through the host, the AWS way: the host reads the instance role's credentials
 * over IMDSv2 (a strict stand-in on loopback: PUT token first, token required, tokens expire),
 * serves them as the SDK's container-credentials endpoint, hands its token to the enclave
 * through the enclave's own route, and the enclave's unchanged KMS port (default SDK chain,
 * `AWS_CONTAINER_CREDENTIALS_FULL_URI`) signs with them against dev-kms, which checks SigV4 and
 * the session token. Credentials rotate; none ever shows in a log line or an error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { KmsCore } from '../dev/kms/core.ts';
import { DirectoryKeyStore } from '../dev/kms/directory-store.ts';
import { AwsKmsPort } from '../runtime/kms/aws.ts';
import { buildDevKmsApp } from '../dev/dev-kms/app.ts';
import { createApp } from '../common/http/app.ts';
import { credentialsTokenRoute } from '../common/credentials-token-route.ts';
import { ImdsCredentials, parseRoleCredentials } from '../host/credentials-imds.ts';
import { CREDENTIALS_PATH, startCredentialsServer } from '../host/credentials-server.ts';
import { EnclaveError } from '../common/errors.ts';
import { ADMIN, ENCLAVE_ROLE, attestedPolicy, createTestPki, enclave } from './kms-fixtures.ts';

interface RoleSet {
  AccessKeyId: string;
  SecretAccessKey: string;
  Token: string;
}

/** IMDSv2 as EC2 answers it: session tokens by PUT only, every GET needs one, tokens expire. */
async function imdsStandIn(t: import('node:test').TestContext, lifetimeMs: () => number) {
  const tokens = new Map<string, number>();
  const sets: RoleSet[] = [];
  const calls: string[] = [];
  let nextSet = 0;
  let failing = false;
  let huge = false;
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    calls.push(`${req.method} ${req.url}`);
    const end = (status: number, body = '') => res.writeHead(status).end(body);
    if (req.url === '/latest/api/token') {
      const ttl = Number(req.headers['x-aws-ec2-metadata-token-ttl-seconds']);
      if (req.method !== 'PUT' || !(ttl >= 1 && ttl <= 21600)) return end(400);
      if (req.headers['x-forwarded-for']) return end(403);
      const tok = randomBytes(24).toString('base64');
      tokens.set(tok, Date.now() + ttl * 1000);
      return end(200, tok);
    }
    const tok = req.headers['x-aws-ec2-metadata-token'];
    const until = typeof tok === 'string' ? tokens.get(tok) : undefined;
    if (req.method !== 'GET' || until === undefined || until < Date.now()) return end(401);
    if (failing) return end(500, 'internal error');
    if (huge) {
      res.writeHead(200);
      const chunk = Buffer.alloc(64 * 1024, 0x41);
      for (let i = 0; i < 64; i++) res.write(chunk);
      return res.end();
    }
    if (req.url === '/latest/meta-data/iam/security-credentials/') return end(200, 'keycast-enclave');
    if (req.url === '/latest/meta-data/iam/security-credentials/keycast-enclave') {
      const set = sets[nextSet++ % sets.length]!;
      return end(
        200,
        JSON.stringify({
          Code: 'Success',
          LastUpdated: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
          Type: 'AWS-HMAC',
          ...set,
          Expiration: new Date(Date.now() + lifetimeMs()).toISOString().replace(/\.\d+Z$/, 'Z'),
        }),
      );
    }
    return end(404);
  };
  const server = createServer(handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    url,
    sets,
    calls,
    tokens,
    fail: (on: boolean) => {
      failing = on;
    },
    huge: (on: boolean) => {
      huge = on;
    },
  };
}

const roleSet = (n: number): RoleSet => ({
  AccessKeyId: `ASIAROTATION${String(n).padStart(8, '0')}`,
  SecretAccessKey: randomBytes(30).toString('base64'),
  Token: randomBytes(96).toString('base64'),
});

/** Every way a credential could leak into text: each field whole, and long prefixes. */
function assertNoCredential(texts: string[], sets: RoleSet[]): void {
  assert.ok(texts.length > 0 && sets.length > 0);
  for (const s of sets)
    for (const v of [s.SecretAccessKey, s.Token, s.SecretAccessKey.slice(0, 16), s.Token.slice(0, 24)])
      for (const text of texts) assert.ok(!text.includes(v), 'a credential appeared in a log line or an error');
}

test('IMDSv2 → host → container-credentials endpoint → the enclave SDK chain signs KMS calls; rotation; nothing leaks', {
  timeout: 60_000,
}, async (t) => {
  const saved = { ...process.env };
  t.after(() => {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  });
  for (const k of Object.keys(process.env)) if (k.startsWith('AWS_')) delete process.env[k];
  process.env.AWS_CONFIG_FILE = join(tmpdir(), 'keycast-no-aws-config');
  process.env.AWS_SHARED_CREDENTIALS_FILE = join(tmpdir(), 'keycast-no-aws-credentials');

  // short-lived credentials, so they rotate within the test: the SDK uses a set until it expires
  // (refreshing in the background during its last five minutes), then must fetch a new one
  const lifetime = 1_500;
  const imds = await imdsStandIn(t, () => lifetime + 1_000);
  for (let i = 1; i <= 64; i++) imds.sets.push(roleSet(i)); // more than the test can use: never reissued
  const stale = roleSet(99); // never issued by IMDS: dev-kms must refuse it

  // dev-kms checks SigV4 and the session token of every set IMDS hands out
  const pki = createTestPki();
  const good = enclave(pki);
  const dir = mkdtempSync(join(tmpdir(), 'keycast-creds-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const kmsLines: string[] = [];
  const signedWith: string[] = [];
  const kms = await buildDevKmsApp({
    core: new KmsCore({ store: new DirectoryKeyStore(dir), trustedRoots: [pki.rootDer] }),
    credentials: [
      ...imds.sets.map((s) => ({
        accessKeyId: s.AccessKeyId,
        secretAccessKey: s.SecretAccessKey,
        sessionToken: s.Token,
        principal: ENCLAVE_ROLE,
      })),
      { accessKeyId: stale.AccessKeyId, secretAccessKey: 'not-what-was-signed-with', principal: ENCLAVE_ROLE },
      { accessKeyId: 'AKIAADMIN000000000001', secretAccessKey: 'admin-secret', principal: ADMIN },
    ],
    onRequestDone: (e) => kmsLines.push(JSON.stringify(e)),
  });
  kms.addHook('onRequest', async (req) => {
    const m = /Credential=([A-Z0-9]+)\//.exec(String(req.headers.authorization));
    if (m) signedWith.push(m[1]!);
  });
  await kms.listen({ host: '127.0.0.1', port: 0 });
  t.after(() => kms.close());
  const kmsUrl = `http://127.0.0.1:${(kms.server.address() as { port: number }).port}`;
  const admin = new KMSClient({
    region: 'us-east-1',
    endpoint: kmsUrl,
    maxAttempts: 1,
    credentials: { accessKeyId: 'AKIAADMIN000000000001', secretAccessKey: 'admin-secret' },
  });
  const keyId = (await admin.send(new CreateKeyCommand({ Policy: attestedPolicy([good.pcr0]) }))).KeyMetadata!.Arn!;
  admin.destroy();

  // the enclave's side: its API route that takes the token (process.env, as in the enclave)
  const enclaveLines: string[] = [];
  const enclaveApi = createApp({ bodyLimit: 64 * 1024 }, (l) => enclaveLines.push(l));
  credentialsTokenRoute(enclaveApi);
  await enclaveApi.listen({ host: '127.0.0.1', port: 0 });
  t.after(() => enclaveApi.close());
  const enclaveUrl = `http://127.0.0.1:${(enclaveApi.server.address() as { port: number }).port}`;

  // the host's side
  const hostLines: string[] = [];
  const creds = await startCredentialsServer({
    listen: { host: '127.0.0.1', port: 0 },
    source: new ImdsCredentials({ endpoint: imds.url }),
    enclaveUrl,
    log: (l) => hostLines.push(l),
  });
  t.after(() => creds.close());
  const credsUrl = `http://${creds.address}${CREDENTIALS_PATH}`;
  // the image's entrypoint sets the URI; the token arrives from the host
  process.env.AWS_CONTAINER_CREDENTIALS_FULL_URI = credsUrl;

  // the endpoint refuses whoever does not hold the token
  const anon = await fetch(credsUrl);
  assert.equal(anon.status, 401);
  const anonBody = await anon.text();
  assert.equal((JSON.parse(anonBody) as { code: string }).code, 'CREDENTIALS_TOKEN_REFUSED');
  const guessed = await fetch(credsUrl, { headers: { authorization: 'x'.repeat(43) } });
  assert.equal(guessed.status, 401);
  assert.equal((await fetch(`http://${creds.address}/latest/meta-data/`)).status, 404);

  const port = new AwsKmsPort({ region: 'us-east-1', endpoint: kmsUrl }); // no credentials: the SDK's chain
  t.after(() => port.destroy());
  const errors: string[] = [];
  // the enclave's route takes exactly one well-formed token: no header injection, nothing else
  for (const body of [
    { token: `${'a'.repeat(40)}\r\nX-Amz-Security-Token: x` },
    { token: 'short' },
    { token: 'a'.repeat(43), extra: 1 },
    { token: 42 },
  ]) {
    const r = await fetch(`${enclaveUrl}/v1/aws-credentials-token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    assert.equal(r.status, 400);
    assert.equal(process.env.AWS_CONTAINER_AUTHORIZATION_TOKEN, undefined);
  }
  for (const method of ['POST', 'PUT', 'DELETE'])
    assert.equal((await fetch(credsUrl, { method })).status, 404, `${method} on the credentials route`);

  await creds.pushToken();
  assert.match(process.env.AWS_CONTAINER_AUTHORIZATION_TOKEN ?? '', /^[A-Za-z0-9_-]{43}$/);
  const first = await port.generateDataKey({ keyId, attestationDocument: await good.attest() });
  assert.ok(first.ciphertextForRecipient.length > 0);
  const issued = new Set(imds.sets.map((x) => x.AccessKeyId));
  const firstKey = signedWith.at(-1)!;
  assert.ok(issued.has(firstKey), 'signed with role credentials IMDS issued');

  // once the set has expired the SDK asks the host again, which asks IMDS
  await new Promise((r) => setTimeout(r, lifetime + 1_100));
  await port.generateDataKey({ keyId, attestationDocument: await good.attest() });
  const secondKey = signedWith.at(-1)!;
  assert.ok(issued.has(secondKey) && secondKey !== firstKey, 'the credentials rotated');
  assert.ok(kmsLines.every((l) => JSON.parse(l).status === 200 || JSON.parse(l).operation === 'CreateKey'));

  // a restarted host has a new token: the enclave is refused until it is handed the new one
  const creds2 = await startCredentialsServer({
    listen: { host: '127.0.0.1', port: 0 },
    source: new ImdsCredentials({ endpoint: imds.url }),
    enclaveUrl,
    log: (l) => hostLines.push(l),
  });
  t.after(() => creds2.close());
  process.env.AWS_CONTAINER_CREDENTIALS_FULL_URI = `http://${creds2.address}${CREDENTIALS_PATH}`;
  await new Promise((r) => setTimeout(r, lifetime + 1_100));
  await assert.rejects(port.generateDataKey({ keyId, attestationDocument: await good.attest() }), (e: unknown) => {
    errors.push(String((e as Error).message));
    return e instanceof EnclaveError && e.code === 'KMS_UNAVAILABLE';
  });
  await creds2.pushToken();
  await port.generateDataKey({ keyId, attestationDocument: await good.attest() });
  assert.ok(issued.has(signedWith.at(-1)!) && signedWith.at(-1) !== secondKey);
  assert.ok(!signedWith.includes(stale.AccessKeyId));

  // IMDSv2 only: every GET carried a session token the stand-in issued by PUT first
  assert.ok(imds.calls[0]!.startsWith('PUT /latest/api/token'));
  assert.ok(hostLines.some((l) => /served \(expiring \d{4}-/.test(l)));
  assert.ok(hostLines.some((l) => /refused a request without the token/.test(l)));
  assertNoCredential([...hostLines, ...enclaveLines, ...kmsLines, ...errors, anonBody], [...imds.sets, stale]);
  // the token is never echoed or logged either
  const token = process.env.AWS_CONTAINER_AUTHORIZATION_TOKEN!;
  for (const l of [...hostLines, ...enclaveLines]) assert.ok(!l.includes(token));
});

test('the IMDS client: renews a refused session token, and says only which step failed', async (t) => {
  const imds = await imdsStandIn(t, () => 6 * 60 * 60_000);
  imds.sets.push(roleSet(7));
  const src = new ImdsCredentials({ endpoint: imds.url, refreshBeforeMs: 0 });
  const a = await src.get();
  assert.equal(a.accessKeyId, imds.sets[0]!.AccessKeyId);
  assert.equal(imds.calls.filter((c) => c.startsWith('PUT')).length, 1);
  // cached while valid
  await src.get();
  assert.equal(imds.calls.length, 3);
  // IMDS forgets the session token: the client gets a new one and carries on
  imds.tokens.clear();
  const src2 = new ImdsCredentials({ endpoint: imds.url, refreshBeforeMs: Number.MAX_SAFE_INTEGER });
  await src2.get();
  imds.tokens.clear();
  await src2.get();
  assert.equal(imds.calls.filter((c) => c.startsWith('PUT')).length, 3);

  imds.fail(true);
  const src3 = new ImdsCredentials({ endpoint: imds.url });
  await assert.rejects(src3.get(), (e: unknown) => {
    assert.ok(e instanceof EnclaveError && e.code === 'CREDENTIALS_UNAVAILABLE');
    assert.equal(e.evidence.step, 'role');
    assert.equal(e.evidence.status, 500);
    return true;
  });
  imds.fail(false);
  imds.huge(true);
  await assert.rejects(new ImdsCredentials({ endpoint: imds.url }).get(), (e: unknown) => {
    assert.ok(e instanceof EnclaveError && e.code === 'CREDENTIALS_UNAVAILABLE');
    assert.match(e.message, /too large/);
    assert.ok((e.evidence.size as number) <= 64 * 1024 + 65_536);
    return true;
  });
  const down = new ImdsCredentials({ endpoint: 'http://127.0.0.1:9', timeoutMs: 500 });
  await assert.rejects(down.get(), (e: unknown) => e instanceof EnclaveError && e.evidence.step === 'token');
});

test('a malformed or hostile IMDS answer is refused naming the field, never its value', () => {
  const set = roleSet(3);
  const ok = { Code: 'Success', ...set, Expiration: '2030-01-01T00:00:00Z' };
  assert.equal(parseRoleCredentials(JSON.stringify(ok)).sessionToken, set.Token);
  const bad: [unknown, string][] = [
    [{ ...ok, Code: 'AssumeRoleUnauthorizedAccess' }, 'Code'],
    [{ ...ok, SecretAccessKey: `${set.SecretAccessKey}\r\nX-Injected: 1` }, 'SecretAccessKey'],
    [{ ...ok, Token: undefined }, 'Token'],
    [{ ...ok, Expiration: 'tomorrow' }, 'Expiration'],
    [{ ...ok, AccessKeyId: 'a'.repeat(500) }, 'AccessKeyId'],
  ];
  for (const [body, field] of bad)
    assert.throws(
      () => parseRoleCredentials(JSON.stringify(body)),
      (e: unknown) => {
        assert.ok(e instanceof EnclaveError && e.code === 'CREDENTIALS_UNAVAILABLE');
        assert.ok(e.message.includes(field));
        assertNoCredential([e.message, JSON.stringify(e.evidence)], [set]);
        return true;
      },
    );
  assert.throws(() => parseRoleCredentials('not json'), /not JSON/);
});
