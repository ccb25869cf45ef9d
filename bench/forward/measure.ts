/**
 * Forwarding throughput: one film (2 content keys) to COUNT projectors as SMPTE KDMs and as raw
 * RSA-OAEP-SHA256, on W worker threads, each beside the raw node:crypto bound measured in the same
 * run on the same threads and the same recipients (each its own key object, as in the real run):
 * per KDM, 2 RSA-OAEP-SHA1 encryptions + 1 RSA-2048 SHA-256 signature; per raw delivery, 2
 * RSA-OAEP-SHA256 encryptions. Bounds are measured before and after each run and averaged. Target ratio ≥ 0.7. Outputs are streamed
 * (handed to the sink one at a time and dropped), and the peak RSS of the process is reported.
 *
 * The request's certificates are held as DER (the request format's Uint8Array form) in one
 * SharedArrayBuffer that every worker views without a copy, and the main thread checks the whole
 * request once from those views: the certificates cost their DER bytes once per process instead of
 * ~1.8 KB of PEM text on the JS heap of each thread that holds them.
 *
 * Usage: node --import tsx bench/forward/run.ts [--count N (20000; --quick 400)] [--workers W] [--key-pool K]
 *          [--rounds R (16 from 20,000 projectors, else 8)] [--json]
 * Setup (generating COUNT certificates) is not timed. On a shared machine compare ratios, not rates.
 * Every heap is bounded, as a long-running service bounds its own: the workers' by resourceLimits,
 * the main thread's by run.ts, which starts this file under --max-old-space-size.
 * The 100,000-projector figure is COUNT=100000 (setup alone then signs 100,000 certificates).
 */
import { Worker } from 'node:worker_threads';
import { parseArgs } from 'node:util';
import { randomBytes, generateKeyPairSync } from 'node:crypto';
import { verifyKdmSignature, decryptKdm, openReceipt, checkDelivery, type ForwardRules } from '#verifier';
import { certificatePem, deriveHpkeKeyPair, sealContentKeys, rulesDigest, signRules, kdmSigner } from '#verifier/build';
import { Measurement } from '#verifier';
import { emitResult } from '../result.ts';
import { certViews, sharedCerts } from './shared-certs.ts';
import {
  createProjectorPki,
  createSignerChain,
  openForwardRequest,
  signForwardReceipt,
  type ForwardRequest,
  type ProjectorPki,
} from '../../enclave/index.ts';

const { values } = parseArgs({
  options: {
    count: { type: 'string' },
    workers: { type: 'string', default: '2' },
    'key-pool': { type: 'string', default: '16' },
    rounds: { type: 'string' },
    json: { type: 'boolean' },
    quick: { type: 'boolean' },
  },
});
// full length: 20,000 projectors in 16 rounds (~1 minute); rounds of a few dozen KDMs per thread
// let one major GC pause swing the ratio by a tenth
const COUNT = Number(values.count ?? (values.quick ? 400 : 20_000));
const W = Number(values.workers);
const ROUNDS = Math.max(1, Math.min(Number(values.rounds ?? (COUNT >= 20_000 ? 16 : 8)), Math.floor(COUNT / W)));
const DAY = 86_400_000;
const log = (s: string) => {
  if (!values.json) process.stderr.write(`${s}\n`);
};

let peakRss = 0;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage.rss());
}, 50);
const phasePeak: Record<string, number> = {};
const phase = (name: string) => {
  peakRss = Math.max(peakRss, process.memoryUsage.rss());
  phasePeak[name] = Math.round(peakRss / 1048576);
  peakRss = 0;
  const m = process.memoryUsage();
  const mb = (n: number) => Math.round(n / 1048576);
  log(
    `  [${name}] peak RSS ${phasePeak[name]} MiB; process max so far ${mb(process.resourceUsage().maxRSS * 1024)} MiB; main heap ${mb(m.heapUsed)}/${mb(m.heapTotal)} MiB, array buffers ${mb(m.arrayBuffers)} MiB`,
  );
};

