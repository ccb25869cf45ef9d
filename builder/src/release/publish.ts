/**
 * Publishing a signed bundle to a Keycast log: POST <log>/add-entry with the
 * bundle JSON as body; the log answers `{ index, leafHash, transparencyLogEntry }` once the
 * entry is durably integrated (a duplicate gets its existing index). Before trusting the
 * answer we check it is about OUR entry: the TLE's body must be the canonical leaf of our
 * envelope (decodeLeaf + byte equality with what we would log), its leaf hash and index must
 * match, and — when the log's identity is pinned (`log: { origin, publicKey }`) — the checkpoint
 * must open under that key with an inclusion proof of our leaf (checkLogBinding). Then the
 * bundle is written back with the TLE in `verificationMaterial.tlogEntries` (replacing an
 * earlier entry from the same log, keeping entries from other logs such as Rekor's).
 *
 * Network behaviour is the verifier's LogClient's (byte caps, timeouts; network errors, 429
 * and 5xx retried with backoff, honouring Retry-After, at most `retries` times and reported
 * through `onRetry`); its coded failures become BuilderErrors here: unreachable after the
 * retries → PUBLISH_UNREACHABLE, a refusal → PUBLISH_REFUSED carrying the log's coded error
 * body, a malformed or oversized answer → PUBLISH_BAD_ANSWER.
 */
import { LogClient, checkLogBinding, decodeLeaf, parseBundle, isVerifierError, type DecodedEntry } from '#verifier';
import {
  hashLeaf,
  toHex,
  trustedRootForLog,
  fromBase64,
  canonicalize,
  type AddEntryAnswer,
  type EnvelopeJson,
  type FetchLike,
  type RetryEvent,
} from '#verifier/build';
import { BuilderError } from '../errors.ts';
import type { BundleJson } from './sign.ts';

export interface PublishOptions {
  /** Pin the log: its origin and raw 32-byte Ed25519 checkpoint key. */
  log?: { origin: string; publicKey: Uint8Array };
  fetch?: FetchLike;
  retries?: number;
  /** Per-request timeout (ms), default 60 s (the log answers after durable integration). */
  timeoutMs?: number;
  /** Told about each transient failure before it is retried (the CLI prints it). */
  onRetry?: (e: RetryEvent) => void;
}

export interface PublishResult {
  bundle: BundleJson;
  index: number;
  leafHash: string;
  duplicate: boolean;
}

export async function publishRelease(
  logUrl: string,
  bundle: BundleJson,
  opts: PublishOptions = {},
): Promise<PublishResult> {
  const parsed = parseBundle(bundle);
  const client = clientFor(logUrl, opts);
  const url = new URL('add-entry', client.url);
  const answer = await builderErrors(() => client.addEntry(JSON.stringify(bundle)));
  const tle = answer.transparencyLogEntry;
  const loggedEnvelope = checkAnswer(answer, parsed.envelope, hintOf(bundle));
  const out = structuredClone(bundle) as { verificationMaterial: Record<string, unknown>; dsseEnvelope?: unknown };
  // a duplicate: the log holds this very statement, signed earlier by this key; the entry proves that
  // envelope (ECDSA signatures differ run to run), so the bundle written carries it
  if (loggedEnvelope !== null) {
    const env = out.dsseEnvelope as { signatures: Array<{ sig: string }> };
    env.signatures = [{ ...env.signatures[0], sig: loggedEnvelope.signatures[0].sig }];
  }
  // Keep entries from other logs (keyless bundles carry a Rekor entry); replace any earlier one from this log.
  const earlier = Array.isArray(out.verificationMaterial.tlogEntries)
    ? (out.verificationMaterial.tlogEntries as Array<{ logId?: { keyId?: unknown } }>)
    : [];
  const logId = (tle.logId as { keyId?: unknown } | undefined)?.keyId;
  out.verificationMaterial.tlogEntries = [...earlier.filter((e) => e?.logId?.keyId !== logId), tle];
  if (opts.log) {
    try {
      checkLogBinding(out, trustedRootForLog({ origin: opts.log.origin, logPublicKey: opts.log.publicKey }));
    } catch (e) {
      throw new BuilderError(
        'PUBLISH_BAD_ANSWER',
        `the log's entry does not verify against the pinned log key: ${(e as Error).message}`,
        { url: url.href },
        { cause: e },
      );
    }
  }
  return { bundle: out as BundleJson, index: answer.index, leafHash: answer.leafHash, duplicate: answer.duplicate };
}

