/**
 * The transport hands a status the caller accepts (`pass`) back before treating 5xx as transient:
 * a host's 503 GATE_CLOSED is a refusal to relay, answered once, not retried into "did not answer".
 * Unaccepted 5xx are still retried; an unreachable peer is named as the caller says (the host).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isVerifierError } from '../index.ts';
import { httpRequest } from '../build.ts';

const refusal = JSON.stringify({
  code: 'GATE_CLOSED',
  message: 'closed',
  evidence: { refusal: { code: 'RELEASE_REVOKED' } },
});

function fake(status: number, calls: { n: number }) {
  return async () => {
    calls.n++;
    return new Response(refusal, { status, headers: { 'content-type': 'application/json' } });
  };
}

test('an accepted 503 is handed back at once; an unaccepted one is retried, then LOG_UNAVAILABLE', async () => {
  const calls = { n: 0 };
  const url = new URL('http://127.0.0.1:1/v1/forward');
  const a = await httpRequest({ fetch: fake(503, calls), retries: 3, sleep: async () => {} }, url, {
    cap: 1024,
    accept: ['application/json'],
    pass: [503],
  });
  assert.equal(a.status, 503);
  assert.equal(JSON.parse(new TextDecoder().decode(a.body)).code, 'GATE_CLOSED');
  assert.equal(calls.n, 1, 'not retried');

  const retried = { n: 0 };
  await assert.rejects(
    httpRequest({ fetch: fake(503, retried), retries: 2, sleep: async () => {} }, url, { cap: 1024, accept: [] }),
    (e) => isVerifierError(e, 'LOG_UNAVAILABLE') && e.evidence.logCode === 'GATE_CLOSED',
  );
  assert.equal(retried.n, 3);
});

test('an unreachable peer is named as the caller names it', async () => {
  const down = async () => {
    throw new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } });
  };
  const url = new URL('http://127.0.0.1:1/v1/forward');
  await assert.rejects(
    httpRequest({ fetch: down, peer: 'the host', retries: 0 }, url, { cap: 1, accept: [] }),
    (e) =>
      isVerifierError(e, 'LOG_UNAVAILABLE') &&
      /^the host at http:\/\/127\.0\.0\.1:1 failed 1 times/.test(e.message) &&
      /cannot reach the host at http:\/\/127\.0\.0\.1:1: fetch failed \(ECONNREFUSED\)/.test(e.message),
  );
  await assert.rejects(
    httpRequest({ fetch: down, retries: 0 }, url, { cap: 1, accept: [] }),
    (e) => isVerifierError(e) && /cannot reach the log at/.test(e.message),
  );
});
