/**
 * The one reader (and writer) of a Keycast log, over an injected `fetch` (transport.ts: byte
 * caps, timeouts, reported retries, content types). Every answer that can be verified is
 * verified before it is returned, against the log key the caller pins:
 *
 *   GET  checkpoint                      → opened under the log key (+ witness policy, freshness)
 *   GET  tile/<L>/<N>[.p/<W>]            → checked against a checkpoint (checkTile)
 *   GET  tile/entries/<N>[.p/<W>]        → checked against its level-0 tile (checkEntryBundle)
 *   GET  proof/inclusion?index=&size=    → checked against a checkpoint root
 *   GET  proof/consistency?old=&new=     → checked between two checkpoints (consistencyProof), or
 *                                          shape-checked from a size held without its root (consistencyFrom)
 *   GET  entry/<i>                       → shape-checked; inclusion checked when given a checkpoint
 *   GET  status/<i>?size=<n>             → the signed release-status note, opened under the log key,
 *                                          for exactly that checkpoint's tree and that release
 *                                          (statusNote: the exact note text, parsed only when no key is pinned)
 *   GET  lookup/{pcr0,eif,commit}/<hex>  → shape-checked (lookup), or fully verified (loggedPcr0)
 *   POST add-entry                       → shape-checked (the caller checks it is about its entry)
 *
 * Release status (`active` / `revoked`, `revokedBy`) is the log's statement on entry/ and lookup/
 * answers; revocations are themselves logged entries that a monitor can read from the bundles.
 * New endpoints are one method each over the private get/post primitives.
 */
import { VerifierError } from '../errors.ts';
import { bytesEqual, fromBase64, toHex } from '../encoding/bytes.ts';
import { HASH_SIZE, hashLeaf, sha256 } from '../tlog/hash.ts';
import { MAX_MANIFEST_BYTES } from '../delivery/entry.ts';
import { checkConsistencyToRoot, checkInclusion } from '../tlog/verify.ts';
import { checkTile, tileHashReader, tileWidthInTree } from '../tlog/tile-math.ts';
import { TILE_WIDTH, entriesPath, tilePath, type Tile } from '../tlog/tile-path.ts';
import { MAX_ENTRY_SIZE, checkEntryBundle } from '../tlog/entry-bundle.ts';
import type { HashReader } from '../tlog/prove.ts';
import { MAX_NOTE_BYTES } from '../note/note.ts';
import { noteVerifier, parseVerifierKey, type NoteVerifier } from '../note/keys.ts';
import type { Checkpoint } from '../tlog/checkpoint.ts';
import { checkCheckpointConsistency } from '../tlog/checkpoint-consistency.ts';
import type { WitnessPolicy } from '../note/cosignature.ts';
import { openWitnessedCheckpoint, type WitnessedCheckpoint } from '../tlog/witnessed-checkpoint.ts';
import { MAX_LEAF_BYTES } from '../release/leaf.ts';
import { verifyLoggedPcr0, notLogged, type LoggedRelease } from '../attestation/logged.ts';
import { openReleaseStatus, parseReleaseStatus, type ReleaseStatus as SignedStatus } from '../release/status.ts';
import { splitNote } from '../note/note.ts';
import { request, type RequestSpec, type TransportOptions } from './transport.ts';

export interface LogClientOptions extends TransportOptions {
  /** The log's base URL (paths are resolved under it, so a path prefix is kept). */
  url: string | URL;
  /** The log's pinned note verifier key (vkey); every verifying method needs it. */
  logKey?: string;
  /** The checkpoint origin to require (default: the key's name, as Keycast logs use). */
  origin?: string;
  /** Witness quorum every checkpoint must meet. */
  witnessPolicy?: Omit<WitnessPolicy, 'now'>;
  /** The freshest policy cosignature must be at most this old (needs witnessPolicy). */
  maxAgeSeconds?: number;
  /** Unix seconds (default: the system clock). */
  now?: () => number;
}

export type LookupField = 'pcr0' | 'eif' | 'commit';
export type ReleaseStatus = 'active' | 'revoked';

/** GET entry/<i>: the leaf and the log's statement of its status. */
export interface LogEntry {
  index: number;
  leaf: Uint8Array;
  kind: string;
  status: ReleaseStatus;
  revokedBy?: number;
}

