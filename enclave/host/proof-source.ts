/**
 * Where the host gets the enclave's proof bundle: a small interface, and one implementation — a
 * thin adapter over the verifier's log client (fetchProofBundle over LogClient: byte caps,
 * timeouts, retries reported to the host's log, every answer checked before it is forwarded).
 *
 * With the log's key (`keycast host run --log-key`) the host also checks the checkpoint's and the
 * status's signatures; without it, the shape, the inclusion of the release and the status's
 * binding to the proven tree. The enclave's gate re-verifies everything under its own pinned key.
 * A log that cannot be reached (or refuses) is LOG_UNREACHABLE; a log whose answer fails a check
 * is LOG_ANSWER_INVALID, carrying the verifier's code — nothing is forwarded either way.
 */
import { LogClient, VerifierError, fetchProofBundle, type ProofBundle } from '#verifier';
import { fromHex, type FetchLike } from '#verifier/build';
import { EnclaveError } from '../common/errors.ts';

export interface ProofSource {
  /** The newest bundle for this PCR0 extending a held tree of `heldSize` (null: none held); null when not logged. */
  bundleFor(pcr0: string, heldSize: number | null): Promise<ProofBundle | null>;
}

export type Fetch = (url: string, init?: { signal?: AbortSignal }) => Promise<Response>;

export interface LogProofSourceOptions {
  logUrl: string;
  /** The log's note verifier key; when given, signatures are checked too. */
  logKey?: string;
  fetch?: FetchLike;
  /** Per attempt (default 10 s); transient failures are retried `retries` times (default 2). */
  timeoutMs?: number;
  retries?: number;
  /** Where retries are said (the host's stderr logger). */
  log?: (line: string) => void;
  sleep?: (ms: number) => Promise<void>;
}

/** Transport failures: the log is not there (or says no); everything else is a bad answer. */
const UNREACHABLE = new Set(['LOG_UNAVAILABLE', 'LOG_REFUSED']);

export class LogProofSource implements ProofSource {
  readonly client: LogClient;

  constructor(o: LogProofSourceOptions) {
    this.client = new LogClient({
      url: o.logUrl,
      fetch: o.fetch ?? globalThis.fetch,
      timeoutMs: o.timeoutMs ?? 10_000,
      retries: o.retries ?? 2,
      ...(o.logKey === undefined ? {} : { logKey: o.logKey }),
      ...(o.sleep ? { sleep: o.sleep } : {}),
      onRetry: (e) =>
        o.log?.(`log: retry ${e.attempt}/${e.retries} of ${new URL(e.url).pathname} in ${e.delayMs} ms: ${e.reason}`),
    });
  }

  async bundleFor(pcr0: string, heldSize: number | null): Promise<ProofBundle | null> {
    if (!/^[0-9a-f]{96}$/.test(pcr0)) throw new TypeError('pcr0 must be 96 lowercase hex digits');
    try {
      return await fetchProofBundle(this.client, fromHex(pcr0), heldSize);
    } catch (e) {
      if (!(e instanceof VerifierError)) throw e;
      if (UNREACHABLE.has(e.code))
        throw new EnclaveError('LOG_UNREACHABLE', e.message, { verifierCode: e.code }, { cause: e });
      throw new EnclaveError(
        'LOG_ANSWER_INVALID',
        `the log's answer fails a check: ${e.message}`,
        { verifierCode: e.code },
        { cause: e },
      );
    }
  }
}
