/**
 * Simulated NSM attestation throughput, beside the same-run floor it cannot beat: the raw
 * node:crypto work every simulated document needs (one P-384 key generation for the fresh
 * leaf, one ECDSA-P384 signature for the leaf certificate, one for the COSE_Sign1). Also the
 * round-trip rate of a cheap request (DescribePCR) through the byte-level codec.
 *
 *   node --import tsx bench/nsm/run.ts [seconds-per-measurement] [--quick]   (--quick: 1 s)
 *
 * The two rates are taken in alternating slices so machine noise hits both alike; the ratio is
 * the figure to watch (2 cores shared with other work: absolute numbers are noisy).
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { parseArgs } from 'node:util';
import { SimulatedNsm, createTestPki } from '../../enclave/index.ts';
import { emitResult, ratio } from '../result.ts';

const { values, positionals } = parseArgs({ options: { quick: { type: 'boolean' } }, allowPositionals: true });
const seconds = Number(positionals[0] ?? (values.quick ? 1 : 3));
const SLICES = 6;

async function rate(fn: () => unknown | Promise<unknown>, ms: number): Promise<number> {
  let n = 0;
  const end = performance.now() + ms;
  while (performance.now() < end) {
    await fn();
    n++;
  }
  return n;
}

const pki = createTestPki();
const nsm = new SimulatedNsm({ pki, pcrs: { pcr0: '11'.repeat(48), pcr1: '22'.repeat(48), pcr2: '33'.repeat(48) } });
const nonce = new Uint8Array(32).fill(7);
const tbs = new Uint8Array(700).fill(1);

const floor = () => {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  sign('sha384', tbs, privateKey);
  sign('sha384', tbs, { key: privateKey, dsaEncoding: 'ieee-p1363' });
};

const slice = (seconds * 1000) / SLICES;
const totals = { doc: 0, floor: 0, describe: 0 };
for (let i = 0; i < SLICES; i++) {
  totals.doc += await rate(() => nsm.attestation({ nonce }), slice / 2);
  totals.floor += await rate(floor, slice / 2);
  process.stderr.write('.');
}
totals.describe = await rate(() => nsm.describePcr(0), 500);
process.stderr.write('\n');
const docs = totals.doc / (seconds / 2);
const base = totals.floor / (seconds / 2);
console.log(`simulated attestation documents: ${docs.toFixed(0)}/s`);
console.log(`baseline (P-384 keygen + 2 ECDSA-P384 signs, same run): ${base.toFixed(0)}/s`);
console.log(`ratio: ${(docs / base).toFixed(2)} of the crypto floor`);
console.log(`DescribePCR round trips through the CBOR codec: ${(totals.describe / 0.5).toFixed(0)}/s`);

// The shared result line (bench/result.ts) for `npm run bench`.
emitResult({
  bench: 'nsm',
  quick: Boolean(values.quick),
  figures: [
    {
      figure: 'simulated attestation documents',
      value: Math.round(docs),
      unit: '/s',
      baseline: { what: 'P-384 keygen + 2 ECDSA-P384 signs (the crypto floor)', value: Math.round(base), unit: '/s' },
      ratio: ratio(docs, base),
      target: null,
      note: `alternating slices over ${seconds} s`,
    },
    {
      figure: 'DescribePCR round trips through the CBOR codec',
      value: Math.round(totals.describe / 0.5),
      unit: '/s',
      baseline: null,
      ratio: null,
      target: null,
    },
  ],
});