/** GET lookup/<field>/<hex>, shape-checked but not verified (for forwarding to a verifier). */
export interface LookupAnswer {
  index: number;
  status: ReleaseStatus;
  /** base64 leaf */
  entry: string;
  /** c2sp.org/tlog-proof@v1 text */
  proof: string;
  revokedBy?: number;
}

/** POST add-entry's answer, shape-checked. */
export interface AddEntryAnswer {
  index: number;
  leafHash: string;
  duplicate: boolean;
  transparencyLogEntry: Record<string, unknown>;
}

const JSON_TYPES = ['application/json'];
const TEXT_TYPES = ['text/plain'];
const OCTETS = ['application/octet-stream'];
/** Caps per answer. JSON answers carry at most one leaf (base64) and one tlog-proof. */
const CAP = {
  checkpoint: MAX_NOTE_BYTES,
  tile: TILE_WIDTH * HASH_SIZE,
  entryBundle: TILE_WIDTH * (2 + MAX_ENTRY_SIZE),
  entry: 4 * 1024 + Math.ceil(MAX_LEAF_BYTES / 3) * 4,
  lookup: 4 * 1024 + Math.ceil(MAX_LEAF_BYTES / 3) * 4 + 2 * MAX_NOTE_BYTES,
  proof: 16 * 1024,
  addEntry: 1 << 20,
} as const;

/** A tile the sync tile reader asked for that has not been fetched yet. */
class MissingTile {
  constructor(readonly tile: Tile) {}
}

export class LogClient {
  readonly url: URL;
  readonly origin: string | undefined;
  private readonly verifier: NoteVerifier | undefined;

  constructor(private readonly o: LogClientOptions) {
    const base = String(o.url);
    this.url = new URL(base.endsWith('/') ? base : `${base}/`);
    if (o.logKey !== undefined) {
      this.verifier = noteVerifier(o.logKey);
      this.origin = o.origin ?? parseVerifierKey(o.logKey).name;
    } else {
      this.origin = o.origin;
    }
    if (o.maxAgeSeconds !== undefined && o.witnessPolicy === undefined)
      throw new TypeError('maxAgeSeconds needs a witnessPolicy');
  }

  /** The latest checkpoint, opened under the pinned key and checked against the witness policy. */
  async checkpoint(): Promise<WitnessedCheckpoint> {
    const { body } = await this.get('checkpoint', { cap: CAP.checkpoint, accept: TEXT_TYPES });
    return this.openCheckpoint(body);
  }

  /** Opens a checkpoint note obtained elsewhere (e.g. from a tlog-proof) by this client's rules. */
  openCheckpoint(note: string | Uint8Array): WitnessedCheckpoint {
    const now = (this.o.now ?? (() => Date.now() / 1000))();
    return openWitnessedCheckpoint(note, {
      logVerifier: this.needKey(),
      origin: this.origin!,
      now,
      ...(this.o.witnessPolicy ? { witnessPolicy: this.o.witnessPolicy } : {}),
      ...(this.o.maxAgeSeconds === undefined ? {} : { maxAgeSeconds: this.o.maxAgeSeconds }),
    });
  }

  /**
   * Hash tile (level, index) at the width it has in `cp`'s tree, verified against `cp`'s root
   * (the other hashes needed come from further tiles, which the check authenticates too).
   */
  async tile(level: number, index: number, cp: Checkpoint | WitnessedCheckpoint): Promise<Uint8Array> {
    const c = checkpointOf(cp);
    const t = { level, index, width: tileWidthInTree(level, index, c.size) };
    if (t.width === 0) throw new RangeError(`tile ${level}/${index} is not in a tree of size ${c.size}`);
    const tiles = new Map<string, Uint8Array>();
    return this.withTiles(c.size, tiles, (read) => {
      const data = read.tile(t);
      checkTile(t, data, c, read.hashes);
      return data;
    });
  }

