/**
 * Release-entry throughput, each figure beside the raw node:crypto rate it is built
 * on, measured in the same run in alternating slices:
 *  - admissions/s (verifyEntryBundle: parse, DSSE ECDSA P-256 verify, schema, policy, canonical
 *    leaf) vs raw ECDSA P-256 verifies/s over the same PAE;
 *  - decodeLeaf/s (a monitor re-checking a leaf) vs the same raw rate;
 *  - full outsider verifications/s (verifyReleaseBundleWithSigstore: stock @sigstore/verify +
 *    binding + checkpoint + proof + leaf) vs raw ECDSA + Ed25519 verify pairs/s.
 * Usage: node --import tsx bench/release/run.ts [--json] [--seconds N] [--quick]   (--quick: 0.5 s per figure)
 * Figures are noisy on a shared 2-core machine; compare ratios, not absolutes.
 */
import { createHash, generateKeyPairSync, sign, verify } from 'node:crypto';
import { parseArgs } from 'node:util';
import { parseVerifierKey, verifyEntryBundle, decodeLeaf, verifyReleaseBundleWithSigstore } from '#verifier';
import {
  MemoryTree,
  generateNoteKey,
  noteSigner,
  signNote,
  formatCheckpoint,
  proveInclusion,
  buildTransparencyLogEntry,
  trustedRootForLog,
  dssePae,
} from '#verifier/build';
import { emitResult } from '../result.ts';

const { values } = parseArgs({
  options: { json: { type: 'boolean' }, seconds: { type: 'string' }, quick: { type: 'boolean' } },
});
const SECONDS = Number(values.seconds ?? (values.quick ? 0.5 : 2));
const ROUNDS = 5;

function slice(fn: () => void): number {
  const start = process.hrtime.bigint();
  const end = start + BigInt(Math.round((SECONDS / ROUNDS) * 1e9));
  let n = 0;
  let now = start;
  while (now < end) {
    fn();
    n++;
    now = process.hrtime.bigint();
  }
  return n / (Number(now - start) / 1e9);
}

function paired(fn: () => void, baseline: () => void): [number, number] {
  let a = 0;
  let b = 0;
  for (let r = 0; r < ROUNDS; r++) {
    b = Math.max(b, slice(baseline));
    a = Math.max(a, slice(fn));
  }
  return [a, b];
}

// fixtures: one signed release bundle, logged at index 500 of a 1000-entry log
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const pem = publicKey.export({ format: 'pem', type: 'spki' }).toString();
const hint = createHash('sha256')
  .update(publicKey.export({ format: 'der', type: 'spki' }))
  .digest('hex');
const statement = {
  _type: 'https://in-toto.io/Statement/v1',
  subject: [{ name: 'enclave.eif', digest: { sha256: 'e'.repeat(64) } }],
  predicateType: 'https://keycast.dev/release/v1',
  predicate: {
    eif: { sha256: 'e'.repeat(64) },
    measurements: { pcr0: '0'.repeat(96), pcr1: '1'.repeat(96), pcr2: '2'.repeat(96) },
    source: { repo: 'https://github.com/keycast/demo', commit: 'c'.repeat(40) },
    lock: { sha256: 'f'.repeat(64) },
    builder: { version: 'keycast/0.1.0' },
  },
};
const payload = Buffer.from(JSON.stringify(statement));
const pae = dssePae('application/vnd.in-toto+json', payload);
const sig = sign('sha256', pae, privateKey);
const bundle = {
  mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
  verificationMaterial: { publicKey: { hint }, tlogEntries: [] as unknown[] },
  dsseEnvelope: {
    payloadType: 'application/vnd.in-toto+json',
    payload: payload.toString('base64'),
    signatures: [{ sig: sig.toString('base64'), keyid: hint }],
  },
};
const bundleText = JSON.stringify(bundle);
const policy = { allowedSigners: [pem] };
const leaf = verifyEntryBundle(bundleText, policy).leaf;

const origin = 'bench.keycast.test/log';
const nk = generateNoteKey(origin);
const logPub = parseVerifierKey(nk.vkey).publicKey;
const tree = new MemoryTree();
for (let i = 0; i < 1000; i++) tree.append(i === 500 ? leaf : Buffer.from(`entry-${i}`));
const note = signNote(formatCheckpoint({ origin, size: tree.size, rootHash: tree.root(), extensions: [] }), [
  noteSigner(nk.skey),
]);
bundle.verificationMaterial.tlogEntries = [
  buildTransparencyLogEntry({
    index: 500,
    origin,
    logPublicKey: logPub,
    leaf,
    proof: proveInclusion(500, tree.size, tree.hashReader()),
    checkpointNote: note,
    rootHash: tree.root(),
    treeSize: tree.size,
  }),
];
const published = JSON.stringify(bundle);
const root = trustedRootForLog({ origin, logPublicKey: logPub });
const ed = generateKeyPairSync('ed25519');
const edSig = sign(null, Buffer.from(note), ed.privateKey);

const rawEcdsa = () => {
  if (!verify('sha256', pae, publicKey, sig)) throw new Error('raw');
};
const rawPair = () => {
  rawEcdsa();
  if (!verify(null, Buffer.from(note), ed.publicKey, edSig)) throw new Error('raw');
};

process.stderr.write('measuring admissions…\n');
const [admit, admitBase] = paired(() => {
  verifyEntryBundle(bundleText, policy);
}, rawEcdsa);
process.stderr.write('measuring decodeLeaf…\n');
const [decode, decodeBase] = paired(() => {
  decodeLeaf(leaf);
}, rawEcdsa);
process.stderr.write('measuring full Sigstore verification…\n');
const [full, fullBase] = paired(() => {
  verifyReleaseBundleWithSigstore(published, root, { publicKey: pem });
}, rawPair);

const rows = [
  {
    figure: 'admissions/s (verifyEntryBundle)',
    value: admit,
    baseline: 'raw ECDSA P-256 verify/s',
    baselineValue: admitBase,
  },
  { figure: 'decodeLeaf/s', value: decode, baseline: 'raw ECDSA P-256 verify/s', baselineValue: decodeBase },
  {
    figure: 'full verifications/s (stock @sigstore/verify + Keycast checks)',
    value: full,
    baseline: 'raw ECDSA + Ed25519 verify pairs/s',
    baselineValue: fullBase,
  },
].map((r) => ({
  ...r,
  value: Math.round(r.value),
  baselineValue: Math.round(r.baselineValue),
  ratio: Number((r.value / r.baselineValue).toFixed(3)),
}));

if (values.json) console.log(JSON.stringify({ leafBytes: leaf.length, bundleBytes: published.length, rows }, null, 2));
else {
  console.log(`leaf ${leaf.length} bytes, published bundle ${published.length} bytes (2 cores, shared: noisy)`);
  for (const r of rows)
    console.log(
      `${r.figure.padEnd(66)} ${String(r.value).padStart(7)}   baseline ${r.baseline}: ${r.baselineValue}  ratio ${r.ratio}`,
    );
}

// The shared result line (bench/result.ts) for `npm run bench`; --json keeps its own output.
if (!values.json) {
  emitResult({
    bench: 'release',
    quick: Boolean(values.quick),
    figures: rows.map((r) => ({
      figure: r.figure,
      value: r.value,
      unit: '/s',
      baseline: { what: r.baseline, value: r.baselineValue, unit: '/s' },
      ratio: r.ratio,
      target: null,
    })),
  });
}
