/**
 * bench/enclave — the enclave's own costs, each beside a same-run baseline:
 *   - cold boot to serving, in ms: boot (read PCRs from the simulated NSM, parse the pinned
 *     config), the gate's first decision on a host bundle, and establishing the identity through
 *     KMS (first boot: GenerateDataKey + Recipient, CMS open, seal; later boots: Decrypt +
 *     Recipient, CMS open, unseal) — with the in-memory KMS core (the same policy and attestation
 *     checks dev-kms runs, no HTTP), so the figure is the enclave's work plus KMS's checks;
 *   - gate re-checks per second (decideGate on a held bundle: checkpoint signature, witness
 *     cosignature, inclusion, leaf DSSE + schema, signed status) beside raw Ed25519 verifies per
 *     second (node:crypto) in the same run.
 * Usage: node --import tsx bench/enclave/run.ts [--boots 5] [--seconds 2] [--quick]
 */
import { parseArgs } from 'node:util';
import { emitResult } from '../result.ts';
import { createHash, generateKeyPairSync, sign as cryptoSign, verify as cryptoVerify } from 'node:crypto';
import { parseBundle, parseTrustedKey, decideGate, type EnclaveConfig, type ProofBundle } from '#verifier';
import {
  cosignatureVerifierKey,
  signReleaseStatus,
  encodeLeaf,
  dssePae,
  IN_TOTO_PAYLOAD_TYPE,
  formatEnclaveConfig,
  formatProofBundle,
} from '#verifier/build';
import { GateWorld, measurements } from '#test-kit';
import { bootEnclave, SimulatedNsm, createTestPki, memoryKms } from '../../enclave/index.ts';

const { values } = parseArgs({
  options: { boots: { type: 'string' }, seconds: { type: 'string' }, quick: { type: 'boolean' } },
});
values.boots ??= values.quick ? '3' : '5';
values.seconds ??= values.quick ? '1' : '2';
const boots = Number(values.boots);
const seconds = Number(values.seconds);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

// a one-release log (1000 entries before it, 23 after) with one witness, and a publisher key: the test kit's world
const world = new GateWorld(1000);
const pcrs = measurements('bench');
const index = world.publish(pcrs);
for (let i = 0; i < 23; i++) world.publishLeaf(Buffer.from(`after-${i}`), '0'.repeat(96));
const bundle: ProofBundle = world.bundle(index, { witnesses: 1 });
const pki = createTestPki();
const kms = memoryKms('arn:aws:iam::111122223333:role/bench', { trustedRoots: [pki.rootDer] });
const key = await kms.core.createKey('arn:aws:iam::111122223333:role/bench', {
  policy: JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'A',
        Effect: 'Allow',
        Principal: { AWS: 'arn:aws:iam::111122223333:role/bench' },
        Action: ['kms:PutKeyPolicy', 'kms:GetKeyPolicy'],
        Resource: '*',
      },
      {
        Sid: 'E',
        Effect: 'Allow',
        Principal: { AWS: 'arn:aws:iam::111122223333:role/bench' },
        Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
        Resource: '*',
        Condition: { StringEqualsIgnoreCase: { 'kms:RecipientAttestation:ImageSha384': [pcrs.pcr0] } },
      },
    ],
  }),
});
const config: EnclaveConfig = world.config({
  witnesses: { vkeys: [cosignatureVerifierKey(world.witnessKeys[0]!.skey)], threshold: 1 },
  kms: { keyArn: key.Arn, region: 'us-east-1' },
});
const configBytes = formatEnclaveConfig(config);
const bundleJson = formatProofBundle(bundle);