  /** The entries of bundle `index` at the width it has in `cp`'s tree, each checked against its verified level-0 tile. */
  async entryBundle(index: number, cp: Checkpoint | WitnessedCheckpoint): Promise<Uint8Array[]> {
    const c = checkpointOf(cp);
    const width = tileWidthInTree(0, index, c.size);
    if (width === 0) throw new RangeError(`entry bundle ${index} is not in a tree of size ${c.size}`);
    const [tile, { body }] = await Promise.all([
      this.tile(0, index, c),
      this.get(entriesPath(index, width), { cap: CAP.entryBundle, accept: OCTETS }),
    ]);
    return checkEntryBundle(body, tile);
  }

  /** GET proof/inclusion for `leafHash` at `index`, verified against `cp`'s root. */
  async inclusionProof(
    index: number,
    leafHash: Uint8Array,
    cp: Checkpoint | WitnessedCheckpoint,
  ): Promise<Uint8Array[]> {
    const c = checkpointOf(cp);
    const j = await this.getJson(`proof/inclusion?index=${index}&size=${c.size}`, CAP.proof);
    if (j.index !== index || j.treeSize !== c.size)
      this.invalid('proof/inclusion', 'the proof is for another index or size', { index, size: c.size });
    const proof = this.hashes(j.hashes, 'proof/inclusion');
    checkInclusion(proof, index, c.size, leafHash, c.rootHash);
    return proof;
  }

  /** GET proof/consistency between two checkpoints of this log, verified (a fork is INCONSISTENT with both notes as evidence). */
  async consistencyProof(
    older: Checkpoint | WitnessedCheckpoint,
    newer: Checkpoint | WitnessedCheckpoint,
  ): Promise<Uint8Array[]> {
    const a = checkpointOf(older);
    const b = checkpointOf(newer);
    let proof: Uint8Array[] = [];
    if (a.size > 0 && a.size < b.size) {
      const j = await this.getJson(`proof/consistency?old=${a.size}&new=${b.size}`, CAP.proof);
      if (j.old !== a.size || j.new !== b.size)
        this.invalid('proof/consistency', 'the proof is for other sizes', { old: a.size, new: b.size });
      proof = this.hashes(j.hashes, 'proof/consistency');
    }
    checkCheckpointConsistency(proof, a, b, { ...noteOf(older), ...noteOf(newer, 'newer') });
    return proof;
  }

  /**
   * GET entry/<index>. With a checkpoint, the leaf's inclusion at `index` is verified against it
   * (one more request); its status is the log's statement either way.
   */
  async entry(index: number, cp?: Checkpoint | WitnessedCheckpoint): Promise<LogEntry> {
    const j = await this.getJson(`entry/${index}`, CAP.entry);
    if (j.index !== index || typeof j.leaf !== 'string' || typeof j.kind !== 'string')
      this.invalid(`entry/${index}`, 'not { index, leaf, kind, status }', { index });
    const out: LogEntry = {
      index,
      leaf: this.base64(j.leaf, `entry/${index}`),
      kind: j.kind as string,
      ...this.status(j, `entry/${index}`),
    };
    if (cp !== undefined) await this.inclusionProof(index, hashLeaf(out.leaf), cp);
    return out;
  }

  /** Whether a log key is pinned (the signature-checking methods need one). */
  get pinned(): boolean {
    return this.verifier !== undefined;
  }

  /**
   * GET status/<index>?size=<n>: the log's signed statement of release `index`'s status in `cp`'s
   * tree (n = cp.size), opened under the pinned key and origin. STATUS_TREE_MISMATCH when it
   * speaks for another tree, STATUS_MISMATCH for another release; a "revoked" statement is
   * returned (the caller decides: requireActiveStatus refuses it).
   */
  async signedStatus(
    index: number,
    cp: Checkpoint | WitnessedCheckpoint,
  ): Promise<{ status: SignedStatus; note: string }> {
    this.needKey();
    const { status, note } = await this.statusNote(index, cp);
    return { status, note };
  }

