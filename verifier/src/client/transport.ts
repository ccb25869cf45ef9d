/**
 * HTTP requests to a log over an injected `fetch` (the verifier does no I/O of its own: the
 * caller passes globalThis.fetch, or a fake in tests). Every request has:
 *   - a byte cap: the body is read as a stream and the read aborts as soon as it passes the cap
 *     (LOG_RESPONSE_OVERSIZED), so a log streaming an endless body costs at most `cap` bytes;
 *   - a timeout covering headers AND body (LOG_UNAVAILABLE when it fires), so a log that
 *     trickles bytes forever fails too;
 *   - bounded retries with exponential backoff for transient failures — network errors,
 *     timeouts, 429 and 5xx (honouring Retry-After, e.g. the log's 503 PUSHBACK) — each one
 *     reported through `onRetry` before the wait; a status the caller accepts (`pass`) is handed
 *     back first, whatever it is (a host's 503 GATE_CLOSED is a refusal to relay, not a glitch);
 *   - a content-type check on success, where the log sets one.
 * Any other status is LOG_REFUSED carrying the log's coded error body (code, message) as evidence.
 */
import { VerifierError } from '../errors.ts';

export type FetchLike = (input: string | URL, init?: RequestInit) => Promise<Response>;

/** One transient failure about to be retried (e.g. printed on stderr by a CLI). */
export interface RetryEvent {
  url: string;
  /** 1 for the first retry. */
  attempt: number;
  /** How many retries are allowed in all. */
  retries: number;
  delayMs: number;
  /** HTTP status, when the log answered. */
  status?: number;
  reason: string;
}

export interface TransportOptions {
  fetch: FetchLike;
  /** What the peer is, in messages (default "the log"; e.g. "the host"). */
  peer?: string;
  /** Per attempt, headers and body together (default 30 s). */
  timeoutMs?: number;
  /** Retries after the first attempt for transient failures (default 3). */
  retries?: number;
  /** First backoff delay; doubles per retry up to maxDelayMs (defaults 250 ms, 8 s). */
  backoffMs?: number;
  maxDelayMs?: number;
  onRetry?: (e: RetryEvent) => void;
  /** How to wait between attempts (tests pass a fake). */
  sleep?: (ms: number) => Promise<void>;
}

export interface RequestSpec {
  method?: 'GET' | 'POST';
  /** Largest body accepted, in bytes. */
  cap: number;
  /** Accepted media types (the part before `;`); the first is sent as Accept. Empty: no check. */
  accept: string[];
  body?: string;
  contentType?: string;
  /** Statuses handed back to the caller instead of raising LOG_REFUSED (e.g. 404 for lookups). */
  pass?: number[];
  /** Called as the body arrives: bytes so far and the declared Content-Length (null if none). */
  progress?: (got: number, total: number | null) => void;
}

export interface RawAnswer {
  status: number;
  contentType: string;
  body: Uint8Array;
}

const TRANSIENT = (status: number) => status === 429 || (status >= 500 && status <= 599);
const MAX_ERROR_BODY = 64 * 1024;
const defaultSleep = (ms: number) => new Promise<void>((ok) => setTimeout(ok, ms));

class Timeout extends Error {}
class Transient extends Error {
  constructor(
    readonly reason: string,
    readonly status?: number,
    readonly retryAfterMs?: number,
    readonly logEvidence?: Record<string, unknown>,
  ) {
    super(reason);
  }
}

/** Performs one request with retries; see the file comment. */
export async function request(o: TransportOptions, url: URL, spec: RequestSpec): Promise<RawAnswer> {
  const retries = o.retries ?? 3;
  const sleep = o.sleep ?? defaultSleep;
  for (let attempt = 0; ; attempt++) {
    try {
      return await once(o, url, spec);
    } catch (e) {
      if (!(e instanceof Transient)) throw e;
      if (attempt >= retries) {
        throw new VerifierError(
          'LOG_UNAVAILABLE',
          `${o.peer ?? 'the log'} at ${url.origin} failed ${attempt + 1} times for ${url.pathname}: ${e.reason}`,
          {
            url: url.href,
            attempts: attempt + 1,
            ...(e.status === undefined ? {} : { status: e.status }),
            reason: e.reason,
            ...e.logEvidence,
          },
        );
      }
      const backoff = Math.min((o.backoffMs ?? 250) * 2 ** attempt, o.maxDelayMs ?? 8000);
      const delayMs = e.retryAfterMs === undefined ? backoff : Math.min(e.retryAfterMs, o.maxDelayMs ?? 8000);
      o.onRetry?.({
        url: url.href,
        attempt: attempt + 1,
        retries,
        delayMs,
        ...(e.status === undefined ? {} : { status: e.status }),
        reason: e.reason,
      });
      await sleep(delayMs);
    }
  }
}

