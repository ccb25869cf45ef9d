/**
 * Reading one entry back from a Keycast log: GET <log>/entry/<index> answers
 * `{ index, leaf: base64, kind, status }`. The leaf is decoded and self-checked with the
 * verifier's decodeLeaf (signature under its embedded key, schema), so what we act on — e.g. the
 * PCR0 a revocation must name — is what that leaf's signer signed, not what the server claims.
 */
import { decodeLeaf, fromBase64, type DecodedEntry } from '#verifier';
import { BuilderError } from '../errors.ts';

export async function fetchEntry(logUrl: string, index: number, doFetch: typeof fetch = fetch): Promise<DecodedEntry & { status: string }> {
  const url = new URL(`entry/${index}`, logUrl.endsWith('/') ? logUrl : `${logUrl}/`);
  let res: Response;
  try {
    res = await doFetch(url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(30_000) });
  } catch (e) {
    throw new BuilderError('PUBLISH_UNREACHABLE', `could not reach ${url.href}: ${(e as Error).message}`, { url: url.href }, { cause: e });
  }
  const text = await res.text();
  if (res.status !== 200) throw new BuilderError('PUBLISH_REFUSED', `the log has no readable entry ${index} (HTTP ${res.status})`, { url: url.href, status: res.status, body: text.slice(0, 500) });
  let leaf: Uint8Array;
  let status: string;
  try {
    const j = JSON.parse(text) as { index?: unknown; leaf?: unknown; status?: unknown };
    if (j.index !== index || typeof j.leaf !== 'string') throw new TypeError('shape');
    leaf = fromBase64(j.leaf);
    status = typeof j.status === 'string' ? j.status : 'unknown';
  } catch {
    throw new BuilderError('PUBLISH_BAD_ANSWER', `the log's answer for entry ${index} is not {index, leaf}`, { url: url.href });
  }
  return { ...decodeLeaf(leaf), status };
}
