/**
 * The keyless (Fulcio + Rekor) wiring, without the network: a refused connection and a bad
 * token both end in a coded BuilderError SIGN_FAILED, and the OIDC token — a bearer
 * credential — never appears in the error (the library quotes it in its own message).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { isBuilderError } from '../src/errors.ts';
import { signStatement } from '../src/release/sign.ts';
import { revocationStatement } from '../src/release/statement.ts';

const b64url = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
const TOKEN = `${b64url({ alg: 'RS256' })}.${b64url({ iss: 'https://token.actions.githubusercontent.com', sub: 'repo:keycast/demo:ref:refs/tags/v1', aud: 'sigstore' })}.c2lnbmF0dXJl`;

async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise((r) => srv.close(r));
  return port;
}

test('keyless signing fails closed with a coded error and never echoes the token', async () => {
  const url = `http://127.0.0.1:${await closedPort()}`;
  const stmt = revocationStatement(0, '0'.repeat(96), 'test');
  for (const identityToken of [TOKEN, 'not-a-jwt-but-secret-material']) {
    await assert.rejects(
      signStatement(stmt, { keyless: { identityToken, fulcioUrl: url, rekorUrl: url } }),
      (e: unknown) => {
        assert.ok(isBuilderError(e, 'SIGN_FAILED'), String(e));
        assert.ok(!e.message.includes(identityToken), 'the token leaked into the message');
        assert.ok(!JSON.stringify(e.toJSON()).includes(identityToken), 'the token leaked into the JSON error');
        assert.equal(e.cause, undefined);
        return true;
      },
    );
  }
  await assert.rejects(signStatement(stmt, { keyless: { identityToken: '' } }), (e: unknown) =>
    isBuilderError(e, 'SIGN_FAILED'),
  );
});
