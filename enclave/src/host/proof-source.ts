/**
 * Where the host gets the enclave's proof bundle: a small interface, so the fetching can move
 * to the shared verifying log client when it lands, and one implementation over an injected
 * `fetch` against a Keycast log's HTTP API:
 *
 *   GET /lookup/pcr0/<pcr0>                → { index, entry, proof }   (404: not logged → null)
 *   GET /status/<index>?size=<n>           → the signed status at the proof's tree size n
 *   GET /proof/consistency?old=<h>&new=<n> → hashes from the size the enclave holds (when 0 < h < n)
 *
 * The host checks nothing for trust — the enclave's gate does — but refuses answers of the
 * wrong shape or size (LOG_UNREACHABLE) so garbage is not forwarded.
 */
import { fromBase64, parseCheckpoint, parseTlogProof, splitNote, type ProofBundle } from '#verifier';
import { EnclaveError } from '../errors.ts';

export interface ProofSource {
  /** The newest bundle for this PCR0 extending a held tree of `heldSize` (null: none held); null when not logged. */
  bundleFor(pcr0: string, heldSize: number | null): Promise<ProofBundle | null>;
}

export type Fetch = (url: string, init?: { signal?: AbortSignal }) => Promise<Response>;

const MAX_ANSWER_BYTES = 512 * 1024;

export class LogProofSource implements ProofSource {
  private readonly base: string;

  constructor(logUrl: string, private readonly fetchFn: Fetch = fetch, private readonly timeoutMs = 10_000) {
    this.base = logUrl.replace(/\/+$/, '');
  }

  private async get(path: string): Promise<{ status: number; text: string }> {
    let r: Response;
    try {
      r = await this.fetchFn(`${this.base}${path}`, { signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (e) {
      throw new EnclaveError('LOG_UNREACHABLE', `the log did not answer ${path.split('?')[0]}`, { path: path.split('?')[0], reason: (e as Error).name });
    }
    const buf = new Uint8Array(await r.arrayBuffer());
    if (buf.length > MAX_ANSWER_BYTES) throw new EnclaveError('LOG_UNREACHABLE', 'the log answered too much', { path: path.split('?')[0], size: buf.length });
    return { status: r.status, text: Buffer.from(buf).toString('utf8') };
  }

  async bundleFor(pcr0: string, heldSize: number | null): Promise<ProofBundle | null> {
    if (!/^[0-9a-f]{96}$/.test(pcr0)) throw new TypeError('pcr0 must be 96 lowercase hex digits');
    const l = await this.get(`/lookup/pcr0/${pcr0}`);
    if (l.status === 404) return null;
    if (l.status !== 200) throw new EnclaveError('LOG_UNREACHABLE', `the log answered ${l.status} to a lookup`, { status: l.status });
    let index: number, entry: Uint8Array, proof: string, size: number;
    try {
      const a = JSON.parse(l.text) as { index: number; entry: string; proof: string };
      index = a.index;
      entry = fromBase64(a.entry);
      proof = a.proof;
      size = parseCheckpoint(splitNote(parseTlogProof(proof).checkpoint).text).size;
      if (!Number.isSafeInteger(index) || index < 0) throw new Error('index');
    } catch {
      throw new EnclaveError('LOG_UNREACHABLE', 'the log answered a malformed lookup');
    }
    const s = await this.get(`/status/${index}?size=${size}`);
    if (s.status !== 200) throw new EnclaveError('LOG_UNREACHABLE', `the log answered ${s.status} to a status request`, { status: s.status });
    const bundle: ProofBundle = { entry, proof, status: s.text };
    if (heldSize !== null && heldSize > 0 && heldSize < size) {
      const c = await this.get(`/proof/consistency?old=${heldSize}&new=${size}`);
      if (c.status !== 200) throw new EnclaveError('LOG_UNREACHABLE', `the log answered ${c.status} to a consistency request`, { status: c.status });
      try {
        const hashes = (JSON.parse(c.text) as { hashes: string[] }).hashes.map((h) => fromBase64(h));
        bundle.consistency = { fromSize: heldSize, hashes };
      } catch {
        throw new EnclaveError('LOG_UNREACHABLE', 'the log answered a malformed consistency proof');
      }
    } else if (heldSize !== null && heldSize === size) {
      bundle.consistency = { fromSize: heldSize, hashes: [] };
    }
    return bundle;
  }
}
