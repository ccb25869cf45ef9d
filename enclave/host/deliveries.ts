/**
 * The host's part of delivery transparency (issue 19), for an enclave whose pinned config
 * requires logged deliveries. The host is trusted with nothing here: it carries bytes.
 *
 *  - Identity: before the enclave's first delivery (and in each refresh round until it is done)
 *    the host asks the enclave for a FRESH attestation document (random nonce) and submits it to
 *    the log, `POST /add-entry {"kind":"identity","attestation":…}`; a duplicate is fine.
 *  - Per forward request the enclave answers 202 with a pending result (runtime/deliveries.ts).
 *    The host submits its entry and sealed manifest (`{"kind":"delivery",…}`), passes the log's
 *    TransparencyLogEntry to the enclave's release route, gets K, opens the answer and returns it
 *    as before plus `delivery: { index, transparencyLogEntry }`. One log round trip a request
 *    (two before the first delivery of an identity), never one per recipient.
 *
 * Log unreachable or 5xx: DELIVERY_LOG_UNAVAILABLE; a log refusal (4xx): DELIVERY_LOG_REFUSED with
 * the log's status and code. Both are 503: nothing usable exists anywhere (the host holds only
 * the sealed answer, in memory, and drops it), and the same request sent again is answered with
 * the same pending result, so it yields exactly one entry once the log is back.
 */
import { randomBytes } from 'node:crypto';
import { openDeliveryEntry } from '#verifier';
import { deliveryAddEntryBody, fromBase64, identityAddEntryBody, toBase64, type SignedEnvelope } from '#verifier/build';
import { EnclaveError } from '../common/errors.ts';
import { openPendingAnswer } from '../common/delivery-answer.ts';
import type { EnclaveClient } from './enclave-client.ts';

/** An add-entry answer is small (the leaf, ≤ 64 proof hashes, a checkpoint): cap what is read. */
const MAX_LOG_ANSWER_BYTES = 1024 * 1024;
/** The raw Ed25519 key as SPKI DER (what delivery entries name). */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export interface DeliveryLogOptions {
  logUrl: string;
  /** fetch to the log (the host's timed, abortable one) */
  fetch?: (url: string, init?: RequestInit) => Promise<Response>;
  /** per log request, ms (default 30 s) */
  timeoutMs?: number;
  log?: (line: string) => void;
  /** told of each add-entry round trip: step, outcome (ok or the code), seconds */
  onRoundTrip?: (step: 'identity' | 'delivery', outcome: string, seconds: number) => void;
}

interface PendingBody {
  pending: true;
  requestDigest: string;
  entry: SignedEnvelope;
  manifest: string;
  sealed: string;
}

function unusable(message: string): EnclaveError {
  return new EnclaveError('ENCLAVE_UNREACHABLE', message);
}

export class DeliveryLog {
  private readonly base: string;
  private readonly fetchFn: (url: string, init?: RequestInit) => Promise<Response>;
  private readonly timeoutMs: number;
  /** receipt keys (base64 SPKI DER) whose identity entry the log has acknowledged */
  private readonly registered = new Set<string>();

  constructor(private readonly o: DeliveryLogOptions) {
    this.base = o.logUrl.replace(/\/+$/, '');
    this.fetchFn = o.fetch ?? fetch;
    this.timeoutMs = o.timeoutMs ?? 30_000;
  }

  /** POST /add-entry; the log's JSON answer, or DELIVERY_LOG_UNAVAILABLE / DELIVERY_LOG_REFUSED. */
  private async addEntry(body: string, step: 'identity' | 'delivery'): Promise<Record<string, unknown>> {
    const start = performance.now();
    try {
      const r = await this.addEntryOnce(body, step);
      this.o.onRoundTrip?.(step, 'ok', (performance.now() - start) / 1000);
      return r;
    } catch (e) {
      this.o.onRoundTrip?.(step, e instanceof EnclaveError ? e.code : 'INTERNAL', (performance.now() - start) / 1000);
      throw e;
    }
  }

