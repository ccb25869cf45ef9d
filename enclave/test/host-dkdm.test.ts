/**
 * The host keeps a DKDM only once the enclave accepted it: a forward request carrying a DKDM that
 * the enclave served leaves dkdm-<SHA-256>.xml (the document as sent) beside the stored answer; a
 * refused one leaves nothing at all in the store.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { forwardRequestDigest } from '#verifier/build';
import { buildHostApp } from '../host/server.ts';
import { MemoryStore } from '../host/store.ts';
import type { EnclaveClient } from '../host/enclave-client.ts';
import type { Host } from '../host/host.ts';

const DKDM = '<?xml version="1.0" encoding="UTF-8"?>\n<DCinemaSecurityMessage>…</DCinemaSecurityMessage>\n';
const REQUEST = {
  dkdm: DKDM,
  rulesKey: 'k',
  rulesEndorsement: 'e',
  rules: 'r',
  recipients: ['x'],
  intermediates: [],
  format: 'kdm' as const,
  expires: new Date(Math.floor(Date.now() / 1000) * 1000 + 3600_000).toISOString().replace('.000Z', 'Z'),
};
const DIGEST = forwardRequestDigest(REQUEST);

function app(answer: { status: number; body: unknown }) {
  const store = new MemoryStore();
  const enclave = {
    forward: async () => ({ status: answer.status, bytes: new TextEncoder().encode(JSON.stringify(answer.body)) }),
  } as unknown as EnclaveClient;
  const a = buildHostApp({
    host: { lastRefresh: null } as unknown as Host,
    enclave,
    logUrl: 'http://log.invalid',
    storeWhere: 'memory',
    store,
  });
  return { a, store };
}

const post = (a: ReturnType<typeof app>['a']) =>
  a.inject({
    method: 'POST',
    url: '/v1/forward',
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify(REQUEST),
  });

test('host: an accepted DKDM is kept as sent; a refused one leaves nothing in the store', async () => {
  const ok = app({ status: 200, body: { requestDigest: DIGEST, receipt: '{}', outputs: [] } });
  assert.equal((await post(ok.a)).statusCode, 200);
  const name = `dkdm-${createHash('sha256').update(DKDM).digest('hex')}.xml`;
  assert.deepEqual([...ok.store.items.keys()].sort(), [name, `forward-${DIGEST}.json`].sort());
  assert.equal(Buffer.from(ok.store.items.get(name)!).toString('utf8'), DKDM);
  await ok.a.close();

  const refused = app({ status: 422, body: { code: 'DKDM_RECIPIENT', evidence: { field: 'recipient' } } });
  const r = await post(refused.a);
  assert.equal(r.statusCode, 422);
  assert.deepEqual([r.json().code, r.json().evidence.field], ['DKDM_RECIPIENT', 'recipient']);
  assert.equal(refused.store.items.size, 0);
  await refused.a.close();
});
