/**
 * Attacker-side input to POST /add-entry and the error registry: malformed, oversized, wrongly
 * typed and refused bodies get a 4xx with a code, and nothing is stored.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VERIFIER_ERROR_CODES, VerifierError } from '#verifier';
import { cosignatureSigner, generateNoteKey } from '#verifier/build';
import { buildWitnessApp } from '../src/witness/server.ts';
import { FileWitnessState } from '../src/witness/state.ts';
import { LOG_ERROR_CODES, LogError } from '../src/errors.ts';
import { HTTP_ERROR_CODES, HTTP_STATUS, LOG_ERROR_STATUS, toHttpError } from '../src/http/errors.ts';
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
  for (const c of [...LOG_ERROR_CODES, ...VERIFIER_ERROR_CODES])
    assert.ok(HTTP_ERROR_CODES.includes(c) && HTTP_STATUS[c] >= 400 && HTTP_STATUS[c] < 600, c);
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
  const indexes = await Promise.all(
    bodies.map(async (b) => {
      for (;;) {
        const r = await post(l.url, b);
        if (r.status === 200) return r.json.index as number;
        assert.equal(r.status, 503);
        assert.equal(r.json.code, 'PUSHBACK');
        assert.equal(r.headers.get('retry-after'), '1');
        pushed++;
        await new Promise((ok) => setTimeout(ok, 5));
      }
    }),
  );
  assert.equal(new Set(indexes).size, 60);
  assert.equal(l.log.storage.entryCount(), 60);
  t.diagnostic(`${pushed} pushbacks`);
});

/** Sends raw bytes to a loopback server and returns the whole answer (the server closes). */
function rawRequest(url: string, bytes: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const s = connect(Number(port), hostname, () => s.write(bytes));
    let out = '';
    s.on('data', (c) => (out += c));
    s.on('close', () => resolve(out));
    s.on('error', reject);
  });
}

function rawAnswer(text: string): { status: number; json: { code?: unknown } } {
  const [head, body = ''] = text.split('\r\n\r\n');
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head ?? '')?.[1]), json: JSON.parse(body) };
}

/** Requests that fastify or node's HTTP parser refuse before any route runs, and bad paths. */
async function everyErrorBody(url: string, extra: Array<[string, number, string]>): Promise<void> {
  const cases: Array<[string, number, string]> = [
    ['/entry/%zz', 400, 'MALFORMED_REQUEST'], // bad URL encoding (FST_ERR_BAD_URL)
    ['/no/such/route', 404, 'NOT_FOUND'],
    ...extra,
  ];
  for (const [path, status, code] of cases) {
    const r = await fetch(url + path);
    const json = (await r.json()) as { code?: unknown };
    assert.equal(r.status, status, `${path.slice(0, 40)}: ${JSON.stringify(json).slice(0, 200)}`);
    assert.equal(json.code, code, path.slice(0, 40));
    assert.ok(
      HTTP_ERROR_CODES.includes(json.code as never),
      `${path.slice(0, 40)}: ${String(json.code)} is not in the closed set`,
    );
  }
  const raw: Array<[string, number, string]> = [
    ['GET / HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n', 400, 'MALFORMED_REQUEST'],
    ['NOT HTTP AT ALL\r\n\r\n', 400, 'MALFORMED_REQUEST'],
    [`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431, 'HEADERS_TOO_LARGE'],
  ];
  for (const [bytes, status, code] of raw) {
    const a = rawAnswer(await rawRequest(url, bytes));
    assert.equal(a.status, status, bytes.slice(0, 30));
    assert.equal(a.json.code, code, bytes.slice(0, 30));
  }
}

test("log server: every error body, including fastify's and the HTTP parser's, carries a code from the closed set", async (t) => {
  const l = await startTestLog();
  t.after(() => l.close());
  await everyErrorBody(l.url, [
    [`/lookup/pcr0/${'a'.repeat(200)}`, 400, 'MALFORMED_REQUEST'], // beyond maxParamLength (was FST_ERR_MAX_PARAM_LENGTH)
    ['/lookup/pcr0/zz', 400, 'MALFORMED_REQUEST'],
    [`/tile/${'0/'.repeat(40)}0`, 404, 'TILE_PATH_INVALID'], // over 64 characters (was MALFORMED_REQUEST)
    [`/tile/${'0/'.repeat(200)}0`, 404, 'TILE_PATH_INVALID'],
    ['/tile/0/x999', 404, 'TILE_PATH_INVALID'],
    ['/tile/0/000', 404, 'TILE_NOT_FOUND'],
    ['/entry/01', 400, 'NON_CANONICAL_NUMBER'],
    ['/entry/99', 404, 'NOT_FOUND'],
    ['/proof/inclusion?index=1', 400, 'MALFORMED_REQUEST'],
  ]);
  for (const [body, type] of [
    ['{bad', 'application/json'],
    ['', 'application/json'],
    ['x', 'text/plain'],
    ['{}', 'application/json; charset=nope'],
  ] as const) {
    const r = await post(l.url, body, type);
    assert.ok(HTTP_ERROR_CODES.includes(r.json.code), `${type} ${JSON.stringify(body)}: ${JSON.stringify(r.json)}`);
  }
  assert.equal((await fetch(`${l.url}/checkpoint`)).status, 200, 'still serving');
});

test('witness server: every error body carries a code from the closed set, through the same table', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'keycast-witness-'));
  const key = generateNoteKey('witness.keycast.test');
  const logKey = generateNoteKey('log.keycast.test/w');
  const app = await buildWitnessApp({
    state: new FileWitnessState(dir),
    signer: cosignatureSigner(key.skey, () => 1700000000),
    logs: [{ origin: 'log.keycast.test/w', vkey: logKey.vkey }],
  });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  t.after(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await everyErrorBody(url, [[`/x/${'a'.repeat(300)}`, 404, 'NOT_FOUND']]);
  for (const body of ['', 'old 0\n\nnot a checkpoint\n', 'x'.repeat(70 * 1024)]) {
    const r = await fetch(`${url}/add-checkpoint`, { method: 'POST', body });
    const json = (await r.json()) as { code?: unknown };
    assert.ok(
      r.status >= 400 && HTTP_ERROR_CODES.includes(json.code as never),
      `${r.status} ${JSON.stringify(json).slice(0, 200)}`,
    );
    assert.equal(r.status, HTTP_STATUS[json.code as keyof typeof HTTP_STATUS]);
  }
});