// ----- setup (not timed): studio, enclave, projector PKI, the request -----
const now = new Date();
const t0 = now.getTime();
const pad2 = (n: number) => String(n).padStart(2, '0');
const kdmT = (ms: number) => {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}T${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}+00:00`;
};
const isoZ = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
const studio = generateKeyPairSync('ed25519');
const studioPem = studio.publicKey.export({ type: 'spki', format: 'pem' }).toString();
const hpkeSeed = new Uint8Array(randomBytes(32));
const hpke = await deriveHpkeKeyPair(hpkeSeed);
const pcr0 = new Uint8Array(randomBytes(48));
const signerChain = createSignerChain({ now });
const receiptKey = generateKeyPairSync('ed25519');
const keys = {
  signer: kdmSigner(signerChain.chain, signerChain.privateKey),
  receiptKey: receiptKey.privateKey,
  pcr0: Measurement.fromBytes(pcr0),
};
log(`setup: ${COUNT} projector certificates (key pool ${values['key-pool']})…`);
const ts = performance.now();
// certificates streamed out of the generator into shared memory (ST 430-2 projector certificates
// are ~1 KiB): the request is all that is kept, and workers see it without a copy
const certs = sharedCerts(COUNT, 4096);
let probe: ProjectorPki['projectors'][number] | undefined;
const pki = createProjectorPki({
  count: COUNT,
  keyPool: Number(values['key-pool']),
  now,
  onProjector: (p, i) => {
    certs.add(p.certificate.der);
    if (i === 0) probe = p;
  },
});
log(`setup: ${((performance.now() - ts) / 1000).toFixed(1)} s`);
phase('setup');
const cpl = 'urn:uuid:0b5c8a2e-6d7f-4e11-9c3a-2f4e5d6c7b8a';
const ids = ['urn:uuid:1a2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c8d', 'urn:uuid:2b3c4d5e-6f7a-4b2c-9d3e-4f5a6b7c8d9e'];
const contentKeys = [
  { id: ids[0]!, type: 'MDIK' as const, key: new Uint8Array(randomBytes(16)) },
  { id: ids[1]!, type: 'MDAK' as const, key: new Uint8Array(randomBytes(16)) },
];
const rules: ForwardRules = {
  type: 'keycast-forward-rules/v2',
  film: { cplId: cpl, title: 'Benchmark Film' },
  contentKeyIds: ids,
  kdmWindow: { notBefore: kdmT(t0 + DAY), notAfter: kdmT(t0 + 15 * DAY) },
  forwardFrom: isoZ(t0 - DAY),
  forwardUntil: isoZ(t0 + 10 * DAY),
  recipients: {
    thumbprints: [],
    roots: [Buffer.from(pki.root.der).toString('base64')],
    excluded: [],
    roles: ['SM', 'RX'],
  },
  formats: ['kdm', 'raw-rsa-oaep', 'raw-hpke'],
  limits: { maxKdmValidityDays: 30, maxRecipients: 100_000 },
};
const sealedKeys = await sealContentKeys(
  { cplId: cpl, keys: contentKeys.map((k) => ({ ...k, key: k.key.slice() })) },
  hpke.publicKey,
  pcr0,
  studioPem,
  rulesDigest(rules),
);
const rulesEnv = signRules(rules, studio.privateKey);
const expires = new Date(Math.floor(now.getTime() / 1000) * 1000 + 3600_000).toISOString().replace('.000Z', 'Z');
const intermediates = [certificatePem(pki.intermediate.der)];

// ----- workers -----
const BOOT = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((tsx) => { tsx.register(); return import(${JSON.stringify(new URL('./worker.ts', import.meta.url).href)}); })`;
const workers = await Promise.all(
  Array.from(
    { length: W },
    () =>
      new Promise<Worker>((ok, fail) => {
        // a bounded heap makes V8 collect the per-KDM garbage early instead of growing the RSS
        const w = new Worker(BOOT, {
          eval: true,
          resourceLimits: { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 16 },
          workerData: {
            hpkeSeed,
            pcr0,
            signerChain: signerChain.chain.map((c) => c.der),
            signerKeyPem: signerChain.privateKey.export({ type: 'pkcs8', format: 'pem' }),
            now: t0,
          },
        });
        w.once('message', () => ok(w));
        w.once('error', fail);
      }),
  ),
);
const ask = <T>(w: Worker, msg: unknown, transfer: ArrayBuffer[] = []): Promise<T> =>
  new Promise((ok, fail) => {
    const onMessage = (m: T) => {
      w.off('error', onError);
      ok(m);
    };
    const onError = (e: Error) => {
      w.off('message', onMessage);
      fail(e);
    };
    w.once('message', onMessage);
    w.once('error', onError);
    w.postMessage(msg, transfer);
  });

/** Worker i's part of recipients [from, to): a range of the shared buffer, not a copy. */
const shard = (i: number, from = 0, to = COUNT) => {
  const per = Math.ceil((to - from) / W);
  const a = Math.min(to, from + i * per);
  const b = Math.min(to, from + (i + 1) * per);
  return { certs: { bytes: certs.bytes, offsets: certs.offsets }, from: a, to: b };
};

