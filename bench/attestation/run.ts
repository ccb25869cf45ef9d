/**
 * Attestation verification throughput (issue #5): full verifyAttestationDocument calls/s on a
 * real production-mode Nitro document, beside the raw cost of the P-384 signature checks it
 * must do — 1 COSE ES384 check + 4 certificate links (root→regional→zonal→instance→leaf) with
 * node:crypto on pre-loaded keys — measured in alternating slices of the same run.
 * Target: verifications/s ≥ 0.7 × (raw 5-signature sets/s).
 * Usage: node --import tsx bench/attestation/run.ts [--json] [--seconds N]
 * Figures are noisy on a shared 2-core machine; compare the ratio, not absolutes.
 */
import { createPublicKey, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { verifyAttestationDocument, parseAttestationDocument, parseCertificate, sigStructure } from '#verifier';

const { values } = parseArgs({ options: { json: { type: 'boolean' }, seconds: { type: 'string', default: '6' } } });
const SECONDS = Number(values.seconds);
const ROUNDS = 10;

const DIR = resolve(import.meta.dirname, '../../../shared/testvectors/nitro/attestation');
const NAME = 'marlin-verifier-2024-08-07';
const bytes = new Uint8Array(readFileSync(resolve(DIR, `${NAME}.cbor`)));
const at = new Date(JSON.parse(readFileSync(resolve(DIR, `${NAME}.json`), 'utf8')).verify_at_unix_ms);

// the baseline's inputs, prepared outside the timed loop
const doc = parseAttestationDocument(bytes);
const certs = [...doc.cabundle, doc.certificate].map((d) => parseCertificate(d));
const keys = certs.map((c) => createPublicKey({ key: Buffer.from(c.spki), format: 'der', type: 'spki' }));
const links = certs.slice(1).map((c, i) => ({ tbs: c.tbs, sig: c.signature, key: keys[i]! }));
const leafKey = keys.at(-1)!;
const coseInput = sigStructure(doc.protected, doc.payload);

function baseline(): void {
  let ok = verify('sha384', coseInput, { key: leafKey, dsaEncoding: 'ieee-p1363' }, doc.signature);
  for (const l of links) ok = verify('sha384', l.tbs, l.key, l.sig) && ok;
  if (!ok) throw new Error('baseline signatures must verify');
}

function full(): void {
  verifyAttestationDocument(bytes, { at });
}

function slice(fn: () => void): number {
  const start = process.hrtime.bigint();
  const end = start + BigInt(Math.round((SECONDS / ROUNDS / 2) * 1e9));
  let n = 0;
  let now = start;
  while (now < end) {
    for (let i = 0; i < 10; i++) fn();
    n += 10;
    now = process.hrtime.bigint();
  }
  return n / (Number(now - start) / 1e9);
}

baseline();
full();
if (!values.json) process.stderr.write(`… ${ROUNDS} alternating slices of ${(SECONDS / ROUNDS / 2).toFixed(2)} s each, document ${NAME}\n`);
let best = { full: 0, base: 0 };
const ratios: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  const b = slice(baseline);
  const f = slice(full);
  ratios.push(f / b);
  best = { full: Math.max(best.full, f), base: Math.max(best.base, b) };
}
ratios.sort((a, b) => a - b);
const result = {
  document: NAME,
  verificationsPerSecond: Math.round(best.full),
  rawSignatureSetsPerSecond: Math.round(best.base),
  rawP384VerifiesPerSecond: Math.round(best.base * 5),
  ratioBest: +(best.full / best.base).toFixed(3),
  ratioMedianPaired: +ratios[Math.floor(ratios.length / 2)]!.toFixed(3),
  target: 0.7,
};
if (values.json) console.log(JSON.stringify(result));
else {
  console.log(`attestation verifications/s          ${result.verificationsPerSecond}`);
  console.log(`raw P-384 sets/s (1 COSE + 4 links)  ${result.rawSignatureSetsPerSecond}   (${result.rawP384VerifiesPerSecond} single verifies/s)`);
  console.log(`ratio (best slices)                  ${result.ratioBest}   median paired ${result.ratioMedianPaired}   target ≥ ${result.target}`);
}
