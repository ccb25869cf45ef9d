/**
 * The host's GET /metrics: Prometheus text exposition format 0.0.4 with the host's own figures
 * and the enclave's (GET /v1/metrics on the enclave, relayed). What an operator keeping this
 * running for a year watches: whether the door is open, how many seconds of freshness are left
 * (alert well before 0: the log or its witnesses stopped refreshing), forwards and KDMs, refusals
 * by code, KMS and log round trips. `formatMetrics` is pure; HostMetrics counts the host's side.
 */
import type { EnclaveMetricsBody } from '../common/metrics.ts';
import type { FetchLike } from '#verifier/build';

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Seconds until the enclave's proof goes stale (0 while shut or unknown). */
export function freshSecondsLeft(gate: { open?: unknown; freshUntil?: unknown } | undefined, now: number): number {
  if (gate?.open !== true || typeof gate.freshUntil !== 'number' || !Number.isFinite(gate.freshUntil)) return 0;
  return Math.max(0, Math.floor(gate.freshUntil - now));
}

/** The enclave's relayed figures: its /v1/metrics body, checked for shape (null: not reachable or malformed). */
export interface RelayedEnclave extends EnclaveMetricsBody {
  gate: { open: boolean; freshUntil: number | null };
}

export class HostMetrics {
  private readonly log = new Map<string, { count: number; seconds: number }>();
  private readonly refusals = new Map<string, number>();
  private readonly refreshes = new Map<string, number>();
  private readonly deliveries = new Map<string, { count: number; seconds: number }>();

  /** `fetch` that counts each log round trip by outcome (the HTTP status, or "error"). */
  timedFetch(inner: FetchLike): FetchLike {
    return (async (url: string | URL, init?: RequestInit) => {
      const start = performance.now();
      let outcome = 'error';
      try {
        const r = await inner(url, init);
        outcome = String(r.status);
        return r;
      } finally {
        const e = this.log.get(outcome) ?? { count: 0, seconds: 0 };
        e.count++;
        e.seconds += (performance.now() - start) / 1000;
        if (this.log.has(outcome) || this.log.size < 64) this.log.set(outcome, e);
      }
    }) as FetchLike;
  }

  refused(code: string): void {
    const k = /^[A-Z][A-Z0-9_]{0,63}$/.test(code) ? code : 'OTHER';
    if (this.refusals.has(k) || this.refusals.size < 256) this.refusals.set(k, (this.refusals.get(k) ?? 0) + 1);
  }

  refreshed(code: string | null): void {
    const k = code ?? 'ok';
    if (this.refreshes.has(k) || this.refreshes.size < 256) this.refreshes.set(k, (this.refreshes.get(k) ?? 0) + 1);
  }

  /** One add-entry round trip for delivery transparency (issue 19): step identity|delivery, outcome ok or the code. */
  deliveryLogged(step: string, outcome: string, seconds: number): void {
    const k = `${step} ${/^[A-Z][A-Z0-9_]{0,63}$|^ok$/.test(outcome) ? outcome : 'OTHER'}`;
    const e = this.deliveries.get(k) ?? { count: 0, seconds: 0 };
    e.count++;
    e.seconds += seconds;
    if (this.deliveries.has(k) || this.deliveries.size < 64) this.deliveries.set(k, e);
  }

  figures(): HostFigures {
    return {
      log: Object.fromEntries([...this.log].map(([k, v]) => [k, { ...v }])),
      refusals: Object.fromEntries(this.refusals),
      refreshes: Object.fromEntries(this.refreshes),
      deliveries: Object.fromEntries([...this.deliveries].map(([k, v]) => [k, { ...v }])),
    };
  }
}

export interface HostFigures {
  log: Record<string, { count: number; seconds: number }>;
  refusals: Record<string, number>;
  refreshes: Record<string, number>;
  /** delivery transparency's log round trips, by "step outcome" (issue 19) */
  deliveries?: Record<string, { count: number; seconds: number }>;
}

/** Reads the enclave's /v1/metrics body; null when it is not the expected shape. */
export function relayedEnclave(body: unknown): RelayedEnclave | null {
  const b = body as Partial<RelayedEnclave> | null;
  const counts = (v: unknown) =>
    typeof v === 'object' && v !== null && Object.values(v).every((n) => Number.isFinite(n) && (n as number) >= 0);
  const trips = (v: unknown) =>
    typeof v === 'object' &&
    v !== null &&
    Object.values(v).every(
      (t) =>
        typeof t === 'object' && t !== null && Number.isFinite(t.count) && t.count >= 0 && Number.isFinite(t.seconds),
    );
  if (
    typeof b !== 'object' ||
    b === null ||
    typeof b.gate?.open !== 'boolean' ||
    !(b.gate.freshUntil === null || Number.isFinite(b.gate.freshUntil)) ||
    !counts(b.forwards) ||
    !counts(b.outputs) ||
    !counts(b.refusals) ||
    !trips(b.kms)
  )
    return null;
  return b as RelayedEnclave;
}

