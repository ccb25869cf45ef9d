/**
 * The enclave's operating figures, kept in memory and served as JSON on GET /v1/metrics for the
 * host to relay (the host's GET /metrics turns them into Prometheus text). Counters only: never a
 * body, key, certificate or anything a request carried beyond its refusal code and output format.
 *
 *   forwards   served forward requests, by output format
 *   outputs    KDMs (or raw deliveries) emitted, by format
 *   refusals   error answers, by their stable code (GATE_CLOSED, FORWARD_REPLAY, …)
 *   kms        KMS round trips by operation and outcome (ok or the error code), with total seconds
 */
import type { FastifyInstance } from 'fastify';
import { CodedError } from '#verifier';
import type { KmsPort } from './kms/port.ts';

export interface KmsRoundTrips {
  count: number;
  seconds: number;
}

export interface EnclaveMetricsBody {
  forwards: Record<string, number>;
  outputs: Record<string, number>;
  refusals: Record<string, number>;
  /** "<operation> <outcome>" → round trips */
  kms: Record<string, KmsRoundTrips>;
}

/** Keys are codes and formats from closed sets, but bounded anyway so a bug cannot grow them. */
const MAX_KEYS = 256;

function bump(m: Map<string, number>, key: string, by = 1): void {
  if (!m.has(key) && m.size >= MAX_KEYS) key = 'OTHER';
  m.set(key, (m.get(key) ?? 0) + by);
}

export class EnclaveMetrics {
  private readonly forwards = new Map<string, number>();
  private readonly outputs = new Map<string, number>();
  private readonly refusals = new Map<string, number>();
  private readonly kms = new Map<string, KmsRoundTrips>();

  forwarded(format: string, outputs: number): void {
    bump(this.forwards, format);
    bump(this.outputs, format, outputs);
  }

  refused(code: string): void {
    bump(this.refusals, /^[A-Z][A-Z0-9_]{0,63}$/.test(code) ? code : 'OTHER');
  }

  kmsRoundTrip(operation: string, outcome: string, seconds: number): void {
    const key = `${operation} ${outcome}`;
    const r = this.kms.get(key) ?? (this.kms.size >= MAX_KEYS ? null : { count: 0, seconds: 0 });
    if (!r) return;
    r.count++;
    r.seconds += seconds;
    this.kms.set(key, r);
  }

  body(): EnclaveMetricsBody {
    return {
      forwards: Object.fromEntries(this.forwards),
      outputs: Object.fromEntries(this.outputs),
      refusals: Object.fromEntries(this.refusals),
      kms: Object.fromEntries([...this.kms].map(([k, v]) => [k, { ...v }])),
    };
  }
}

/** A KmsPort that times every round trip into `metrics` (outcome: ok, or the error's code). */
export function timedKms(kms: KmsPort, metrics: EnclaveMetrics): KmsPort {
  const time = async <T>(op: string, call: () => Promise<T>): Promise<T> => {
    const start = performance.now();
    try {
      const r = await call();
      metrics.kmsRoundTrip(op, 'ok', (performance.now() - start) / 1000);
      return r;
    } catch (e) {
      metrics.kmsRoundTrip(
        op,
        e instanceof CodedError ? String(e.code) : 'INTERNAL',
        (performance.now() - start) / 1000,
      );
      throw e;
    }
  };
  return {
    generateDataKey: (c) => time('GenerateDataKey', () => kms.generateDataKey(c)),
    decrypt: (c) => time('Decrypt', () => kms.decrypt(c)),
  };
}

/** Counts every error answer of `app` by its code (the `code` of the { error, code, … } body). */
export function countRefusals(app: FastifyInstance, onCode: (code: string) => void): void {
  app.addHook('onSend', async (_req, reply, payload) => {
    if (reply.statusCode >= 400 && typeof payload === 'string' && payload.length < 65_536) {
      try {
        const code = (JSON.parse(payload) as { code?: unknown }).code;
        onCode(typeof code === 'string' ? code : `HTTP_${reply.statusCode}`);
      } catch {
        onCode(`HTTP_${reply.statusCode}`);
      }
    }
    return payload;
  });
}
