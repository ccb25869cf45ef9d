/**
 * Attacker-side input to POST /add-entry and the error registry: malformed, oversized, wrongly
 * typed and refused bodies get a 4xx with a code, and nothing is stored.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VerifierError } from '#verifier';
import { LOG_ERROR_CODES, LOG_ERROR_STATUS, LogError } from '../src/errors.ts';
import { toHttpError } from '../src/http/errors.ts';
import { leafBundle, post, startTestLog } from './helpers.ts';
import type { EntryPolicy } from '../src/ports.ts';
import { rawLeafPolicy } from './helpers.ts';

/** A policy that refuses like the release policy does, by the first byte of the leaf. */
const refusing: EntryPolicy = {
  admit(json, ctx) {
    const e = rawLeafPolicy.admit(json, ctx);
    if (e.leaf[0] === 0x21) throw new VerifierError('SIGNER_NOT_ALLOWED', 'unknown signer', {});
    if (e.leaf[0] === 0x3f) throw new VerifierError('SIGNATURE_INVALID' as never, 'bad signature', {});
    return e;
  },
};

test('malformed, oversized and mistyped bodies are refused with codes and store nothing', async (t) => {
  const l = await startTestLog({ policy: refusing });
  t.after(() => l.close());
  const big = 'x'.repeat(300 * 1024);
  const cases: Array<[string, string, number, string]> = [
    ['{not json', 'application/json', 400, 'MALFORMED_REQUEST'],
    ['', 'application/json', 400, 'MALFORMED_REQUEST'],
    [JSON.stringify({ leaf: big }), 'application/json', 413, 'PAYLOAD_TOO_LARGE'],
    [leafBundle('x'.repeat(70_000)), 'application/json', 413, 'ENTRY_TOO_LARGE'],
    [leafBundle('ok'), 'text/plain', 415, 'UNSUPPORTED_MEDIA_TYPE'],
    [leafBundle('ok'), 'application/x-www-form-urlencoded', 415, 'UNSUPPORTED_MEDIA_TYPE'],
    [leafBundle('!unknown signer'), 'application/json', 403, 'SIGNER_NOT_ALLOWED'],
    [JSON.stringify({ nope: 1 }), 'application/json', 422, 'ENTRY_REJECTED'],
  ];
  for (const [body, type, status, code] of cases) {
    const r = await post(l.url, body, type);
    assert.equal(r.status, status, `${code}: ${JSON.stringify(r.json).slice(0, 200)}`);
    assert.equal(r.json.code, code);
  }
  const get = await fetch(`${l.url}/add-entry`);
  assert.equal(get.status, 404);
  assert.equal(l.log.storage.entryCount(), 0);
  assert.equal(l.log.sequencer.current.size, 0);
  const ok = await post(l.url, leafBundle('fine'), 'application/vnd.dev.sigstore.bundle.v0.3+json');
  assert.equal(ok.status, 200);
  assert.equal(ok.json.index, 0);
});

test('every log error code has an HTTP status; pushback maps to 503 with Retry-After; internals leak nothing', () => {
  for (const c of LOG_ERROR_CODES) assert.ok(LOG_ERROR_STATUS[c] >= 400 && LOG_ERROR_STATUS[c] < 600, c);
  const p = toHttpError(new LogError('PUSHBACK', 'busy', { pending: 5 }));
  assert.equal(p.status, 503);
  assert.equal(p.retryAfter, 1);
  assert.deepEqual(p.body.evidence, { pending: 5 });
  const internal = toHttpError(new Error('secret detail /etc/passwd'));
  assert.equal(internal.status, 500);
  assert.equal(internal.body.code, 'INTERNAL');
  assert.ok(!JSON.stringify(internal.body).includes('secret'));
  assert.equal(toHttpError(new VerifierError('MALFORMED', 'x', {})).status, 400);
  assert.equal(toHttpError(new VerifierError('SIGNER_NOT_ALLOWED' as never, 'x', {})).status, 403);
});

test('under pushback the HTTP answer is 503 PUSHBACK with Retry-After, and a retried entry lands exactly once', async (t) => {
  const l = await startTestLog({ poolMax: 1 });
  t.after(() => l.close());
  const bodies = Array.from({ length: 60 }, (_, i) => leafBundle(`push-${i}`));
  let pushed = 0;
  const indexes = await Promise.all(bodies.map(async (b) => {
    for (;;) {
      const r = await post(l.url, b);
      if (r.status === 200) return r.json.index as number;
      assert.equal(r.status, 503);
      assert.equal(r.json.code, 'PUSHBACK');
      assert.equal(r.headers.get('retry-after'), '1');
      pushed++;
      await new Promise((ok) => setTimeout(ok, 5));
    }
  }));
  assert.equal(new Set(indexes).size, 60);
  assert.equal(l.log.storage.entryCount(), 60);
  t.diagnostic(`${pushed} pushbacks`);
});
