/**
 * What delivery transparency (issue 19) costs a forward request, measured end to end through the
 * real processes on loopback (the test stack: SQLite log with 3 witnesses, dev-kms, `keycast
 * enclave run --nsm sim` + `keycast host run`): the same requests (N KDMs each, same rules, same
 * recipients) through a transparent enclave (`"deliveries": { "required": true }`: pending answer,
 * `POST /add-entry` of the delivery entry and its sealed manifest, the enclave's release after it
 * verifies the inclusion proof) and through an enclave pinned without it (the no-log baseline),
 * interleaved in rounds on the same machine in the same run. Figures: median ms per request for
 * each, at 1 KDM and at N KDMs a request (the added cost does not grow with N), and the log round
 * trips per request the host counted (`keycast_delivery_log_round_trips_total`), which must be 1.
 *
 * Usage: node --import tsx bench/forward/deliveries.ts [--kdms N (50; --quick 10)] [--rounds R (8; --quick 3)] [--json]
 * Setup (processes, identities, certificates) is not timed. On a shared machine compare within one run.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { ForwardRules } from '#verifier';
import {
  auditPublicKey,
  certificatePem,
  formatEnclaveConfig,
  fromBase64,
  rulesDigest,
  sealContentKeys,
  signRules,
  toBase64,
} from '#verifier/build';
import { createProjectorPki } from '../../enclave/index.ts';
import { start, startStack, type Proc } from '../../test/index.ts';
import { emitResult } from '../result.ts';

const { values } = parseArgs({
  options: {
    kdms: { type: 'string' },
    rounds: { type: 'string' },
    json: { type: 'boolean' },
    quick: { type: 'boolean' },
  },
});
const N = Number(values.kdms ?? (values.quick ? 10 : 50));
const ROUNDS = Number(values.rounds ?? (values.quick ? 3 : 8));
const log = (s: string) => {
  if (!values.json) process.stderr.write(`${s}\n`);
};

const tmp = mkdtempSync(join(tmpdir(), 'keycast-bench-deliveries-'));
const procs: Proc[] = [];
const run = async (args: string[], env?: Record<string, string>) => {
  const p = await start(args, env);
  procs.push(p);
  return p;
};
const cleanup = async () => {
  await Promise.all(procs.map((p) => p.stop().catch(() => undefined)));
  rmSync(tmp, { recursive: true, force: true });
};

try {
  log('setup: log + 3 witnesses + dev-kms, a transparent enclave and a plain one, each with its host…');
  const stack = await startStack(tmp, run);
  await stack.publish();
  // identity entries need the log to trust the simulator's root
  await stack.log.stop();
  await stack.startLog(['--trust-root', join(tmp, 'root.pem')]);
  writeFileSync(
    join(tmp, 'enclave-transparent.json'),
    formatEnclaveConfig({ ...stack.config(600), deliveries: { required: true } }),
  );
  const pairs = {
    logged: await stack.pair('store-logged', 'enclave-transparent.json'),
    plain: await stack.pair('store-plain'),
  };
  const ids: Record<string, { hpke: Uint8Array }> = {};
  for (const [k, p] of Object.entries(pairs)) {
    const s = await p.when('identity', (x) => x.code === 200 && x.body.enclave.identity.ready, 60_000);
    ids[k] = { hpke: fromBase64(s.body.enclave.identity.hpkeX25519!) };
  }

  const pki = createProjectorPki({ count: N, keyPool: 4 });
  const studio = generateKeyPairSync('ed25519');
  const audit = generateKeyPairSync('x25519');
  const now = Date.now();
  const pad = (n: number) => String(n).padStart(2, '0');
  const kdmT = (ms: number) => {
    const d = new Date(Math.floor(ms / 1000) * 1000);
    return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}+00:00`;
  };
  const isoZ = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
  const cpl = 'urn:uuid:0b5c8a2e-6d7f-4e11-9c3a-2f4e5d6c7b8a';
  const keyId = 'urn:uuid:1a2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c8d';
  // the same rules (with the audit key) for both: the plain enclave ignores it
  const rules: ForwardRules = {
    type: 'keycast-forward-rules/v2',
    film: { cplId: cpl, title: 'Bench Film' },
    contentKeyIds: [keyId],
    kdmWindow: { notBefore: kdmT(now + 86_400_000), notAfter: kdmT(now + 8 * 86_400_000) },
    forwardFrom: isoZ(now - 86_400_000),
    forwardUntil: isoZ(now + 5 * 86_400_000),
    recipients: { thumbprints: [], roots: [toBase64(pki.root.der)], excluded: [], roles: ['SM'] },
    formats: ['kdm'],
    limits: { maxKdmValidityDays: 14, maxRecipients: 100_000 },
    audit: { hpkeX25519: toBase64(auditPublicKey(audit.publicKey)) },
  };
  const signed = signRules(rules, studio.privateKey);
  const studioPem = studio.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const sealed: Record<string, string> = {};
  for (const k of Object.keys(pairs))
    sealed[k] = await sealContentKeys(
      { cplId: cpl, keys: [{ id: keyId, type: 'MDIK', key: new Uint8Array(16).fill(7) }] },
      ids[k]!.hpke,
      Buffer.from(stack.f.pcr0, 'hex'),
      studioPem,
      rulesDigest(rules),
    );
  const pems = pki.projectors.map((p) => certificatePem(p.certificate.der));
  let seq = 0;
  const base = Date.now() + 3_600_000;
  /** One forward request of `count` KDMs through `which`'s host; its wall time in ms. */
  const forward = async (which: keyof typeof pairs, count: number): Promise<number> => {
    const body = JSON.stringify({
      sealedKeys: sealed[which],
      rules: signed,
      recipients: pems.slice(0, count),
      intermediates: [certificatePem(pki.intermediate.der)],
      format: 'kdm',
      // a distinct expiry per request: a distinct request digest
      expires: isoZ(base - 1000 * seq++),
    });
    const t = performance.now();
    const r = await fetch(`${pairs[which].host.url}/v1/forward`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    const text = await r.text();
    const ms = performance.now() - t;
    if (r.status !== 200) throw new Error(`${which}: ${r.status} ${text.slice(0, 300)}`);
    const a = JSON.parse(text) as { outputs: unknown[]; delivery?: { index: number } };
    if (a.outputs.length !== count) throw new Error(`${which}: ${a.outputs.length} outputs for ${count}`);
    if ((which === 'logged') !== (a.delivery !== undefined))
      throw new Error(`${which}: delivery field ${!!a.delivery}`);
    return ms;
  };

  // warm-up (JIT, keep-alive, the identity entry), not reported
  for (const k of ['logged', 'plain'] as const) {
    await forward(k, 1);
    await forward(k, N);
  }
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  };
  const times = {
    logged: { 1: [] as number[], [N]: [] as number[] },
    plain: { 1: [] as number[], [N]: [] as number[] },
  };
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 ? (['plain', 'logged'] as const) : (['logged', 'plain'] as const);
    for (const count of [1, N])
      for (const k of order) (times[k] as Record<number, number[]>)[count]!.push(await forward(k, count));
    log(`  round ${r + 1}/${ROUNDS} done`);
  }
  const requests = seq;
  const loggedRequests = requests / 2;

  // the host's own count of log round trips for deliveries, and the log's entries
  const metrics = await (await fetch(`${pairs.logged.host.url}/metrics`)).text();
  const sample = (step: string) =>
    Number(
      new RegExp(`^keycast_delivery_log_round_trips_total\\{step="${step}",outcome="ok"\\} (\\d+)$`, 'm').exec(
        metrics,
      )?.[1] ?? 0,
    );
  const deliveryTrips = sample('delivery');
  const tripSeconds = Number(
    /^keycast_delivery_log_round_trip_seconds_total\{step="delivery",outcome="ok"\} ([0-9.e+-]+)$/m.exec(
      metrics,
    )?.[1] ?? 0,
  );
  const msPerTrip = Math.round((tripSeconds * 1000 * 100) / Math.max(1, deliveryTrips)) / 100;
  const identityTrips = sample('identity');
  const plainMetrics = await (await fetch(`${pairs.plain.host.url}/metrics`)).text();
  const plainTrips = /^keycast_delivery_log_round_trips_total\{/m.test(plainMetrics) ? 1 : 0;
  let deliveryEntries = 0;
  for (let i = 0; ; i++) {
    const r = await fetch(`${stack.log.url.replace(/\/$/, '')}/entry/${i}`);
    if (r.status !== 200) break;
    if (((await r.json()) as { kind: string }).kind === 'delivery') deliveryEntries++;
  }

  const m = {
    logged1: median(times.logged[1]),
    plain1: median(times.plain[1]),
    loggedN: median((times.logged as Record<number, number[]>)[N]!),
    plainN: median((times.plain as Record<number, number[]>)[N]!),
  };
  const round2 = (x: number) => Math.round(x * 100) / 100;
  const report = {
    kdms: N,
    rounds: ROUNDS,
    requests: { logged: loggedRequests, plain: requests / 2 },
    msPerRequest: {
      oneKdm: { logged: round2(m.logged1), plain: round2(m.plain1), added: round2(m.logged1 - m.plain1) },
      [`${N}Kdms`]: { logged: round2(m.loggedN), plain: round2(m.plainN), added: round2(m.loggedN - m.plainN) },
    },
    logRoundTrips: {
      delivery: deliveryTrips,
      identity: identityTrips,
      perRequest: round2(deliveryTrips / loggedRequests),
      msEach: msPerTrip,
      plainHost: plainTrips,
    },
    deliveryEntries,
  };
  if (deliveryTrips !== loggedRequests || deliveryEntries !== loggedRequests)
    throw new Error(`expected one log round trip and one entry per request: ${JSON.stringify(report.logRoundTrips)}`);
  if (values.json) console.log(JSON.stringify(report, null, 2));
  else {
    emitResult({
      bench: 'forward-deliveries',
      quick: Boolean(values.quick),
      figures: [
        {
          figure: 'forward request of 1 KDM through a transparent enclave (delivery entry on the log)',
          value: round2(m.logged1),
          unit: 'ms/request',
          baseline: {
            what: 'the same request through an enclave pinned without deliveries (no log)',
            value: round2(m.plain1),
            unit: 'ms/request',
          },
          ratio: round2(m.logged1 / m.plain1),
          target: null,
          note: `median of ${ROUNDS} interleaved rounds, through the hosts over loopback HTTP`,
        },
        {
          figure: `forward request of ${N} KDMs through a transparent enclave`,
          value: round2(m.loggedN),
          unit: 'ms/request',
          baseline: { what: `the same ${N}-KDM request without the log`, value: round2(m.plainN), unit: 'ms/request' },
          ratio: round2(m.loggedN / m.plainN),
          target: null,
          note: `added ${round2(m.loggedN - m.plainN)} ms a request (${round2((m.loggedN - m.plainN) / N)} ms a KDM) vs ${round2(m.logged1 - m.plain1)} ms at 1 KDM`,
        },
        {
          figure: 'log round trips per forward request (delivery entries)',
          value: round2(deliveryTrips / loggedRequests),
          unit: 'round trips/request',
          baseline: null,
          ratio: null,
          target: { on: 'value', op: '<=', bound: 1 },
          note: `${deliveryTrips} delivery + ${identityTrips} identity add-entry calls for ${loggedRequests} requests of 1 or ${N} KDMs; ${deliveryEntries} delivery entries on the log; ${msPerTrip} ms a round trip (the log answers once the entry is integrated and its checkpoint cosigned)`,
        },
      ],
    });
    console.log(`forward deliveries bench: requests of 1 and ${N} KDMs, ${ROUNDS} interleaved rounds`);
    console.log(
      `  1 KDM      logged ${report.msPerRequest.oneKdm.logged} ms  vs no log ${report.msPerRequest.oneKdm.plain} ms  (+${report.msPerRequest.oneKdm.added} ms)`,
    );
    console.log(
      `  ${N} KDMs    logged ${round2(m.loggedN)} ms  vs no log ${round2(m.plainN)} ms  (+${round2(m.loggedN - m.plainN)} ms)`,
    );
    console.log(
      `  log        ${deliveryTrips} delivery round trips for ${loggedRequests} requests (${report.logRoundTrips.perRequest} a request, ${msPerTrip} ms each), ${identityTrips} identity; ${deliveryEntries} delivery entries`,
    );
  }
} finally {
  await cleanup();
}
