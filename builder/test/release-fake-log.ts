/**
 * An in-process Keycast log behind a `fetch` function, for the release tests: POST
 * /add-entry admits with the verifier's verifyEntryBundle, deduplicates by leaf hash, appends to
 * a MemoryTree, signs a C2SP checkpoint and answers with buildTransparencyLogEntry; GET
 * /entry/N returns the leaf. `tamper` lets a test make it lie.
 */
import { parseVerifierKey, verifyEntryBundle, isVerifierError } from '#verifier';
import {
  MemoryTree,
  generateNoteKey,
  noteSigner,
  signNote,
  formatCheckpoint,
  proveInclusion,
  buildTransparencyLogEntry,
  hashLeaf,
  toHex,
  toBase64,
  type TleJson,
} from '#verifier/build';

export class FakeLog {
  readonly tree = new MemoryTree();
  readonly origin = 'log.keycast.test/fake';
  readonly vkey: string;
  readonly publicKey: Uint8Array;
  readonly url = 'https://log.keycast.test/fake';
  requests = 0;
  /** Answer the next N requests with 503 first. */
  busy = 0;
  tamper?: (answer: { index: number; leafHash: string; transparencyLogEntry: TleJson }) => void;
  private readonly skey: string;
  private readonly byHash = new Map<string, number>();

  constructor(
    readonly allowedSigners: string[],
    readonly allowedRebuilders: string[] = [],
  ) {
    const k = generateNoteKey(this.origin);
    this.skey = k.skey;
    this.vkey = k.vkey;
    this.publicKey = parseVerifierKey(k.vkey).publicKey;
    this.tree.append(Buffer.from('genesis'));
  }

  readonly fetch = (async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    this.requests++;
    const url = new URL(String(input));
    if (this.busy > 0) {
      this.busy--;
      return new Response('{}', { status: 503, headers: { 'retry-after': '0' } });
    }
    const entry = /^\/fake\/entry\/(\d+)$/.exec(url.pathname);
    if (entry && (init?.method ?? 'GET') === 'GET') {
      const i = Number(entry[1]);
      if (i >= this.tree.size) return json(404, { error: 'LogError', code: 'NOT_FOUND', message: 'no entry' });
      return json(200, { index: i, leaf: toBase64(this.tree.entry(i)), kind: 'release', status: 'active' });
    }
    if (url.pathname !== '/fake/add-entry' || init?.method !== 'POST') return json(404, { code: 'NOT_FOUND' });
    try {
      return json(200, this.add(String(init.body)));
    } catch (e) {
      if (isVerifierError(e)) return json(e.code === 'SIGNER_NOT_ALLOWED' ? 403 : 422, e.toJSON());
      throw e;
    }
  }) as typeof fetch;

  private add(body: string) {
    const d = verifyEntryBundle(body, {
      allowedSigners: this.allowedSigners,
      allowedRebuilders: this.allowedRebuilders,
      lookupLeaf: (i) => (i < this.tree.size ? this.tree.entry(i) : undefined),
    });
    const leafHash = toHex(hashLeaf(d.leaf));
    const index = this.byHash.get(leafHash) ?? this.tree.append(d.leaf);
    const duplicate = this.byHash.has(leafHash);
    this.byHash.set(leafHash, index);
    const size = this.tree.size;
    const rootHash = this.tree.root();
    const note = signNote(formatCheckpoint({ origin: this.origin, size, rootHash, extensions: [] }), [
      noteSigner(this.skey),
    ]);
    const transparencyLogEntry = buildTransparencyLogEntry({
      index,
      origin: this.origin,
      logPublicKey: this.publicKey,
      leaf: d.leaf,
      proof: proveInclusion(index, size, this.tree.hashReader()),
      checkpointNote: note,
      rootHash,
      treeSize: size,
    });
    const answer = { index, leafHash, duplicate, transparencyLogEntry };
    this.tamper?.(answer);
    return answer;
  }
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
}