  /**
   * The same statement as its exact note text (what a gate bundle carries), checked as
   * signedStatus does when a key is pinned; without one (a forwarder whose verifier holds the
   * key) only parsed, and still required to speak for `cp`'s origin, tree and release.
   * `verified` says which.
   */
  async statusNote(
    index: number,
    cp: Checkpoint | WitnessedCheckpoint,
  ): Promise<{ status: SignedStatus; note: string; verified: boolean }> {
    const c = checkpointOf(cp);
    const path = `status/${index}?size=${c.size}`;
    const { body } = await this.get(path, { cap: CAP.checkpoint, accept: TEXT_TYPES });
    const verified = this.verifier !== undefined;
    const s = verified
      ? openReleaseStatus(body, this.verifier!, this.origin)
      : parseReleaseStatus(splitNote(body).text);
    const note = new TextDecoder().decode(body);
    if (s.origin !== c.origin || s.treeSize !== c.size || !bytesEqual(s.rootHash, c.rootHash)) {
      throw new VerifierError(
        'STATUS_TREE_MISMATCH',
        `the status for ${path} speaks for tree ${s.treeSize}, not the checkpoint's ${c.size}`,
        { statusSize: s.treeSize, statusRoot: s.rootHash, checkpointSize: c.size, checkpointRoot: c.rootHash, note },
      );
    }
    if (s.index !== index)
      throw new VerifierError('STATUS_MISMATCH', `the status is for release ${s.index}, not ${index}`, {
        statusIndex: s.index,
        index,
        note,
      });
    return { status: s, note, verified };
  }

  /**
   * GET proof/consistency from a tree the caller knows only by size (`fromSize`, e.g. the tree an
   * enclave holds) to `cp`'s: the sizes must be echoed, and the proof is checked as far as it can
   * be without the old root (checkConsistencyToRoot: its length, and that it leads to `cp`'s root
   * unless `fromSize` is a power of two); whoever holds the old root checks the rest. Empty (no
   * request) when the sizes are equal.
   */
  async consistencyFrom(fromSize: number, cp: Checkpoint | WitnessedCheckpoint): Promise<Uint8Array[]> {
    const c = checkpointOf(cp);
    if (!Number.isSafeInteger(fromSize) || fromSize < 1 || fromSize > c.size)
      throw new RangeError(`no consistency proof from size ${fromSize} to ${c.size}`);
    if (fromSize === c.size) return [];
    const path = `proof/consistency?old=${fromSize}&new=${c.size}`;
    const j = await this.getJson(path, CAP.proof);
    if (j.old !== fromSize || j.new !== c.size)
      this.invalid('proof/consistency', 'the proof is for other sizes', { old: fromSize, new: c.size });
    const proof = this.hashes(j.hashes, 'proof/consistency');
    checkConsistencyToRoot(proof, fromSize, c.size, c.rootHash);
    return proof;
  }

  /**
   * Every leaf from `from` up to `cp`'s size, in order, read through the entry bundles (each
   * checked against its level-0 tile, which is checked against `cp`). `onBundle` reports progress.
   */
  async *entries(
    from: number,
    cp: Checkpoint | WitnessedCheckpoint,
    onBundle?: (done: number, total: number) => void,
  ): AsyncGenerator<{ index: number; leaf: Uint8Array }> {
    const c = checkpointOf(cp);
    for (let b = Math.floor(from / TILE_WIDTH); b * TILE_WIDTH < c.size; b++) {
      const leaves = await this.entryBundle(b, c);
      onBundle?.(Math.min((b + 1) * TILE_WIDTH, c.size), c.size);
      for (let i = 0; i < leaves.length; i++) {
        const index = b * TILE_WIDTH + i;
        if (index >= from) yield { index, leaf: leaves[i]! };
      }
    }
  }

  /** The log's statement of entry `index`'s status (GET entry/<index>). */
  async releaseStatus(index: number): Promise<{ index: number; status: ReleaseStatus; revokedBy?: number }> {
    const e = await this.entry(index);
    return { index, status: e.status, ...(e.revokedBy === undefined ? {} : { revokedBy: e.revokedBy }) };
  }

  /** GET lookup/<field>/<hex>, shape-checked, not verified; null when the log has no such release. */
  async lookup(field: LookupField, hex: string): Promise<LookupAnswer | null> {
    if (!/^[0-9a-fA-F]+$/.test(hex)) throw new TypeError('lookup: not a hex value');
    const path = `lookup/${field}/${hex.toLowerCase()}`;
    const j = await this.getJson(path, CAP.lookup, [404]);
    if (j === null) return null;
    if (!Number.isSafeInteger(j.index) || typeof j.entry !== 'string' || typeof j.proof !== 'string')
      this.invalid(path, 'not { index, status, entry, proof }', {});
    return { index: j.index as number, entry: j.entry as string, proof: j.proof as string, ...this.status(j, path) };
  }