/** The raw bound on the same recipients and threads: deliveries per second. */
async function bound(oaepHash: string, signs: boolean, from = 0, to = COUNT): Promise<number> {
  const r = await Promise.all(
    workers.map((w, i) =>
      ask<{ n: number; ms: number }>(w, { cmd: 'bound', ...shard(i, from, to), oaepHash, keys: 2, sign: signs }),
    ),
  );
  return (to - from) / (Math.max(...r.map((x) => x.ms)) / 1000);
}

let wallMs = 0;
async function run(
  format: 'kdm' | 'raw-rsa-oaep',
  from = 0,
  to = COUNT,
): Promise<{ rate: number; ms: number; bytes: number; openMs: number; first: Uint8Array; digests: Uint8Array }> {
  const opens = await Promise.all(
    workers.map((w, i) =>
      ask<{ ms: number }>(w, {
        cmd: 'open',
        request: { sealedKeys, rules: rulesEnv, intermediates, format, expires } satisfies Omit<
          ForwardRequest,
          'recipients'
        >,
        ...shard(i, from, to),
      }),
    ),
  );
  const t = performance.now();
  const done = await Promise.all(
    workers.map((w) => ask<{ ms: number; bytes: number; digests: Uint8Array; first: Uint8Array }>(w, { cmd: 'go' })),
  );
  wallMs += performance.now() - t;
  // timed like the bound: on the threads themselves, the slowest shard (messages between threads
  // are the harness's, not forwarding work; the wall time including them is reported beside)
  const ms = Math.max(...done.map((d) => d.ms));
  // the shards' digests in request order, 32 bytes each, in one buffer
  const digests = new Uint8Array((to - from) * 32);
  let at = 0;
  for (const d of done) {
    digests.set(d.digests, at);
    at += d.digests.length;
  }
  return {
    rate: (to - from) / (ms / 1000),
    ms,
    bytes: done.reduce((a, d) => a + d.bytes, 0),
    openMs: Math.max(...opens.map((o) => o.ms)),
    first: done[0]!.first,
    digests,
  };
}

// the whole request checked once on the main thread, as the enclave does before emitting anything
const tc = performance.now();
const opened = await openForwardRequest(
  { sealedKeys, rules: rulesEnv, recipients: certViews(certs, 0, COUNT), intermediates, format: 'kdm', expires },
  { hpkePrivateKey: hpke.privateKey, pcr0: keys.pcr0, now, retainCertificates: false },
);
const thumbprints = opened.thumbprints;
const checkMs = performance.now() - tc;
const meta = { requestDigest: opened.requestDigest, rulesDigest: opened.rules.digest, now, format: 'kdm' as const };
for (const k of opened.film.keys) k.key.fill(0);
log(`checked ${COUNT} recipients in ${(checkMs / 1000).toFixed(2)} s`);
phase('check');

// warm-up (JIT, lazy loads) on a few recipients, not reported
const WARM = Math.min(COUNT, 150 * W);
await bound('sha1', true, 0, WARM);
await run('kdm', 0, WARM);
await bound('sha256', false, 0, WARM);
await run('raw-rsa-oaep', 0, WARM);
/**
 * The run and its bound on the same recipients, interleaved in rounds (bound, run, run, bound, …)
 * so that load changes on a shared machine hit both alike; returns summed times and every digest.
 */
async function paired(
  format: 'kdm' | 'raw-rsa-oaep',
): Promise<{ ms: number; wallMs: number; boundMs: number; bytes: number; first: Uint8Array; digests: Uint8Array }> {
  const wall0 = wallMs;
  const oaep = format === 'kdm' ? 'sha1' : 'sha256';
  const per = Math.ceil(COUNT / ROUNDS);
  let ms = 0;
  let boundMs = 0;
  let bytes = 0;
  let first: Uint8Array | null = null;
  const digests = new Uint8Array(COUNT * 32);
  for (let r = 0; r < ROUNDS; r++) {
    const from = r * per;
    const to = Math.min(COUNT, from + per);
    if (from >= to) break;
    const b = async () => {
      boundMs += ((to - from) / (await bound(oaep, format === 'kdm', from, to))) * 1000;
    };
    if (r % 2 === 1) await b();
    const x = await run(format, from, to);
    if (r % 2 === 0) await b();
    ms += x.ms;
    bytes += x.bytes;
    first ??= x.first;
    digests.set(x.digests, from * 32);
    log(
      `  ${format} round ${r + 1}/${ROUNDS}: ${to} done (${x.ms.toFixed(0)} ms; bound ${boundMs.toFixed(0)} ms so far, run ${ms.toFixed(0)})`,
    );
  }
  return { ms, wallMs: wallMs - wall0, boundMs, bytes, first: first!, digests };
}

const kdm = await paired('kdm');
phase('kdm');
const raw = await paired('raw-rsa-oaep');
phase('raw');

