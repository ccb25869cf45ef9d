/**
 * A quiet release, run as an operator runs it (real processes on loopback: a SQLite log that
 * re-cosigns every second, three witnesses of which the image pins 2, dev-kms, the enclave and
 * its host), with a short freshness window so ten windows fit in a test:
 *
 *   ten windows with no new release: the door never shuts (the log refreshes its cosignatures,
 *   the host brings them); one witness killed halfway: still open; the log not answering for
 *   less than a window: still open; the log killed for longer: shut with CHECKPOINT_STALE, and
 *   open again within one host refresh after it is started again.
 *
 * Along the way: the host's /v1/status says how many seconds of freshness are left, its
 * /metrics parses as Prometheus text and its figures move (door, freshness, KMS and log round
 * trips, refusals by code), and `host run` exits promptly on SIGTERM although the KMS relay
 * holds keep-alive connections.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatEnclaveConfig } from '#verifier/build';
import { processes } from './enclave-e2e-helpers.ts';
import { startStack } from './enclave-stack.ts';
import { parseExposition, seriesKey } from './prometheus-text.ts';

const WINDOW = 5; // maxCheckpointAgeSeconds; the log re-cosigns every 1 s, the host refreshes every 1 s
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('ten freshness windows without a release: the door stays open through a witness and a short log outage, shuts when the log stays down, reopens when it returns', {
  timeout: 200_000,
}, async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'keycast-soak-'));
  const run = processes(t, tmp);
  const stack = await startStack(tmp, run, [], 'soak', { witnessRefreshSeconds: 1, hostRefreshSeconds: 1 });
  writeFileSync(join(tmp, 'enclave-soak.json'), formatEnclaveConfig(stack.config(WINDOW)));
  const a = await stack.pair('store', 'enclave-soak.json');
  const metrics = async () => {
    const r = await fetch(`${a.host.url}/metrics`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    const m = parseExposition(await r.text());
    return (name: string, labels?: Record<string, string>) => m.samples.get(seriesKey(name, labels)) ?? 0;
  };
  const shutBefore = await metrics();
  assert.equal(shutBefore('keycast_enclave_up'), 1);
  assert.equal(shutBefore('keycast_gate_open'), 0);
  assert.equal(shutBefore('keycast_fresh_seconds_left'), 0);

  await stack.publish();
  await a.when('the gate to open and the identity to seal', (s) => s.code === 200 && s.body.enclave.identity.ready);
  // the first boot's KMS round holds up one refresh; the next one brings fresh cosignatures
  const opened = await a.when('a fresh proof', (s) => s.code === 200 && s.body.freshSecondsLeft > 0);
  assert.equal(typeof opened.body.freshSecondsLeft, 'number');
  assert.ok(opened.body.freshSecondsLeft <= WINDOW, String(opened.body.freshSecondsLeft));
  const size = async () => Number((await (await fetch(`${stack.log.url}/checkpoint`)).text()).split('\n')[1]);
  const published = await size();

  // the metrics move: the door opened, the first boot went through KMS, a refused nonce and a
  // malformed bundle are counted by code, the log round trips grow
  const m1 = await metrics();
  assert.equal(m1('keycast_gate_open'), 1);
  assert.ok(m1('keycast_fresh_seconds_left') > 0);
  assert.ok(m1('keycast_kms_round_trips_total', { operation: 'GenerateDataKey', outcome: 'ok' }) >= 1);
  assert.ok(m1('keycast_kms_round_trip_seconds_total', { operation: 'GenerateDataKey', outcome: 'ok' }) > 0);
  assert.ok(m1('keycast_log_round_trips_total', { outcome: '200' }) >= 1);
  const nonce = `${'5a'.repeat(16)}`;
  assert.equal((await fetch(`${a.host.url}/v1/attestation?nonce=${nonce}`)).status, 200);
  assert.equal((await fetch(`${a.host.url}/v1/attestation?nonce=${nonce}`)).status, 409);
  const bad = await fetch(`${a.enclave.url}/v1/gate`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"version":1}',
  });
  const badCode = ((await bad.json()) as { code: string }).code;
  await sleep(1500);
  const m2 = await metrics();
  assert.equal(m2('keycast_host_refusals_total', { code: 'NONCE_REPLAYED' }), 1);
  assert.equal(
    m2('keycast_enclave_refusals_total', { code: badCode }),
    m1('keycast_enclave_refusals_total', { code: badCode }) + 1,
  );
  assert.ok(
    m2('keycast_log_round_trips_total', { outcome: '200' }) > m1('keycast_log_round_trips_total', { outcome: '200' }),
  );
  assert.ok(
    m2('keycast_host_refreshes_total', { outcome: 'ok' }) > m1('keycast_host_refreshes_total', { outcome: 'ok' }),
  );

  /** Polls the host every 250 ms for `ms`; every answer must be 200 with the door open. */
  const staysOpen = async (what: string, ms: number) => {
    const end = Date.now() + ms;
    let least = Infinity;
    while (Date.now() < end) {
      const s = await a.status();
      assert.equal(s.code, 200, `${what}: the door shut (${JSON.stringify(s.body.enclave.gate.refusal)})`);
      least = Math.min(least, s.body.freshSecondsLeft);
      await sleep(250);
    }
    return least;
  };

  // 1. eight windows with no new release; the third witness dies halfway
  const soakStart = Date.now();
  await staysOpen('all witnesses up', 4 * WINDOW * 1000);
  await stack.witnesses[2]!.stop();
  await staysOpen('one witness of three down', 4 * WINDOW * 1000);

  // 2. the log down for less than a window (frozen: it answers nothing for 2 s, then carries on
  // where it was — a restarted tsx process takes longer than this window on a loaded machine;
  // the real kill and restart is step 3): the door stays open
  stack.log.child.kill('SIGSTOP');
  await staysOpen('the log not answering', 2000).finally(() => stack.log.child.kill('SIGCONT'));
  const least = await staysOpen('the log back', 2 * WINDOW * 1000 - 2000);
  assert.ok(Date.now() - soakStart >= 10 * WINDOW * 1000, 'ten windows passed');
  assert.equal(await size(), published, 'no new entry: freshness came from refreshed cosignatures alone');
  assert.ok(least >= 0);

  // 3. the log down for longer than a window: the door shuts with CHECKPOINT_STALE …
  await stack.log.stop();
  const down = Date.now();
  const shut = await a.when('the door to shut', (s) => s.code === 503, (WINDOW + 5) * 1000);
  const openFor = (Date.now() - down) / 1000;
  assert.equal(shut.body.enclave.gate.refusal?.code, 'CHECKPOINT_STALE');
  assert.equal(shut.body.freshSecondsLeft, 0);
  assert.ok(openFor <= WINDOW + 2, `open ${openFor} s with the log down (bound: window + re-check)`);
  const m3 = await metrics();
  assert.equal(m3('keycast_gate_open'), 0);
  assert.ok(m3('keycast_log_round_trips_total', { outcome: 'error' }) > 0, 'failed log round trips are counted');
  assert.ok(m3('keycast_host_refreshes_total', { outcome: 'LOG_UNREACHABLE' }) > 0);

  // … and opens again within one refresh after the log returns
  await stack.startLog();
  const returned = Date.now();
  const reopened = await a.when('the door to reopen', (s) => s.code === 200, 10_000);
  const after = (Date.now() - returned) / 1000;
  assert.ok(after <= 5, `reopened ${after} s after the log returned (host refresh 1 s, log re-cosigns at start)`);
  assert.ok(reopened.body.freshSecondsLeft > 0);
  assert.equal((await metrics())('keycast_gate_open'), 1);

  // 4. `host run` stops promptly on SIGTERM while the KMS relay holds connections open
  const held = connect(a.relay, '127.0.0.1');
  await new Promise<void>((ok, fail) => held.once('connect', ok).once('error', fail));
  held.on('error', () => undefined);
  const stopAt = Date.now();
  await a.host.stop();
  const stopSeconds = (Date.now() - stopAt) / 1000;
  assert.ok(stopSeconds < 5, `host run took ${stopSeconds} s to exit after SIGTERM`);
  assert.equal(a.host.child.exitCode, 0);
  held.destroy();
  await a.enclave.stop();
  t.diagnostic(
    `open ${openFor.toFixed(1)} s after the log went down (window ${WINDOW} s); reopened ${after.toFixed(1)} s after it returned; host exited ${stopSeconds.toFixed(2)} s after SIGTERM`,
  );
});