/**
 * Reads entry `index` back from the log (GET entry/<index>): the leaf is decoded and self-checked
 * with decodeLeaf (signature under its embedded key, schema), so what we act on — e.g. the PCR0
 * a revocation must name — is what that leaf's signer signed, not what the server claims.
 */
export async function readLoggedEntry(
  logUrl: string,
  index: number,
  opts: Omit<PublishOptions, 'log'> = {},
): Promise<DecodedEntry & { status: string }> {
  const client = clientFor(logUrl, { timeoutMs: 30_000, ...opts });
  const e = await builderErrors(() => client.entry(index));
  return { ...decodeLeaf(e.leaf), status: e.status };
}

function clientFor(logUrl: string, opts: PublishOptions): LogClient {
  return new LogClient({
    url: logUrl,
    fetch: opts.fetch ?? globalThis.fetch,
    retries: opts.retries ?? 5,
    timeoutMs: opts.timeoutMs ?? 60_000,
    ...(opts.onRetry ? { onRetry: opts.onRetry } : {}),
  });
}

/** The log client's coded failures as the builder's codes (same evidence). */
async function builderErrors<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (!isVerifierError(e) || !e.code.startsWith('LOG_')) throw e;
    const code =
      e.code === 'LOG_UNAVAILABLE'
        ? 'PUBLISH_UNREACHABLE'
        : e.code === 'LOG_REFUSED'
          ? 'PUBLISH_REFUSED'
          : 'PUBLISH_BAD_ANSWER';
    throw new BuilderError(code, e.message.replace(/^[A-Z_]+: /, ''), e.evidence, { cause: e });
  }
}

function bad(message: string, evidence: Record<string, unknown> = {}): BuilderError {
  return new BuilderError('PUBLISH_BAD_ANSWER', message, evidence);
}

/** The bundle's `publicKey.hint` (the SHA-256 of its key's SPKI), if it names one. */
function hintOf(bundle: BundleJson): string | undefined {
  const hint = (bundle as { verificationMaterial?: { publicKey?: { hint?: unknown } } }).verificationMaterial?.publicKey
    ?.hint;
  return typeof hint === 'string' ? hint.toLowerCase() : undefined;
}

/**
 * Checks the log's answer is the entry of what was submitted. Returns null when the logged
 * envelope is the one sent; for a duplicate, the logged envelope when it is the same statement
 * (payload type and bytes) signed by the same key (its signature checked by decodeLeaf), which is
 * all a second signature over the same statement may differ in; anything else is refused.
 */
function checkAnswer(a: AddEntryAnswer, envelope: unknown, hint: string | undefined): EnvelopeJson | null {
  const tle = a.transparencyLogEntry;
  if (!Number.isSafeInteger(a.index) || typeof a.leafHash !== 'string' || typeof tle !== 'object' || tle === null)
    throw bad('the log answer lacks index, leafHash or transparencyLogEntry');
  let body: Uint8Array;
  try {
    body = fromBase64(tle.canonicalizedBody as string);
  } catch {
    throw bad('transparencyLogEntry.canonicalizedBody is not base64');
  }
  const logged = decodeLeaf(body);
  const sent = envelope as { payloadType?: unknown; payload?: unknown };
  const same = canonicalize(logged.envelope) === canonicalize(envelope);
  const sameStatement =
    a.duplicate === true &&
    hint !== undefined &&
    logged.signer.spkiSha256 === hint &&
    logged.envelope.payloadType === sent.payloadType &&
    logged.envelope.payload === sent.payload;
  if (!same && !sameStatement)
    throw bad('the log answered with a different envelope than the one submitted', { index: a.index });
  if (toHex(hashLeaf(body)) !== a.leafHash)
    throw bad('leafHash is not the hash of the logged body', { leafHash: a.leafHash });
  if (tle.logIndex !== String(a.index))
    throw bad('transparencyLogEntry.logIndex differs from index', { index: a.index, logIndex: tle.logIndex });
  return same ? null : logged.envelope;
}