// the receipt over every KDM, and a spot check of the first delivery end to end
const kdmDigests = Array.from({ length: COUNT }, (_, i) => kdm.digests.subarray(i * 32, i * 32 + 32));
const result = signForwardReceipt(meta, keys, thumbprints, kdmDigests);
const receipt = openReceipt(result.receipt, receiptKey.publicKey.export({ type: 'spki', format: 'pem' }).toString());
checkDelivery(receipt, result.prove(0), kdm.first);
const { kdm: k0, signer } = await verifyKdmSignature(kdm.first);
const got = decryptKdm(k0, probe!.privateKey, signer);
if (
  got.map((g) => Buffer.from(g.key).toString('hex')).join() !==
  contentKeys.map((c) => Buffer.from(c.key).toString('hex')).join()
)
  throw new Error('the first KDM does not decrypt to the content keys');
phase('receipt');
clearInterval(sampler);
await Promise.all(workers.map((w) => w.terminate()));

const maxRss = Math.round((process.resourceUsage().maxRSS * 1024) / 1048576);
const rate = (n: number, ms: number) => Math.round(n / (ms / 1000));
const report = {
  count: COUNT,
  workers: W,
  keyPool: Number(values['key-pool']),
  rounds: ROUNDS,
  check: { recipientsPerSecond: rate(COUNT, checkMs) },
  kdm: {
    perSecond: rate(COUNT, kdm.ms),
    boundPerSecond: rate(COUNT, kdm.boundMs),
    ratio: +(kdm.boundMs / kdm.ms).toFixed(3),
    seconds: +(kdm.ms / 1000).toFixed(2),
    wallSeconds: +(kdm.wallMs / 1000).toFixed(2),
    meanBytes: Math.round(kdm.bytes / COUNT),
  },
  raw: {
    perSecond: rate(COUNT, raw.ms),
    boundPerSecond: rate(COUNT, raw.boundMs),
    ratio: +(raw.boundMs / raw.ms).toFixed(3),
    seconds: +(raw.ms / 1000).toFixed(2),
    wallSeconds: +(raw.wallMs / 1000).toFixed(2),
  },
  peakRssMiB: { ...phasePeak, process: maxRss },
};
if (values.json) console.log(JSON.stringify(report, null, 2));
else {
  emitResult({
    bench: 'forward',
    quick: Boolean(values.quick),
    figures: [
      {
        figure: `KDMs to ${COUNT} projectors`,
        value: report.kdm.perSecond,
        unit: 'KDMs/s',
        baseline: {
          what: 'raw node:crypto bound: 2 RSA-OAEP-SHA1 + 1 RSA-2048 signature per KDM, same threads',
          value: report.kdm.boundPerSecond,
          unit: '/s',
        },
        ratio: report.kdm.ratio,
        target: { on: 'ratio', op: '>=', bound: 0.7 },
        note: `${W} worker threads, ${ROUNDS} interleaved rounds`,
      },
      {
        figure: `raw RSA-OAEP deliveries to ${COUNT} projectors`,
        value: report.raw.perSecond,
        unit: 'deliveries/s',
        baseline: {
          what: 'raw node:crypto bound: 2 RSA-OAEP-SHA256 per recipient, same threads',
          value: report.raw.boundPerSecond,
          unit: '/s',
        },
        ratio: report.raw.ratio,
        target: { on: 'ratio', op: '>=', bound: 0.7 },
      },
      {
        figure: 'forwarding peak RSS',
        value: maxRss,
        unit: 'MiB',
        baseline: null,
        ratio: null,
        target: { on: 'value', op: '<=', bound: 512 },
        note: `at ${COUNT} projectors; the request's certificates (DER, shared by every thread) take ${Math.round(certs.used() / 1048576)} MiB`,
      },
    ],
  });
  console.log(`forward bench: ${COUNT} projectors, ${W} worker threads, 2 content keys, ${ROUNDS} interleaved rounds`);
  console.log(
    `  check        ${report.check.recipientsPerSecond} recipients/s (main thread: parse, chain to the maker root, profile)`,
  );
  console.log(
    `  KDM          ${report.kdm.perSecond}/s  vs bound ${report.kdm.boundPerSecond}/s (2×OAEP-SHA1 + 1 RSA-2048 sign per KDM)  ratio ${report.kdm.ratio}`,
  );
  console.log(
    `  raw OAEP     ${report.raw.perSecond}/s  vs bound ${report.raw.boundPerSecond}/s (2×OAEP-SHA256 per recipient)  ratio ${report.raw.ratio}`,
  );
  console.log(
    `  peak RSS     ${Object.entries(phasePeak)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')} MiB; process max ${maxRss} MiB; mean KDM ${report.kdm.meanBytes} bytes`,
  );
}
