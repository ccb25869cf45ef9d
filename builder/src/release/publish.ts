/**
 * Publishing a signed bundle to a Keycast log (issue #4): POST <log>/add-entry with the
 * bundle JSON as body; the log answers `{ index, leafHash, transparencyLogEntry }` once the
 * entry is durably integrated (a duplicate gets its existing index). Before trusting the
 * answer we check it is about OUR entry: the TLE's body must be the canonical leaf of our
 * envelope (decodeLeaf + byte equality with what we would log), its leaf hash and index must
 * match, and — when the log's identity is pinned (`log: { origin, publicKey }`) — the checkpoint
 * must open under that key with an inclusion proof of our leaf (checkLogBinding). Then the
 * bundle is written back with the TLE in `verificationMaterial.tlogEntries` (replacing an
 * earlier entry from the same log, keeping entries from other logs such as Rekor's).
 *
 * Network behaviour: one request at a time; 429/503 answers are retried (honouring
 * Retry-After, at most `retries` times); any other non-200 is a BuilderError PUBLISH_REFUSED
 * carrying the log's coded error body.
 */
import { checkLogBinding, decodeLeaf, hashLeaf, parseBundle, toHex, trustedRootForLog, fromBase64, canonicalize } from '#verifier';
import { BuilderError } from '../errors.ts';
import type { BundleJson } from './sign.ts';

export interface PublishOptions {
  /** Pin the log: its origin and raw 32-byte Ed25519 checkpoint key. */
  log?: { origin: string; publicKey: Uint8Array };
  fetch?: typeof fetch;
  retries?: number;
  /** Per-request timeout (ms), default 60 s (the log answers after durable integration). */
  timeoutMs?: number;
}

export interface PublishResult {
  bundle: BundleJson;
  index: number;
  leafHash: string;
  duplicate: boolean;
}

const MAX_RESPONSE_BYTES = 1 << 20;

export async function publishRelease(logUrl: string, bundle: BundleJson, opts: PublishOptions = {}): Promise<PublishResult> {
  const parsed = parseBundle(bundle);
  const url = new URL('add-entry', logUrl.endsWith('/') ? logUrl : `${logUrl}/`);
  const answer = await post(url, JSON.stringify(bundle), opts);
  const tle = answer.transparencyLogEntry as Record<string, unknown>;
  checkAnswer(answer, parsed.envelope);
  const out = structuredClone(bundle) as { verificationMaterial: Record<string, unknown> };
  // Keep entries from other logs (keyless bundles carry a Rekor entry); replace any earlier one from this log.
  const earlier = Array.isArray(out.verificationMaterial.tlogEntries) ? out.verificationMaterial.tlogEntries as Array<{ logId?: { keyId?: unknown } }> : [];
  const logId = (tle.logId as { keyId?: unknown } | undefined)?.keyId;
  out.verificationMaterial.tlogEntries = [...earlier.filter((e) => e?.logId?.keyId !== logId), tle];
  if (opts.log) {
    try {
      checkLogBinding(out, trustedRootForLog({ origin: opts.log.origin, logPublicKey: opts.log.publicKey }));
    } catch (e) {
      throw new BuilderError('PUBLISH_BAD_ANSWER', `the log's entry does not verify against the pinned log key: ${(e as Error).message}`, { url: url.href }, { cause: e });
    }
  }
  return { bundle: out as BundleJson, index: answer.index as number, leafHash: answer.leafHash as string, duplicate: answer.duplicate === true };
}

function bad(message: string, evidence: Record<string, unknown> = {}): BuilderError {
  return new BuilderError('PUBLISH_BAD_ANSWER', message, evidence);
}

function checkAnswer(a: Record<string, unknown>, envelope: unknown): void {
  const tle = a.transparencyLogEntry as Record<string, unknown> | undefined;
  if (!Number.isSafeInteger(a.index) || typeof a.leafHash !== 'string' || typeof tle !== 'object' || tle === null) throw bad('the log answer lacks index, leafHash or transparencyLogEntry');
  let body: Uint8Array;
  try {
    body = fromBase64(tle.canonicalizedBody as string);
  } catch {
    throw bad('transparencyLogEntry.canonicalizedBody is not base64');
  }
  const logged = decodeLeaf(body);
  if (canonicalize(logged.envelope) !== canonicalize(envelope)) throw bad('the log answered with a different envelope than the one submitted', { index: a.index });
  if (toHex(hashLeaf(body)) !== a.leafHash) throw bad('leafHash is not the hash of the logged body', { leafHash: a.leafHash });
  if (tle.logIndex !== String(a.index)) throw bad('transparencyLogEntry.logIndex differs from index', { index: a.index, logIndex: tle.logIndex });
}

async function post(url: URL, body: string, opts: PublishOptions): Promise<Record<string, unknown>> {
  const doFetch = opts.fetch ?? fetch;
  const retries = opts.retries ?? 5;
  for (let attempt = 0; ; attempt++) {
    let res: Response;
    try {
      res = await doFetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json', accept: 'application/json' }, signal: AbortSignal.timeout(opts.timeoutMs ?? 60_000) });
    } catch (e) {
      throw new BuilderError('PUBLISH_UNREACHABLE', `could not reach ${url.href}: ${(e as Error).message}`, { url: url.href }, { cause: e });
    }
    const text = await readLimited(res);
    if ((res.status === 429 || res.status === 503) && attempt < retries) {
      await new Promise((r) => setTimeout(r, retryDelay(res, attempt)));
      continue;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (res.status !== 200) {
      const e = (json ?? {}) as { code?: unknown; message?: unknown; evidence?: unknown };
      throw new BuilderError('PUBLISH_REFUSED', `the log refused the entry (HTTP ${res.status}${typeof e.code === 'string' ? ` ${e.code}` : ''})${typeof e.message === 'string' ? `: ${e.message.slice(0, 500)}` : ''}`, {
        url: url.href, status: res.status, logCode: typeof e.code === 'string' ? e.code : null, logEvidence: e.evidence ?? null,
      });
    }
    if (typeof json !== 'object' || json === null) throw bad('the log answer is not a JSON object', { url: url.href });
    return json as Record<string, unknown>;
  }
}

function retryDelay(res: Response, attempt: number): number {
  const ra = Number(res.headers.get('retry-after'));
  return Number.isFinite(ra) && ra > 0 ? Math.min(ra, 30) * 1000 : Math.min(250 * 2 ** attempt, 5000);
}

async function readLimited(res: Response): Promise<string> {
  const buf = new Uint8Array(await res.arrayBuffer());
  if (buf.length > MAX_RESPONSE_BYTES) throw bad('the log answer is larger than 1 MiB', { size: buf.length });
  return new TextDecoder().decode(buf);
}