type Sample = [labels: Record<string, string>, value: number];

function family(out: string[], name: string, type: 'gauge' | 'counter', help: string, samples: Sample[]): void {
  out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  for (const [labels, value] of samples) {
    const l = Object.entries(labels)
      .map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
      .join(',');
    out.push(`${name}${l ? `{${l}}` : ''} ${Number.isFinite(value) ? value : 0}`);
  }
}

const each = (r: Record<string, number>, label: string): Sample[] =>
  Object.entries(r).map(([k, v]) => [{ [label]: k }, v]);

/** The exposition text for the host's and the enclave's figures at `now` (Unix seconds). */
export function formatMetrics(host: HostFigures, enclave: RelayedEnclave | null, now: number): string {
  const out: string[] = [];
  family(out, 'keycast_enclave_up', 'gauge', 'Whether the enclave answered the host (1) or not (0).', [
    [{}, enclave ? 1 : 0],
  ]);
  family(out, 'keycast_gate_open', 'gauge', "Whether the enclave's door is open (1) or shut (0).", [
    [{}, enclave?.gate.open ? 1 : 0],
  ]);
  family(
    out,
    'keycast_fresh_seconds_left',
    'gauge',
    "Seconds until the enclave's proof has fewer than k fresh cosignatures and the door shuts (0 while shut).",
    [[{}, freshSecondsLeft(enclave?.gate, now)]],
  );
  if (enclave) {
    family(out, 'keycast_forwards_total', 'counter', 'Forward requests the enclave served, by output format.', [
      ...each(enclave.forwards, 'format'),
    ]);
    family(out, 'keycast_kdms_total', 'counter', 'KDMs (format kdm) and raw deliveries the enclave emitted.', [
      ...each(enclave.outputs, 'format'),
    ]);
    family(out, 'keycast_enclave_refusals_total', 'counter', "The enclave's error answers, by code.", [
      ...each(enclave.refusals, 'code'),
    ]);
    const kms = Object.entries(enclave.kms).map(([k, v]) => {
      const [operation = '', outcome = ''] = k.split(' ');
      return { labels: { operation, outcome }, ...v };
    });
    family(
      out,
      'keycast_kms_round_trips_total',
      'counter',
      "The enclave's KMS calls, by operation and outcome (ok or the error code).",
      kms.map((k) => [k.labels, k.count]),
    );
    family(
      out,
      'keycast_kms_round_trip_seconds_total',
      'counter',
      "Seconds spent in the enclave's KMS calls, by operation and outcome.",
      kms.map((k) => [k.labels, k.seconds]),
    );
  }
  family(out, 'keycast_host_refusals_total', 'counter', "The host's own error answers, by code.", [
    ...each(host.refusals, 'code'),
  ]);
  family(out, 'keycast_host_refreshes_total', 'counter', 'Proof refresh rounds, by outcome (ok or the code).', [
    ...each(host.refreshes, 'outcome'),
  ]);
  const log = Object.entries(host.log);
  family(
    out,
    'keycast_log_round_trips_total',
    'counter',
    "The host's requests to the log, by outcome (HTTP status or error).",
    log.map(([k, v]) => [{ outcome: k }, v.count]),
  );
  family(
    out,
    'keycast_log_round_trip_seconds_total',
    'counter',
    "Seconds spent in the host's requests to the log, by outcome.",
    log.map(([k, v]) => [{ outcome: k }, v.seconds]),
  );
  const dl = Object.entries(host.deliveries ?? {}).map(([k, v]) => {
    const [step = '', outcome = ''] = k.split(' ');
    return { labels: { step, outcome }, ...v };
  });
  family(
    out,
    'keycast_delivery_log_round_trips_total',
    'counter',
    'Identity and delivery entries the host submitted to the log (issue 19), by step and outcome (ok or the code): one per forward request, not per KDM.',
    dl.map((d) => [d.labels, d.count]),
  );
  family(
    out,
    'keycast_delivery_log_round_trip_seconds_total',
    'counter',
    'Seconds spent submitting identity and delivery entries to the log, by step and outcome.',
    dl.map((d) => [d.labels, d.seconds]),
  );
  return `${out.join('\n')}\n`;
}
