/**
 * The test kit (`#test-kit`, on the ground floor so every folder's tests and the benchmarks share one):
 * a whole trust world built from the verifier's own primitives: an in-memory log with
 * its note key, cosigning witnesses with their own clocks, a release publisher key, release
 * and revocation leaves, and the proof bundles a host would hand the enclave (tlog-proof,
 * signed status, consistency proof), each variable an attacker or a slow host could vary.
 */
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { parseBundle, parseTrustedKey, type EnclaveConfig, type ProofBundle } from '../index.ts';
import {
  MemoryTree,
  generateNoteKey,
  noteSigner,
  signNote,
  formatCheckpoint,
  proveInclusion,
  proveConsistency,
  formatTlogProof,
  cosignatureSigner,
  cosignatureVerifierKey,
  signReleaseStatus,
  encodeLeaf,
  dssePae,
  IN_TOTO_PAYLOAD_TYPE,
  type NoteSigner,
} from '../build.ts';

export const ORIGIN = 'log.keycast.test/releases';
const sha384 = (s: string): string => createHash('sha384').update(s).digest('hex');

export interface Measured {
  pcr0: string;
  pcr1: string;
  pcr2: string;
  pcr8?: string;
}

export function measurements(seed: string): Measured {
  return { pcr0: sha384(`pcr0/${seed}`), pcr1: sha384(`pcr1/${seed}`), pcr2: sha384(`pcr2/${seed}`) };
}

/** The PCR map an NSM would report for an image with these measurements. */
export function pcrMap(m: Measured | 'debug'): Map<number, Uint8Array> {
  const z = new Uint8Array(48);
  const h = (s: string | undefined): Uint8Array => (s === undefined ? z : Uint8Array.from(Buffer.from(s, 'hex')));
  if (m === 'debug')
    return new Map([
      [0, z],
      [1, z],
      [2, z],
      [3, h(sha384('role'))],
      [4, h(sha384('i-0'))],
      [8, z],
    ]);
  return new Map([
    [0, h(m.pcr0)],
    [1, h(m.pcr1)],
    [2, h(m.pcr2)],
    [3, z],
    [4, h(sha384('i-0'))],
    [8, h(m.pcr8)],
  ]);
}

export interface Publisher {
  priv: KeyObject;
  pem: string;
}

export function newPublisher(): Publisher {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { priv: privateKey, pem: publicKey.export({ format: 'pem', type: 'spki' }).toString() };
}

function leafOf(statement: unknown, p: Publisher): Uint8Array {
  const payload = Buffer.from(JSON.stringify(statement));
  const hint = createHash('sha256')
    .update(parseTrustedKey(p.pem).key.export({ format: 'der', type: 'spki' }))
    .digest('hex');
  const bundle = {
    mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
    verificationMaterial: { publicKey: { hint }, tlogEntries: [] },
    dsseEnvelope: {
      payload: payload.toString('base64'),
      payloadType: IN_TOTO_PAYLOAD_TYPE,
      signatures: [{ sig: sign('sha256', dssePae(IN_TOTO_PAYLOAD_TYPE, payload), p.priv).toString('base64') }],
    },
  };
  return encodeLeaf(parseBundle(JSON.stringify(bundle)), parseTrustedKey(p.pem));
}

export function releaseStatement(m: Measured): unknown {
  const eif = createHash('sha256').update(m.pcr0).digest('hex');
  return {
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ name: 'enclave.eif', digest: { sha256: eif } }],
    predicateType: 'https://keycast.dev/release/v1',
    predicate: {
      eif: { sha256: eif },
      measurements: m,
      source: { repo: 'https://github.com/keycast/demo-enclave', commit: 'c'.repeat(40) },
      lock: { sha256: 'f'.repeat(64) },
      builder: { version: 'keycast-0.1.0' },
    },
  };
}

export interface BundleOptions {
  /** tree size the proof speaks for (default: the whole tree) */
  size?: number;
  /** how many witnesses cosign (default all) */
  witnesses?: number;
  /** cosignature time, Unix seconds (default world.now) */
  cosignedAt?: number;
  /** tree size the status statement speaks for (default: the proof's size) */
  statusSize?: number;
  /** sign the checkpoint with this key instead of the log's */
  checkpointSigner?: NoteSigner;
  /** a consistency proof from this size (default none) */
  fromSize?: number;
  /** tamper with the inclusion proof */
  breakInclusion?: boolean;
}

