/**
 * Where `release sign --keyless` gets its OIDC token, and that the token (a bearer credential)
 * and the runner's request token never reach an error: flag, file, SIGSTORE_ID_TOKEN, and GitHub
 * Actions' ambient endpoint (a loopback stand-in answering as the runner's does).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { githubActionsToken, identityToken } from '../src/release/identity-token.ts';
import { isBuilderError } from '../src/errors.ts';

const JWT = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln';
const RUNNER = 'runner-request-token-secret';

async function runnerEndpoint(answer: (url: URL, auth: string | undefined) => [number, string]) {
  const seen: Array<{ url: URL; auth: string | undefined }> = [];
  const srv = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    seen.push({ url, auth: req.headers.authorization });
    const [status, body] = answer(url, req.headers.authorization);
    res.writeHead(status, { 'content-type': 'application/json' }).end(body);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(srv.address() as AddressInfo).port}/token?api-version=2.0`;
  return { base, seen, close: () => new Promise((r) => srv.close(r)) };
}

test('the order: --identity-token, --identity-token-file, SIGSTORE_ID_TOKEN, then GitHub Actions', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'keycast-token-'));
  writeFileSync(join(dir, 't'), `  ${JWT}\n`);
  assert.equal(await identityToken({ 'identity-token': JWT }, {}), JWT);
  assert.equal(await identityToken({ 'id-token': JWT }, {}), JWT); // the old flag name
  assert.equal(await identityToken({ 'identity-token-file': join(dir, 't') }, { SIGSTORE_ID_TOKEN: 'other' }), JWT);
  assert.equal(await identityToken({}, { SIGSTORE_ID_TOKEN: JWT }), JWT);
  await assert.rejects(identityToken({}, {}), (e: unknown) => (e as { code?: string }).code === 'USAGE');
  await assert.rejects(identityToken({ 'identity-token': 'two words' }, {}), (e: unknown) =>
    isBuilderError(e, 'SIGN_FAILED'),
  );
});

test('GitHub Actions: GET the request URL with audience=sigstore and the runner bearer; answer .value', async () => {
  const ep = await runnerEndpoint((url, auth) =>
    url.searchParams.get('audience') === 'sigstore' && auth === `bearer ${RUNNER}`
      ? [200, JSON.stringify({ value: JWT })]
      : [401, '{}'],
  );
  try {
    const env = { ACTIONS_ID_TOKEN_REQUEST_URL: ep.base, ACTIONS_ID_TOKEN_REQUEST_TOKEN: RUNNER };
    assert.equal(await identityToken({}, env), JWT);
    assert.equal(ep.seen[0]!.url.searchParams.get('api-version'), '2.0', 'the runner URL query is kept');
  } finally {
    await ep.close();
  }
});

test('GitHub Actions failures are SIGN_FAILED and never carry the request token or the answer', async () => {
  for (const [status, body] of [
    [500, `{"value":"${JWT}"}`],
    [200, 'not json'],
    [200, '{"value":42}'],
  ] as Array<[number, string]>) {
    const ep = await runnerEndpoint(() => [status, body]);
    try {
      await assert.rejects(
        githubActionsToken({ ACTIONS_ID_TOKEN_REQUEST_URL: ep.base, ACTIONS_ID_TOKEN_REQUEST_TOKEN: RUNNER }),
        (e: unknown) => {
          assert.ok(isBuilderError(e, 'SIGN_FAILED'), String(e));
          const text = `${(e as Error).message} ${JSON.stringify(e)}`;
          assert.ok(!text.includes(RUNNER) && !text.includes(JWT), text);
          return true;
        },
      );
    } finally {
      await ep.close();
    }
  }
  await assert.rejects(
    githubActionsToken({
      ACTIONS_ID_TOKEN_REQUEST_URL: 'http://127.0.0.1:1/x',
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: RUNNER,
    }),
    (e: unknown) => isBuilderError(e, 'SIGN_FAILED') && !(e as Error).message.includes(RUNNER),
  );
});