async function coldBoot(
  stored: { sealed: string; ciphertextBlob: string } | null,
): Promise<{ ms: number; gateMs: number; stored: { sealed: string; ciphertextBlob: string } }> {
  const t0 = performance.now();
  const e = await bootEnclave({
    nsm: new SimulatedNsm({ pki, pcrs }),
    kms: kms.port,
    configBytes,
    recheckMs: 0,
    attestationRoots: [pki.rootDer],
  });
  const g = await e.app.inject({
    method: 'POST',
    url: '/v1/gate',
    headers: { 'content-type': 'application/json' },
    payload: bundleJson,
  });
  const gateMs = performance.now() - t0;
  if (g.statusCode !== 200) throw new Error(`gate refused: ${g.body}`);
  const id = await e.app.inject({
    method: 'POST',
    url: '/v1/identity',
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify(stored ?? {}),
  });
  if (id.statusCode !== 200) throw new Error(`identity refused: ${id.body}`);
  if (stored === null) {
    // first boot's second phase: the host confirms it stored the sealed blob
    const sealed = (id.json() as { stored: { sealed: string } }).stored.sealed;
    const c = await e.app.inject({
      method: 'POST',
      url: '/v1/identity',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ confirm: createHash('sha256').update(Buffer.from(sealed, 'base64')).digest('hex') }),
    });
    if (c.statusCode !== 200) throw new Error(`identity confirm refused: ${c.body}`);
  }
  const ms = performance.now() - t0;
  await e.stop();
  return { ms, gateMs, stored: stored ?? (id.json() as { stored: { sealed: string; ciphertextBlob: string } }).stored };
}

let stored: { sealed: string; ciphertextBlob: string } | null = null;
const first: number[] = [];
const later: number[] = [];
const toGate: number[] = [];
await coldBoot(null); // warm-up (JIT, module loading)
for (let i = 0; i < boots; i++) {
  const f = await coldBoot(null);
  first.push(f.ms);
  toGate.push(f.gateMs);
  stored = f.stored;
  later.push((await coldBoot(stored)).ms);
}

function rate(fn: () => void): number {
  let n = 0;
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    fn();
    n++;
  }
  return n / seconds;
}
const map = new Map<number, Uint8Array>([
  [0, Buffer.from(pcrs.pcr0, 'hex')],
  [1, Buffer.from(pcrs.pcr1, 'hex')],
  [2, Buffer.from(pcrs.pcr2, 'hex')],
  [8, new Uint8Array(48)],
]);
const now = Date.now() / 1000;
if (!decideGate({ pcrs: map, config, bundle, now }).open) throw new Error('the bench bundle does not pass the gate');
const ed = generateKeyPairSync('ed25519');
const msg = Buffer.alloc(200, 7);
const sig = cryptoSign(null, msg, ed.privateKey);
const edRate = rate(() => {
  if (!cryptoVerify(null, msg, ed.publicKey, sig)) throw new Error('bad');
});
const gateRate = rate(() => {
  if (!decideGate({ pcrs: map, config, bundle, now }).open) throw new Error('refused');
});
const edRate2 = rate(() => {
  if (!cryptoVerify(null, msg, ed.publicKey, sig)) throw new Error('bad');
});

const r = (x: number) => Math.round(x);
const edMean = (edRate + edRate2) / 2;
emitResult({
  bench: 'enclave',
  quick: Boolean(values.quick),
  figures: [
    {
      figure: 'cold boot to an open gate',
      value: r(median(toGate)),
      unit: 'ms',
      baseline: null,
      ratio: null,
      target: null,
      note: `median of ${boots} boots`,
    },
    {
      figure: 'first boot: generate and seal the identity through KMS',
      value: r(median(first)),
      unit: 'ms',
      baseline: null,
      ratio: null,
      target: null,
      note: 'mostly RSA-2048 key generation (the KDM chain and the ephemeral Recipient key)',
    },
    {
      figure: 'later boot: unseal the identity through KMS',
      value: r(median(later)),
      unit: 'ms',
      baseline: null,
      ratio: null,
      target: null,
    },
    {
      figure: 'gate re-checks',
      value: r(gateRate),
      unit: '/s',
      baseline: { what: 'raw Ed25519 verifies (node:crypto), same run', value: r(edMean), unit: '/s' },
      ratio: Number((gateRate / edMean).toFixed(3)),
      target: null,
      note: `tree size ${world.tree.size}`,
    },
  ],
});
process.stderr.write(
  `enclave bench: cold boot to open gate ${r(median(toGate))} ms, first-boot seal ${r(median(first))} ms, later-boot unseal ${r(median(later))} ms (medians of ${boots}); ` +
    `gate re-checks ${r(gateRate)}/s beside raw Ed25519 verifies ${r(edMean)}/s (${(edMean / gateRate).toFixed(1)} verifies' cost per re-check)\n`,
);
