/**
 * Attack: inputs a lenient reader repairs. Against a real log (release policy) and witness on
 * loopback: a POST body that is not well-formed UTF-8 was decoded with replacement characters
 * and judged as text the client never sent; a statement payload starting with a byte-order
 * mark was accepted although strict in-toto parsers refuse it; a subject name with
 * bidirectional controls displays as another name. Each is refused with a code, nothing is
 * logged, and the log keeps serving.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { validateStatement } from '#verifier';
import {
  SIG_COSIGNATURE_V1,
  cosignatureSigner,
  formatSignerKey,
  generateNoteKey,
  parseJsonStrict,
} from '#verifier/build';
import { FileWitnessState, buildWitnessApp, createLog } from '../../log-server/index.ts';
import { bundleOfPayload, listenLog, newPublisher, releaseBundle, releaseFields } from '../log-fixtures.ts';

const INVALID_UTF8: Array<[string, number[]]> = [
  ['a lone continuation byte', [0x80]],
  ['an overlong slash', [0xc0, 0xaf]],
  ['a UTF-8-encoded surrogate', [0xed, 0xa0, 0x80]],
  ['a byte that never occurs', [0xff]],
  ['a truncated sequence', [0xe2, 0x82]],
];

function statement(seed: string, name = 'enclave.eif'): Record<string, unknown> {
  const f = releaseFields(seed);
  return {
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ name, digest: { sha256: f.eif } }],
    predicateType: 'https://keycast.dev/release/v1',
    predicate: {
      eif: { sha256: f.eif },
      measurements: { pcr0: f.pcr0, pcr1: f.pcr0, pcr2: f.pcr0 },
      source: { repo: 'https://github.com/keycast/demo-enclave', commit: f.commit },
      lock: { sha256: f.eif },
      builder: { version: 'keycast-0.1.0' },
    },
  };
}

async function post(
  url: string,
  path: string,
  body: Buffer | string,
  type = 'application/json',
): Promise<{ status: number; json: any }> {
  const r = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': type },
    body: typeof body === 'string' ? body : new Uint8Array(body),
  });
  const text = await r.text();
  return { status: r.status, json: text.startsWith('{') ? JSON.parse(text) : text };
}

test('the log refuses bodies that are not UTF-8, BOM-prefixed statements and bidi subject names, and keeps serving', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'keycast-hostile-strict-'));
  createLog(join(dir, 'log'), 'log.hostile.test/strict');
  const pub = newPublisher();
  const { url, log } = await listenLog(t, join(dir, 'log'), [pub.publicPem], dir);

  // A valid bundle with invalid UTF-8 spliced into a string: never decoded "as best it can".
  const good = releaseBundle(pub, 'strict-1');
  const at = good.indexOf('application/vnd.dev.sigstore') + 'application/'.length;
  for (const [what, bytes] of INVALID_UTF8) {
    const body = Buffer.concat([Buffer.from(good.slice(0, at)), Buffer.from(bytes), Buffer.from(good.slice(at))]);
    const r = await post(url, '/add-entry', body);
    assert.equal(r.status, 400, `${what}: ${JSON.stringify(r.json)}`);
    assert.equal(r.json.code, 'MALFORMED_REQUEST', what);
    assert.match(r.json.message, /UTF-8/, what);
  }

  // A statement payload with a byte-order mark, properly signed.
  const bom = bundleOfPayload(
    pub,
    Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify(statement('strict-bom')))]),
  );
  const rb = await post(url, '/add-entry', bom);
  assert.equal(rb.status, 400, JSON.stringify(rb.json));
  assert.equal(rb.json.code, 'RELEASE_MALFORMED');
  assert.match(rb.json.message, /byte-order mark/);
  // A body (the bundle JSON itself) with one.
  const rb2 = await post(url, '/add-entry', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(good)]));
  assert.equal(rb2.status, 400);
  assert.equal(rb2.json.code, 'RELEASE_MALFORMED');

  // Subject names that display as another name.
  for (const name of [
    'enclave\u202efie.eif',
    '\u2067enclave.eif',
    'enclave.eif\u200f',
    'a\u061cb.eif',
    'x\u2069.eif',
  ]) {
    const r = await post(
      url,
      '/add-entry',
      bundleOfPayload(pub, Buffer.from(JSON.stringify(statement('strict-bidi', name)))),
    );
    assert.equal(r.status, 422, `${JSON.stringify(name)}: ${JSON.stringify(r.json)}`);
    assert.equal(r.json.code, 'PREDICATE_INVALID');
    assert.equal(r.json.evidence.field, 'subject[0].name');
  }

  assert.equal(log.sequencer.current.size, 0, 'nothing was logged');
  const ok = await post(url, '/add-entry', good);
  assert.equal(ok.status, 200, JSON.stringify(ok.json));
  // A name in another script, without controls, is fine.
  const arabic = await post(
    url,
    '/add-entry',
    bundleOfPayload(pub, Buffer.from(JSON.stringify(statement('strict-ar', 'صورة.eif')))),
  );
  assert.equal(arabic.status, 200, JSON.stringify(arabic.json));
});

test('the witness refuses an add-checkpoint body that is not UTF-8', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'keycast-hostile-strict-w-'));
  const app = await buildWitnessApp({
    state: new FileWitnessState(dir),
    signer: cosignatureSigner(formatSignerKey('witness.hostile.test/w', SIG_COSIGNATURE_V1, randomBytes(32))),
    logs: [{ origin: 'log.hostile.test/strict', vkey: generateNoteKey('log.hostile.test/strict').vkey }],
  });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  t.after(() => app.close());
  for (const [what, bytes] of INVALID_UTF8) {
    const r = await post(
      url,
      '/add-checkpoint',
      Buffer.concat([Buffer.from('old 0\n\nlog.hostile.test/strict\n1\n'), Buffer.from(bytes), Buffer.from('\n')]),
      'text/plain',
    );
    assert.equal(r.status, 400, what);
    assert.equal(r.json.code, 'MALFORMED_REQUEST', what);
  }
});

test('parseJsonStrict and validateStatement: BOM and bidi refused whether given bytes or text', () => {
  const text = JSON.stringify(statement('unit'));
  for (const input of ['\ufeff' + text, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)])]) {
    assert.throws(
      () => parseJsonStrict(input, 1 << 16, 'the statement'),
      (e: any) => e.code === 'RELEASE_MALFORMED',
    );
  }
  assert.doesNotThrow(() => validateStatement(parseJsonStrict(text, 1 << 16, 'the statement')));
  assert.throws(
    () => validateStatement(statement('unit', 'a\u202eb')),
    (e: any) => e.code === 'PREDICATE_INVALID',
  );
});
