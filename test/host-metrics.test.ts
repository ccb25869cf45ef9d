/**
 * The host's /metrics text in-process: it parses as Prometheus exposition format 0.0.4 (strict
 * reader in prometheus-text.ts, whose own refusals are checked here too), label values from the
 * enclave's answer are escaped, a malformed or hostile relayed body is dropped (enclave_up 0)
 * rather than breaking the exposition, counters stay bounded, and freshSecondsLeft is a whole,
 * non-negative number that is 0 while the door is shut. The live figures moving is
 * test/enclave-soak.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EnclaveMetrics, formatMetrics, freshSecondsLeft, relayedEnclave } from '../enclave/index.ts';
import { parseExposition, seriesKey } from './prometheus-text.ts';

const host = {
  log: { '200': { count: 7, seconds: 0.25 }, error: { count: 2, seconds: 20 } },
  refusals: { NONCE_REPLAYED: 1 },
  refreshes: { ok: 5, LOG_UNREACHABLE: 2 },
};

test('formatMetrics: valid exposition text with the host and enclave figures', () => {
  const e = new EnclaveMetrics();
  e.forwarded('kdm', 300);
  e.forwarded('kdm', 2);
  e.refused('GATE_CLOSED');
  e.refused('not a code\n');
  e.kmsRoundTrip('GenerateDataKey', 'ok', 0.5);
  e.kmsRoundTrip('Decrypt', 'KMS_DENIED', 0.25);
  const relayed = relayedEnclave({ gate: { open: true, freshUntil: 1000.9 }, ...e.body() });
  assert.ok(relayed);
  const m = parseExposition(formatMetrics(host, relayed, 990));
  const v = (n: string, l?: Record<string, string>) => m.samples.get(seriesKey(n, l));
  assert.equal(v('keycast_enclave_up'), 1);
  assert.equal(v('keycast_gate_open'), 1);
  assert.equal(v('keycast_fresh_seconds_left'), 10);
  assert.equal(v('keycast_forwards_total', { format: 'kdm' }), 2);
  assert.equal(v('keycast_kdms_total', { format: 'kdm' }), 302);
  assert.equal(v('keycast_enclave_refusals_total', { code: 'GATE_CLOSED' }), 1);
  assert.equal(v('keycast_enclave_refusals_total', { code: 'OTHER' }), 1, 'a non-code is not echoed');
  assert.equal(v('keycast_kms_round_trips_total', { operation: 'Decrypt', outcome: 'KMS_DENIED' }), 1);
  assert.equal(v('keycast_kms_round_trip_seconds_total', { operation: 'GenerateDataKey', outcome: 'ok' }), 0.5);
  assert.equal(v('keycast_log_round_trips_total', { outcome: 'error' }), 2);
  assert.equal(v('keycast_host_refreshes_total', { outcome: 'LOG_UNREACHABLE' }), 2);
  assert.equal(m.types.get('keycast_gate_open'), 'gauge');
  assert.equal(m.types.get('keycast_kdms_total'), 'counter');
});

test('formatMetrics: an enclave that does not answer, or answers nonsense, is enclave_up 0; labels are escaped', () => {
  for (const bad of [
    null,
    'x',
    {},
    { gate: { open: 'yes', freshUntil: 1 }, forwards: {}, outputs: {}, refusals: {}, kms: {} },
    { gate: { open: true, freshUntil: 1 }, forwards: { kdm: -1 }, outputs: {}, refusals: {}, kms: {} },
    { gate: { open: true, freshUntil: 1 }, forwards: {}, outputs: {}, refusals: { A: 'NaN' }, kms: {} },
    { gate: { open: true, freshUntil: 1 }, forwards: {}, outputs: {}, refusals: {}, kms: { 'Decrypt ok': {} } },
  ])
    assert.equal(relayedEnclave(bad), null, JSON.stringify(bad));
  const text = formatMetrics(host, null, 0);
  const m = parseExposition(text);
  assert.equal(m.samples.get('keycast_enclave_up'), 0);
  assert.equal(m.samples.get('keycast_gate_open'), 0);
  assert.equal(m.samples.get('keycast_fresh_seconds_left'), 0);
  assert.ok(!text.includes('keycast_kdms_total'), 'no enclave figures without the enclave');
  // a hostile label value (from a relayed body's keys) stays inside its quotes
  const hostile = relayedEnclave({
    gate: { open: false, freshUntil: null },
    forwards: { 'kdm"} 1\nkeycast_gate_open 1\n#': 1 },
    outputs: {},
    refusals: {},
    kms: {},
  });
  assert.ok(hostile);
  const h = parseExposition(formatMetrics(host, hostile, 0));
  assert.equal(h.samples.get('keycast_gate_open'), 0);
  assert.equal(h.samples.get(seriesKey('keycast_forwards_total', { format: 'kdm"} 1\nkeycast_gate_open 1\n#' })), 1);
});

test('freshSecondsLeft: whole seconds to the stale point, 0 while shut or unknown', () => {
  assert.equal(freshSecondsLeft({ open: true, freshUntil: 112.7 }, 100), 12);
  assert.equal(freshSecondsLeft({ open: true, freshUntil: 99 }, 100), 0);
  assert.equal(freshSecondsLeft({ open: false, freshUntil: 200 }, 100), 0);
  assert.equal(freshSecondsLeft({ open: true, freshUntil: null }, 100), 0);
  assert.equal(freshSecondsLeft({ open: true, freshUntil: Number.NaN }, 100), 0);
  assert.equal(freshSecondsLeft(undefined, 100), 0);
});

test('the enclave counters stay bounded whatever codes arrive', () => {
  const e = new EnclaveMetrics();
  for (let i = 0; i < 1000; i++) e.refused(`CODE_${i}`);
  const r = e.body().refusals;
  assert.ok(Object.keys(r).length <= 257);
  assert.ok((r.OTHER ?? 0) > 0);
});

test('the exposition reader refuses what Prometheus would', () => {
  const ok = '# HELP a_total x\n# TYPE a_total counter\na_total{l="v"} 1\n';
  assert.equal(parseExposition(ok).samples.get('a_total{l="v"}'), 1);
  for (const [bad, why] of [
    ['a 1', 'no final newline'],
    ['a 1\na 2\n', 'repeated series'],
    ['a 1\n# TYPE a gauge\n', 'TYPE after samples'],
    ['# TYPE a counter\na -1\n', 'negative counter'],
    ['a{l="\\x"} 1\n', 'bad escape'],
    ['a{l="v",l="w"} 1\n', 'repeated label'],
    ['1a 1\n', 'bad name'],
    ['a one\n', 'bad value'],
    ['a 1\nb 1\na{x="y"} 1\n', 'family not contiguous'],
    ['# TYPE a widget\n', 'unknown type'],
  ])
    assert.throws(() => parseExposition(bad!), Error, why);
});
