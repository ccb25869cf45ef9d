/**
 * Test fixtures for release entries: P-256 signer keys, Keycast statements, hand-made
 * Sigstore v0.3 DSSE bundles (the JSON shape @sigstore/sign's bundleToJSON produces), and a
 * tiny in-memory C2SP log built from the #verifier primitives.
 */
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { parseVerifierKey } from '../index.ts';
import {
  MemoryTree,
  generateNoteKey,
  noteSigner,
  signNote,
  formatCheckpoint,
  proveInclusion,
  buildTransparencyLogEntry,
  dssePae,
  IN_TOTO_PAYLOAD_TYPE,
  type TleJson,
} from '../build.ts';

export const hex = (n: number, c = 'a') => c.repeat(n);

export interface TestKey {
  priv: KeyObject;
  pub: KeyObject;
  pem: string;
  hint: string;
}

export function newKey(): TestKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const der = publicKey.export({ format: 'der', type: 'spki' });
  return {
    priv: privateKey,
    pub: publicKey,
    pem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    hint: createHash('sha256').update(der).digest('hex'),
  };
}

export function releasePredicate(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    eif: { sha256: hex(64, 'e') },
    measurements: { pcr0: hex(96, '0'), pcr1: hex(96, '1'), pcr2: hex(96, '2') },
    source: { repo: 'https://github.com/keycast/demo', commit: hex(40, 'c') },
    lock: { sha256: hex(64, 'f') },
    builder: { version: 'keycast-builder/0.1.0' },
    ...over,
  };
}

export function releaseStatement(over: Record<string, unknown> = {}, eif = hex(64, 'e')): Record<string, unknown> {
  return {
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ name: 'enclave.eif', digest: { sha256: eif } }],
    predicateType: 'https://keycast.dev/release/v1',
    predicate: releasePredicate(over),
  };
}

export function revocationStatement(index: number, pcr0 = hex(96, '0')): Record<string, unknown> {
  return {
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ name: 'pcr0', digest: { sha384: pcr0 } }],
    predicateType: 'https://keycast.dev/revocation/v1',
    predicate: { revokes: { logIndex: index, pcr0 }, reason: 'CVE-2026-0001 in the enclave runtime' },
  };
}

export function rebuildStatement(): Record<string, unknown> {
  return {
    ...releaseStatement(),
    predicateType: 'https://keycast.dev/rebuild/v1',
    predicate: { ...releasePredicate(), release: { logIndex: 0 } },
  };
}

/** A v0.3 DSSE bundle signed by `key` over `statement` (or raw payload bytes). */
export function makeBundle(
  statement: unknown,
  key: TestKey,
  payloadType = IN_TOTO_PAYLOAD_TYPE,
): Record<string, unknown> {
  const payload = Buffer.from(typeof statement === 'string' ? statement : JSON.stringify(statement));
  const sig = sign('sha256', dssePae(payloadType, payload), key.priv);
  return {
    mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
    verificationMaterial: {
      publicKey: { hint: key.hint },
      tlogEntries: [],
      timestampVerificationData: { rfc3161Timestamps: [] },
    },
    dsseEnvelope: {
      payload: payload.toString('base64'),
      payloadType,
      signatures: [{ sig: sig.toString('base64'), keyid: key.hint }],
    },
  };
}

/** An in-memory C2SP log: append leaves, answer with a Sigstore TLE. */
export class TestLog {
  readonly tree = new MemoryTree();
  readonly origin: string;
  readonly vkey: string;
  readonly publicKey: Uint8Array;
  private readonly skey: string;

  constructor(origin = 'log.keycast.test/releases', fillers = 3) {
    this.origin = origin;
    const k = generateNoteKey(origin);
    this.skey = k.skey;
    this.vkey = k.vkey;
    this.publicKey = parseVerifierKey(k.vkey).publicKey;
    for (let i = 0; i < fillers; i++) this.tree.append(Buffer.from(`filler-${i}`));
  }

  add(leaf: Uint8Array, after = 2): TleJson {
    const index = this.tree.append(leaf);
    for (let i = 0; i < after; i++) this.tree.append(Buffer.from(`after-${index}-${i}`));
    const size = this.tree.size;
    const rootHash = this.tree.root();
    const note = signNote(formatCheckpoint({ origin: this.origin, size, rootHash, extensions: [] }), [
      noteSigner(this.skey),
    ]);
    return buildTransparencyLogEntry({
      index,
      origin: this.origin,
      logPublicKey: this.publicKey,
      leaf,
      proof: proveInclusion(index, size, this.tree.hashReader()),
      checkpointNote: note,
      rootHash,
      treeSize: size,
    });
  }
}

export function withTle(bundle: Record<string, unknown>, tles: unknown[]): Record<string, unknown> {
  const b = structuredClone(bundle) as { verificationMaterial: Record<string, unknown> };
  b.verificationMaterial.tlogEntries = tles;
  return b;
}
