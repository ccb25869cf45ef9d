/**
 * Release bundles against stock @sigstore/verify 3.1.1: the shared custom-log vector, and a
 * full offline round trip through an in-memory C2SP log (MemoryTree + note signer) →
 * buildTransparencyLogEntry → trustedRootForLog. Tampered checkpoints, proofs and log IDs,
 * duplicated entries and a foreign log are refused, including the cases 3.1.1 alone accepts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createPublicKey } from 'node:crypto';
import { bundleFromJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import {
  verifyEntryBundle,
  verifyReleaseBundleWithSigstore,
  checkLogBinding,
  isVerifierError,
  type VerifierErrorCode,
} from '../index.ts';
import { trustedRootForLog, logIdFor, type TrustedRootJson } from '../build.ts';
import { newKey, makeBundle, releaseStatement, TestLog, withTle } from './release-fixtures.ts';

const VECTOR = resolve(import.meta.dirname, '../../testdata/tlog/sigstore-custom-log-bundle.json');

function rejects(fn: () => unknown, code: VerifierErrorCode): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isVerifierError(e), `expected VerifierError ${code}, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return true;
  });
}

function stockVerify(bundle: unknown, root: unknown, spkiPem: string, artifact?: Buffer): void {
  const keys = () => ({ publicKey: createPublicKey(spkiPem), validFor: () => true });
  const v = new Verifier(toTrustMaterial(TrustedRoot.fromJSON(root), keys), {
    tlogThreshold: 1,
    ctlogThreshold: 0,
    timestampThreshold: 0,
  });
  v.verify(toSignedEntity(bundleFromJSON(bundle), artifact));
}

test('shared vector: stock @sigstore/verify accepts the custom-log bundle and our binding checks agree', () => {
  const v = JSON.parse(readFileSync(VECTOR, 'utf8'));
  const pem = createPublicKey({ key: Buffer.from(v.artifactPublicKeySpkiB64, 'base64'), format: 'der', type: 'spki' })
    .export({ format: 'pem', type: 'spki' })
    .toString();
  const artifact = Buffer.from(v.artifactUtf8, 'utf8');
  stockVerify(v.bundleInclusionProofOnly, v.trustedRoot, pem, artifact);
  stockVerify(v.bundleWithSET, v.trustedRoot, pem, artifact);
  const bound = checkLogBinding(v.bundleInclusionProofOnly, v.trustedRoot as TrustedRootJson);
  assert.equal(bound.length, 1);
  assert.equal(bound[0]!.logIndex, 5);
  assert.equal(bound[0]!.checkpoint?.size, 7);
  assert.equal(bound[0]!.checkpoint?.origin, v.logOrigin);
  // the vector's log ID is the C2SP key hash we compute
  assert.equal(
    Buffer.from(logIdFor(v.logOrigin, Buffer.from(v.logPublicKeyRawHex, 'hex'))).toString('base64'),
    v.checkpointKeyIdFullB64,
  );

  // 3.1.1 compares only the 4-byte key hint: a log ID with the right first 4 bytes passes stock…
  const forged = structuredClone(v.bundleInclusionProofOnly);
  const id = Buffer.from(forged.verificationMaterial.tlogEntries[0].logId.keyId, 'base64');
  id[31]! ^= 1;
  forged.verificationMaterial.tlogEntries[0].logId.keyId = id.toString('base64');
  stockVerify(forged, v.trustedRoot, pem, artifact);
  // …and our binding refuses it
  rejects(() => checkLogBinding(forged, v.trustedRoot), 'TLE_INVALID');
  // 3.1.1 counts duplicates; we refuse them
  const dup = structuredClone(v.bundleInclusionProofOnly);
  dup.verificationMaterial.tlogEntries.push(dup.verificationMaterial.tlogEntries[0]);
  rejects(() => checkLogBinding(dup, v.trustedRoot), 'TLE_INVALID');
});

function published() {
  const signer = newKey();
  const log = new TestLog();
  const bundle = makeBundle(releaseStatement(), signer);
  const entry = verifyEntryBundle(bundle, { allowedSigners: [signer.pem] });
  const tle = log.add(entry.leaf);
  const root = trustedRootForLog({ origin: log.origin, logPublicKey: log.publicKey });
  return { signer, log, bundle: withTle(bundle, [tle]), root, entry, tle };
}

test('round trip: admitted leaf → in-memory log → TLE → stock @sigstore/verify and our wrapper accept it', () => {
  const { signer, bundle, root, entry, tle } = published();
  assert.deepEqual(tle.kindVersion, { kind: 'dsse', version: '0.0.1' });
  assert.equal(tle.integratedTime, '0');
  stockVerify(bundle, root, signer.pem);
  const r = verifyReleaseBundleWithSigstore(JSON.stringify(bundle), root, { publicKey: signer.pem });
  assert.equal(r.entry.kind, 'release');
  assert.equal(r.entry.pcr0, entry.pcr0);
  assert.deepEqual(r.entry.leaf, entry.leaf);
  assert.equal(r.tlogEntries[0]!.logIndex, 3);
  assert.equal(r.tlogEntries[0]!.checkpoint?.size, 6);
});

test('round trip: tampered checkpoint, proof, log ID, duplicates and foreign logs are refused', () => {
  const { signer, bundle, root } = published();
  const opts = { publicKey: signer.pem };
  const mutate = (f: (t: any) => void) => {
    const b = structuredClone(bundle) as any;
    f(b.verificationMaterial.tlogEntries[0]);
    return b;
  };
  rejects(
    () =>
      verifyReleaseBundleWithSigstore(
        mutate((t) => {
          t.inclusionProof.checkpoint.envelope = t.inclusionProof.checkpoint.envelope.replace('\n6\n', '\n7\n');
        }),
        root,
        opts,
      ),
    'TLE_INVALID',
  );
  const flipped = mutate((t) => {
    const h = Buffer.from(t.inclusionProof.hashes[0], 'base64');
    h[0]! ^= 1;
    t.inclusionProof.hashes[0] = h.toString('base64');
  });
  rejects(() => verifyReleaseBundleWithSigstore(flipped, root, opts), 'TLE_INVALID');
  assert.throws(() => stockVerify(flipped, root, signer.pem), /TLOG_INCLUSION_PROOF_ERROR|calculated root/);
  rejects(
    () =>
      verifyReleaseBundleWithSigstore(
        mutate((t) => {
          t.logId.keyId = Buffer.alloc(32, 7).toString('base64');
        }),
        root,
        opts,
      ),
    'TLE_INVALID',
  );
  rejects(
    () =>
      verifyReleaseBundleWithSigstore(
        mutate((t) => {
          t.logIndex = '2';
          t.inclusionProof.logIndex = '2';
        }),
        root,
        opts,
      ),
    'TLE_INVALID',
  );
  rejects(
    () =>
      verifyReleaseBundleWithSigstore(
        mutate((t) => {
          t.inclusionProof.treeSize = '5';
        }),
        root,
        opts,
      ),
    'TLE_INVALID',
  );
  const dup = structuredClone(bundle) as any;
  dup.verificationMaterial.tlogEntries.push(dup.verificationMaterial.tlogEntries[0]);
  rejects(() => verifyReleaseBundleWithSigstore(dup, root, opts), 'TLE_INVALID');
  const other = new TestLog();
  rejects(
    () =>
      verifyReleaseBundleWithSigstore(
        bundle,
        trustedRootForLog({ origin: other.origin, logPublicKey: other.publicKey }),
        opts,
      ),
    'TLE_INVALID',
  );
  rejects(() => verifyReleaseBundleWithSigstore(withTle(bundle, []), root, opts), 'TLE_INVALID');
  // the right log, the wrong signer key: stock verification refuses the signature
  rejects(() => verifyReleaseBundleWithSigstore(bundle, root, { publicKey: newKey().pem }), 'SIGSTORE_INVALID');
  // an envelope that differs from the logged one
  const swapped = structuredClone(bundle) as any;
  const other2 = makeBundle(releaseStatement({ builder: { version: 'other' } }), signer) as any;
  swapped.dsseEnvelope = other2.dsseEnvelope;
  rejects(() => verifyReleaseBundleWithSigstore(swapped, root, opts), 'SIGSTORE_INVALID');
});

test('a log whose TLE body is not the canonical Keycast leaf is refused even if it verifies', () => {
  const signer = newKey();
  const log = new TestLog();
  const bundle = makeBundle(releaseStatement(), signer);
  const leaf = verifyEntryBundle(bundle, { allowedSigners: [signer.pem] }).leaf;
  // same dsse 0.0.1 facts, different bytes (pretty-printed): stock verify accepts, we do not
  const pretty = Buffer.from(JSON.stringify(JSON.parse(Buffer.from(leaf).toString()), null, 2));
  const root = trustedRootForLog({ origin: log.origin, logPublicKey: log.publicKey });
  const b = withTle(bundle, [log.add(pretty)]);
  stockVerify(b, root, signer.pem);
  rejects(() => verifyReleaseBundleWithSigstore(b, root, { publicKey: signer.pem }), 'TLE_INVALID');
  rejects(() => trustedRootForLog({ origin: 'log.(evil)', logPublicKey: log.publicKey }), 'TLE_INVALID');
});