  /**
   * Proves `pcr0` is a logged, unrevoked release (verifyLoggedPcr0 under the pinned key and
   * witness policy). RELEASE_NOT_LOGGED when the log has none; RELEASE_REVOKED when it says so.
   */
  async loggedPcr0(pcr0: Uint8Array): Promise<LoggedRelease> {
    const answer = await this.lookup('pcr0', toHex(pcr0));
    if (answer === null) throw notLogged(pcr0, this.url.href.replace(/\/$/, ''));
    const now = (this.o.now ?? (() => Date.now() / 1000))();
    return verifyLoggedPcr0(answer, pcr0, {
      logVerifier: this.needKey(),
      origin: this.origin!,
      now,
      ...(this.o.witnessPolicy ? { witnessPolicy: this.o.witnessPolicy } : {}),
      ...(this.o.maxAgeSeconds === undefined ? {} : { maxAgeSeconds: this.o.maxAgeSeconds }),
    });
  }

  /**
   * POST add-entry with a Sigstore bundle (JSON text). Resolves once the log has durably
   * integrated it; shape-checked only — the caller checks the answer is about its entry
   * (the builder's publishRelease does). Safe to retry: a duplicate gets its existing index.
   */
  async addEntry(bundleJson: string): Promise<AddEntryAnswer> {
    const { body } = await this.post('add-entry', bundleJson, { cap: CAP.addEntry, accept: JSON_TYPES });
    const j = this.json(body, 'add-entry');
    const tle = j.transparencyLogEntry;
    if (
      !Number.isSafeInteger(j.index) ||
      typeof j.leafHash !== 'string' ||
      typeof tle !== 'object' ||
      tle === null ||
      Array.isArray(tle)
    ) {
      this.invalid('add-entry', 'the answer lacks index, leafHash or transparencyLogEntry', {});
    }
    return {
      index: j.index as number,
      leafHash: j.leafHash as string,
      duplicate: j.duplicate === true,
      transparencyLogEntry: tle as Record<string, unknown>,
    };
  }

  /**
   * GET delivery-manifest/<sha256>: the sealed manifest a delivery entry names, checked against
   * its digest (LOG_RESPONSE_INVALID otherwise); null when the log has none (404).
   */
  async deliveryManifest(sha256Hex: string): Promise<Uint8Array | null> {
    if (!/^[0-9a-f]{64}$/.test(sha256Hex)) throw new TypeError('deliveryManifest: not a lowercase hex SHA-256');
    const path = `delivery-manifest/${sha256Hex}`;
    const r = await this.get(path, { cap: MAX_MANIFEST_BYTES, accept: OCTETS, pass: [404] });
    if (r.status === 404) return null;
    if (toHex(sha256(r.body)) !== sha256Hex) this.invalid(path, 'the manifest is not the one its digest names', {});
    return r.body;
  }

  /**
   * GET identity/<receiptKeySha256>: the index the log names for the identity entry registering
   * that receipt key, shape-checked only (fetch it with entry(index, cp) to verify); null on 404.
   */
  async identityIndex(receiptKeySha256: string): Promise<number | null> {
    if (!/^[0-9a-f]{64}$/.test(receiptKeySha256)) throw new TypeError('identityIndex: not a lowercase hex SHA-256');
    const path = `identity/${receiptKeySha256}`;
    const j = await this.getJson(path, CAP.proof, [404]);
    if (j === null) return null;
    if (!Number.isSafeInteger(j.index) || (j.index as number) < 0) this.invalid(path, 'not { index }', {});
    return j.index as number;
  }

  // ----- primitives: every request goes through get/post -----

  private get(path: string, spec: Omit<RequestSpec, 'method' | 'body' | 'contentType'>) {
    return request(this.o, new URL(path, this.url), spec);
  }

