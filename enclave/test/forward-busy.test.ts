/**
 * The enclave takes at most `maxConcurrent` forward requests at once, counted from their headers
 * (before a 32 MiB body is read): the next is 503 FORWARD_BUSY at once, and the slot comes back
 * when the connection is done. The default cap follows the heap (defaultForwardConcurrency).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Measurement } from '#verifier';
import { connect } from 'node:net';
import { createApp } from '../common/http/app.ts';
import { defaultForwardConcurrency, forwardRoute, FORWARD_MEMORY_BUDGET } from '../runtime/forward-route.ts';
import type { Gatekeeper } from '../runtime/gatekeeper.ts';
import type { IdentityKeeper } from '../runtime/identity/keeper.ts';

test('defaultForwardConcurrency: the heap over the per-request budget, 1..8', () => {
  assert.equal(defaultForwardConcurrency(FORWARD_MEMORY_BUDGET), 1);
  assert.equal(defaultForwardConcurrency(2 * 1024 ** 3), 3);
  assert.equal(defaultForwardConcurrency(64 * 1024 ** 3), 8);
});

test('past the cap a forward request is FORWARD_BUSY before its body is read; the slot comes back', async (t) => {
  const app = createApp({ bodyLimit: 64 * 1024 * 1024 });
  forwardRoute(app, {
    gate: { requireOpen() {} } as unknown as Gatekeeper,
    identity: { current: null } as unknown as IdentityKeeper,
    pcr0: Measurement.fromBytes(new Uint8Array(48)),
    maxConcurrent: 1,
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  t.after(() => app.close());
  const { port } = app.server.address() as { port: number };
  const post = (body: string) =>
    fetch(`http://127.0.0.1:${port}/v1/forward`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    }).then(async (r) => ({ status: r.status, code: ((await r.json()) as { code: string }).code }));

  // a slow client: headers and a first byte of a 1 MiB body, then nothing
  const slow = connect({ host: '127.0.0.1', port });
  await new Promise((r) => slow.once('connect', r));
  slow.write(
    'POST /v1/forward HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1048576\r\n\r\n{',
  );
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(await post('{}'), { status: 503, code: 'FORWARD_BUSY' });
  slow.destroy();
  await new Promise((r) => setTimeout(r, 200));
  // the slot is free again: the request gets as far as the missing identity
  assert.deepEqual(await post('{}'), { status: 503, code: 'IDENTITY_NOT_READY' });
});