export class GateWorld {
  readonly tree = new MemoryTree();
  readonly log = generateNoteKey(ORIGIN);
  readonly witnessKeys = [generateNoteKey('witness-a.keycast.test'), generateNoteKey('witness-b.keycast.test')];
  readonly publisher = newPublisher();
  readonly revokedBy = new Map<number, number>();
  readonly pcr0s: string[] = [];
  now = Math.floor(Date.now() / 1000);

  constructor(fillers = 2) {
    for (let i = 0; i < fillers; i++) this.append(new TextEncoder().encode(`filler-${i}`), '0'.repeat(96));
  }

  config(over: Partial<EnclaveConfig> = {}): EnclaveConfig {
    return {
      version: 1,
      log: { origin: ORIGIN, vkey: this.log.vkey },
      witnesses: { vkeys: this.witnessKeys.map((w) => cosignatureVerifierKey(w.skey)), threshold: 2 },
      maxCheckpointAgeSeconds: 600,
      publishers: [this.publisher.pem],
      kms: {
        keyArn: 'arn:aws:kms:us-east-1:111122223333:key/0f5b2c3e-1111-2222-3333-444455556666',
        region: 'us-east-1',
      },
      ...over,
    };
  }

  private append(leaf: Uint8Array, pcr0: string): number {
    this.pcr0s.push(pcr0);
    return this.tree.append(leaf);
  }

  /** Logs a leaf made elsewhere (e.g. a keyless release) for PCR0 `pcr0`; returns its index. */
  publishLeaf(leaf: Uint8Array, pcr0: string): number {
    return this.append(leaf, pcr0);
  }

  /** Logs a release of `m`, signed by `by` (default the pinned publisher); returns its index. */
  publish(m: Measured, by: Publisher = this.publisher): number {
    return this.append(leafOf(releaseStatement(m), by), m.pcr0);
  }

  revoke(index: number): number {
    const pcr0 = this.pcr0s[index]!;
    const at = this.append(
      leafOf(
        {
          _type: 'https://in-toto.io/Statement/v1',
          subject: [{ name: 'pcr0', digest: { sha384: pcr0 } }],
          predicateType: 'https://keycast.dev/revocation/v1',
          predicate: { revokes: { logIndex: index, pcr0 }, reason: 'test revocation' },
        },
        this.publisher,
      ),
      pcr0,
    );
    this.revokedBy.set(index, at);
    return at;
  }

  checkpointNote(size: number, o: BundleOptions = {}): string {
    const cosigners = this.witnessKeys
      .slice(0, o.witnesses ?? this.witnessKeys.length)
      .map((w) => cosignatureSigner(w.skey, () => o.cosignedAt ?? this.now));
    const text = formatCheckpoint({ origin: ORIGIN, size, rootHash: this.tree.root(size), extensions: [] });
    return signNote(text, [o.checkpointSigner ?? noteSigner(this.log.skey), ...cosigners]);
  }

  statusNote(index: number, size: number): string {
    const by = this.revokedBy.get(index);
    return signReleaseStatus(
      {
        origin: ORIGIN,
        treeSize: size,
        rootHash: this.tree.root(size),
        index,
        pcr0: this.pcr0s[index]!,
        status: by !== undefined && by < size ? { state: 'revoked', revokedBy: by } : { state: 'active' },
      },
      noteSigner(this.log.skey),
    );
  }

  bundle(index: number, o: BundleOptions = {}): ProofBundle {
    const size = o.size ?? this.tree.size;
    const proof = proveInclusion(index, size, this.tree.hashReader());
    if (o.breakInclusion && proof.length > 0) proof[0] = new Uint8Array(32).fill(9);
    const b: ProofBundle = {
      entry: this.tree.entry(index),
      proof: formatTlogProof({ index, proof, checkpoint: this.checkpointNote(size, o) }),
      status: this.statusNote(index, o.statusSize ?? size),
    };
    if (o.fromSize !== undefined)
      b.consistency = {
        fromSize: o.fromSize,
        hashes: o.fromSize === size ? [] : proveConsistency(o.fromSize, size, this.tree.hashReader()),
      };
    return b;
  }
}