  private async addEntryOnce(body: string, step: 'identity' | 'delivery'): Promise<Record<string, unknown>> {
    let status: number;
    let text: string;
    try {
      const r = await this.fetchFn(`${this.base}/add-entry`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      status = r.status;
      const bytes = new Uint8Array(await r.arrayBuffer());
      if (bytes.length > MAX_LOG_ANSWER_BYTES) throw new Error('answer too large');
      text = Buffer.from(bytes).toString('utf8');
    } catch (e) {
      this.o.log?.(`deliveries: the log did not take the ${step} entry: ${(e as Error).name}`);
      throw new EnclaveError('DELIVERY_LOG_UNAVAILABLE', `the log did not answer the ${step} entry; retry later`, {
        step,
        reason: (e as Error).name,
      });
    }
    let j: Record<string, unknown> = {};
    try {
      j = JSON.parse(text) as Record<string, unknown>;
    } catch {
      j = {};
    }
    if (status >= 500 || (status === 200 && typeof j !== 'object'))
      throw new EnclaveError(
        'DELIVERY_LOG_UNAVAILABLE',
        `the log answered the ${step} entry with ${status}; retry later`,
        {
          step,
          logStatus: status,
        },
      );
    if (status !== 200) {
      const logCode = typeof j.code === 'string' ? j.code.slice(0, 64) : `HTTP_${status}`;
      this.o.log?.(`deliveries: the log refused the ${step} entry: ${logCode}`);
      throw new EnclaveError('DELIVERY_LOG_REFUSED', `the log refused the ${step} entry: ${logCode}`, {
        step,
        logStatus: status,
        logCode,
      });
    }
    return j;
  }

  /**
   * Registers the enclave's identity (a fresh attestation) unless the log already acknowledged
   * this receipt key (`receiptKey`: base64 SPKI DER, or the raw 32-byte Ed25519 key in base64).
   */
  async ensureIdentity(enclave: EnclaveClient, receiptKey: string): Promise<void> {
    const key = spki(receiptKey);
    if (this.registered.has(key)) return;
    const a = await enclave.attestation(randomBytes(32).toString('hex'));
    if (!a.document)
      throw new EnclaveError('IDENTITY_NOT_READY', 'the enclave gave no attestation to register its identity', {
        status: a.status,
        code: typeof a.body?.code === 'string' ? a.body.code : null,
      });
    const r = await this.addEntry(identityAddEntryBody(a.document), 'identity');
    this.registered.add(key);
    this.o.log?.(
      `deliveries: enclave identity on the log at index ${String(r.index)}${r.duplicate ? ' (already)' : ''}`,
    );
  }

  /**
   * Logs a pending forward and has the enclave release it: returns the answer's bytes as the
   * client gets them (the enclave's answer plus `delivery`).
   */
  async complete(enclave: EnclaveClient, pendingBytes: Uint8Array, requestDigest: string): Promise<Uint8Array> {
    let p: PendingBody;
    try {
      p = JSON.parse(Buffer.from(pendingBytes).toString('utf8')) as PendingBody;
    } catch {
      throw unusable('the enclave answered a pending forward with something other than JSON');
    }
    if (p?.pending !== true || p.requestDigest !== requestDigest || typeof p.sealed !== 'string')
      throw unusable('the enclave answered a pending forward for another request, or without its sealed answer');
    let receiptKey: string;
    try {
      receiptKey = openDeliveryEntry(p.entry).entry.receiptKey;
    } catch {
      throw unusable('the enclave answered a pending forward with an entry that does not open');
    }
    await this.ensureIdentity(enclave, receiptKey);
    const logged = await this.addEntry(deliveryAddEntryBody(p.entry, fromBase64(p.manifest)), 'delivery');
    const rel = await enclave.release({ requestDigest, transparencyLogEntry: logged.transparencyLogEntry });
    if (rel.status !== 200 || typeof rel.body.key !== 'string') {
      const code = typeof rel.body.code === 'string' ? rel.body.code : `HTTP_${rel.status}`;
      throw new EnclaveError('DELIVERY_PROOF_INVALID', `the enclave did not release the delivery: ${code}`, {
        enclaveCode: code,
        requestDigest,
      });
    }
    const key = fromBase64(rel.body.key);
    const answer = openPendingAnswer(fromBase64(p.sealed), key, requestDigest);
    key.fill(0);
    const delivery = JSON.stringify({ index: logged.index, transparencyLogEntry: logged.transparencyLogEntry });
    // the answer is `{…}`: append the delivery field without parsing a body of up to 512 MiB again
    if (answer[answer.length - 1] !== 0x7d) throw unusable('the released answer is not a JSON object');
    return Buffer.concat([answer.subarray(0, answer.length - 1), Buffer.from(`,"delivery":${delivery}}`, 'utf8')]);
  }
}

/** base64 SPKI DER of a receipt key given as SPKI (base64) or as the raw 32-byte Ed25519 key (base64). */
function spki(b64: string): string {
  const raw = Buffer.from(b64, 'base64');
  return raw.length === 32 ? toBase64(new Uint8Array(Buffer.concat([ED25519_SPKI_PREFIX, raw]))) : b64;
}