async function once(o: TransportOptions, url: URL, spec: RequestSpec): Promise<RawAnswer> {
  const ctl = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    ctl.abort(new Timeout('timeout'));
  }, o.timeoutMs ?? 30_000);
  const headers: Record<string, string> = {};
  if (spec.accept[0] !== undefined) headers.accept = spec.accept[0];
  if (spec.contentType !== undefined) headers['content-type'] = spec.contentType;
  try {
    let res: Response;
    try {
      res = await o.fetch(url, {
        method: spec.method ?? 'GET',
        headers,
        signal: ctl.signal,
        ...(spec.body === undefined ? {} : { body: spec.body }),
      });
    } catch (e) {
      throw new Transient(
        timedOut
          ? `no answer within ${o.timeoutMs ?? 30_000} ms`
          : `cannot reach ${o.peer ?? 'the log'} at ${url.origin}: ${describe(e)}`,
      );
    }
    const ok = res.status === 200 || (spec.pass ?? []).includes(res.status);
    const cap = ok ? spec.cap : MAX_ERROR_BODY;
    let body: Uint8Array;
    try {
      body = await readCapped(res, cap, ctl.signal, url, ok ? spec.progress : undefined);
    } catch (e) {
      if (e instanceof VerifierError && !ok)
        body = new Uint8Array(); // an oversized error body: the status is what matters
      else if (e instanceof VerifierError) throw e;
      else
        throw new Transient(
          timedOut
            ? `the answer did not complete within ${o.timeoutMs ?? 30_000} ms`
            : `the answer broke off: ${describe(e)}`,
          res.status,
        );
    }
    const contentType = (res.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (TRANSIENT(res.status) && !ok)
      throw new Transient(`HTTP ${res.status}${logCodeOf(body)}`, res.status, retryAfter(res), logEvidence(body));
    if (!ok) {
      const ev = logEvidence(body);
      throw new VerifierError(
        'LOG_REFUSED',
        `the log answered HTTP ${res.status}${logCodeOf(body)} for ${url.pathname}${typeof ev.logMessage === 'string' ? `: ${ev.logMessage}` : ''}`,
        { url: url.href, status: res.status, ...ev },
      );
    }
    if (spec.accept.length > 0 && !spec.accept.includes(contentType)) {
      throw new VerifierError(
        'LOG_RESPONSE_INVALID',
        `the log answered ${url.pathname} with content-type ${JSON.stringify(contentType)}, want ${spec.accept.join(' or ')}`,
        { url: url.href, contentType, accept: spec.accept },
      );
    }
    return { status: res.status, contentType, body };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Reads a response body, refusing it (LOG_RESPONSE_OVERSIZED) once it passes `cap` bytes —
 * Content-Length is checked first, then every chunk — and giving up when `signal` aborts even
 * if the stream never yields again. The stream is cancelled on every exit.
 */
export async function readCapped(
  res: Response,
  cap: number,
  signal: AbortSignal,
  url: URL,
  progress?: (got: number, total: number | null) => void,
): Promise<Uint8Array> {
  const oversized = (got: number) =>
    new VerifierError('LOG_RESPONSE_OVERSIZED', `the log's answer for ${url.pathname} is larger than ${cap} bytes`, {
      url: url.href,
      cap,
      got,
    });
  const declared = Number(res.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > cap) {
    await res.body?.cancel().catch(() => {});
    throw oversized(declared);
  }
  if (res.body === null) return new Uint8Array();
  const reader = res.body.getReader();
  let onAbort!: () => void;
  const aborted = new Promise<never>((_ok, fail) => {
    onAbort = () => fail(signal.reason ?? new Error('aborted'));
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  aborted.catch(() => {});
  const chunks: Uint8Array[] = [];
  let n = 0;
  try {
    for (;;) {
      const r = await Promise.race([reader.read(), aborted]);
      if (r.done) break;
      n += r.value.byteLength;
      if (n > cap) throw oversized(n);
      chunks.push(r.value);
      progress?.(n, Number.isFinite(declared) && res.headers.has('content-length') ? declared : null);
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
    reader.cancel().catch(() => {});
  }
  const out = new Uint8Array(n);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.byteLength;
  }
  return out;
}

/** Retry-After in ms (delta-seconds form only; a date or garbage is ignored). */
function retryAfter(res: Response): number | undefined {
  const v = res.headers.get('retry-after');
  return v !== null && /^\d{1,6}$/.test(v.trim()) ? Number(v.trim()) * 1000 : undefined;
}

function describe(e: unknown): string {
  const cause = (e as { cause?: { code?: unknown; message?: unknown } })?.cause;
  const code = typeof cause?.code === 'string' ? ` (${cause.code})` : '';
  return `${e instanceof Error ? e.message : String(e)}${code}`;
}

/** The log's coded error body `{ code, message }`, as public evidence (codes and messages only). */
function logEvidence(body: Uint8Array): Record<string, unknown> {
  try {
    const j = JSON.parse(new TextDecoder().decode(body)) as { code?: unknown; message?: unknown; evidence?: unknown };
    const out: Record<string, unknown> = {};
    if (typeof j.code === 'string') out.logCode = j.code.slice(0, 64);
    if (typeof j.message === 'string') out.logMessage = j.message.slice(0, 500);
    if (typeof j.evidence === 'object' && j.evidence !== null) out.logEvidence = j.evidence;
    return out;
  } catch {
    return {};
  }
}

function logCodeOf(body: Uint8Array): string {
  const c = logEvidence(body).logCode;
  return typeof c === 'string' ? ` ${c}` : '';
}