  private post(path: string, body: string, spec: Omit<RequestSpec, 'method' | 'body' | 'contentType'>) {
    return request(this.o, new URL(path, this.url), { ...spec, method: 'POST', body, contentType: 'application/json' });
  }

  private async getJson(path: string, cap: number): Promise<Record<string, unknown>>;
  private async getJson(path: string, cap: number, pass: number[]): Promise<Record<string, unknown> | null>;
  private async getJson(path: string, cap: number, pass: number[] = []): Promise<Record<string, unknown> | null> {
    const r = await this.get(path, { cap, accept: JSON_TYPES, pass });
    return r.status === 200 ? this.json(r.body, path) : null;
  }

  /**
   * Runs a check over a sync tile reader, fetching the tiles it asks for: each pass that hits
   * a missing tile fetches it and runs again (a check touches O(log size) tiles). Fetched tiles
   * are not trusted on their own; `fn` must verify what it reads against a checkpoint.
   */
  private async withTiles<T>(
    size: number,
    have: Map<string, Uint8Array>,
    fn: (read: { tile: (t: Tile) => Uint8Array; hashes: HashReader }) => T,
  ): Promise<T> {
    const tile = (t: Tile) => {
      const d = have.get(tilePath(t));
      if (d === undefined) throw new MissingTile(t);
      return d;
    };
    for (;;) {
      try {
        return fn({ tile, hashes: tileHashReader(size, tile) });
      } catch (e) {
        if (!(e instanceof MissingTile)) throw e;
        const path = tilePath(e.tile);
        const { body } = await this.get(path, { cap: CAP.tile, accept: OCTETS });
        if (body.length !== e.tile.width * HASH_SIZE) {
          throw new VerifierError(
            'TILE_MISMATCH',
            `tile ${path} has ${body.length} bytes, want ${e.tile.width * HASH_SIZE}`,
            { path, got: body.length, want: e.tile.width * HASH_SIZE },
          );
        }
        have.set(path, body);
      }
    }
  }

  private needKey(): NoteVerifier {
    if (this.verifier === undefined) throw new TypeError('this LogClient has no pinned log key (logKey)');
    return this.verifier;
  }

  private json(body: Uint8Array, path: string): Record<string, unknown> {
    let j: unknown;
    try {
      j = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
    } catch {
      this.invalid(path, 'not UTF-8 JSON', {});
    }
    if (typeof j !== 'object' || j === null || Array.isArray(j)) this.invalid(path, 'not a JSON object', {});
    return j as Record<string, unknown>;
  }

  private status(j: Record<string, unknown>, path: string): { status: ReleaseStatus; revokedBy?: number } {
    if (j.status !== 'active' && j.status !== 'revoked')
      this.invalid(path, 'status must be "active" or "revoked"', { status: String(j.status).slice(0, 40) });
    if (j.revokedBy !== undefined && !Number.isSafeInteger(j.revokedBy))
      this.invalid(path, 'revokedBy must be an integer', {});
    return {
      status: j.status as ReleaseStatus,
      ...(j.revokedBy === undefined ? {} : { revokedBy: j.revokedBy as number }),
    };
  }

  private base64(s: string, path: string): Uint8Array {
    try {
      return fromBase64(s);
    } catch {
      return this.invalid(path, 'not base64', {});
    }
  }

  private hashes(v: unknown, path: string): Uint8Array[] {
    if (!Array.isArray(v) || v.length > 64 || !v.every((h) => typeof h === 'string'))
      this.invalid(path, 'hashes must be a list of base64 strings', {});
    return (v as string[]).map((h) => this.base64(h, path));
  }

  private invalid(path: string, reason: string, evidence: Record<string, unknown>): never {
    throw new VerifierError('LOG_RESPONSE_INVALID', `the log's answer for ${path} is malformed: ${reason}`, {
      url: new URL(path, this.url).href,
      reason,
      ...evidence,
    });
  }
}

function checkpointOf(cp: Checkpoint | WitnessedCheckpoint): Checkpoint {
  return 'checkpoint' in cp ? cp.checkpoint : cp;
}

function noteOf(cp: Checkpoint | WitnessedCheckpoint, which: 'older' | 'newer' = 'older'): Record<string, string> {
  return 'note' in cp ? { [which]: cp.note } : {};
}
