/**
 * Attacks on forwarding by the party that runs the host (issue 16 items 2, 3 and the mediums;
 * issue 23's replays), against the real processes: `keycast enclave run --nsm sim` and
 * `keycast host run` on loopback (the shared enclave stack, test/enclave-stack.ts). The attacker
 * holds what a host holds — the studio's sealed keys and signed rules as they pass through,
 * older rules it once relayed, a projector's certificate and, as a projector maker or thief,
 * the excluded projector's private key — and talks to the enclave's API directly as well as
 * through the host. Each attack must end in the enclave's refusal code and no output; the
 * honest request must still be served exactly once, across a restart and a second instance.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { parseDcCertificate, type ForwardRules } from '#verifier';
import {
  buildDcCertificate,
  certificatePem,
  certificateThumbprint,
  rulesDigest,
  sealContentKeys,
  signRules,
} from '#verifier/build';
import { createProjectorPki, rsa2048 } from '../../enclave/index.ts';
import { start, type Proc } from '../enclave-e2e-helpers.ts';
import { startStack } from '../enclave-stack.ts';
import { CPL, DAY, KEY_IDS, isoZ, kdmT } from '../forward-fixtures.ts';

const post = async (base: string, body: unknown) => {
  const r = await fetch(`${base}/v1/forward`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await r.text();
  return {
    status: r.status,
    text,
    json: JSON.parse(text) as Record<string, unknown> & { evidence?: Record<string, unknown> },
  };
};

/** Peak resident memory of a process, in bytes (Linux). */
const peakRss = (pid: number) =>
  Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;

test('a hostile host cannot loosen, replay or exhaust forwarding', { timeout: 600_000 }, async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'keycast-hostile-forward-'));
  const procs: Proc[] = [];
  t.after(() => {
    for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    rmSync(tmp, { recursive: true, force: true });
  });
  const run = async (args: string[], env?: Record<string, string>) => {
    const p = await start(args, env);
    procs.push(p);
    return p;
  };
  const stack = await startStack(tmp, run);
  await stack.publish();
  const a = await stack.pair('store');
  const ready = await a.when('the identity', (s) => s.code === 200 && s.body.enclave.identity.ready, 30_000);
  const hpke = new Uint8Array(Buffer.from(ready.body.enclave.identity.hpkeX25519!, 'base64'));
  const pcr0 = Buffer.from((ready.body.enclave as unknown as { pcr0: string }).pcr0, 'hex');

  // the studio's world: a maker whose root allows one CA level (pathLen 1) with leaves directly under it
  const now = Date.now();
  const maker = createProjectorPki({ count: 60, keyPool: 4, now: new Date(now) });
  const subj = (CN: string) => ({ O: 'ACME-CINEMA.COM', OU: 'ACME-CINEMA Security', CN });
  const rootKeys = rsa2048();
  const sec = (ms: number) => new Date(Math.floor(ms / 1000) * 1000);
  const root = parseDcCertificate(
    buildDcCertificate({
      subject: subj('.ACME-CINEMA.ROOT-DIRECT'),
      serial: 11n,
      notBefore: sec(now - DAY),
      notAfter: sec(now + 900 * DAY),
      publicKey: rootKeys.publicKey,
      issuerPrivateKey: rootKeys.privateKey,
      ca: true,
      pathLen: 1,
      keyUsage: ['keyCertSign', 'cRLSign'],
    }),
  );
  const leaf = (cn: string, issuer = root, issuerKey = rootKeys.privateKey, keys = rsa2048()) => ({
    keys,
    cert: parseDcCertificate(
      buildDcCertificate({
        subject: subj(cn),
        issuer,
        serial: BigInt(`0x${randomBytes(6).toString('hex')}`) | 1n,
        notBefore: sec(now - DAY + 2000),
        notAfter: sec(now + 800 * DAY),
        publicKey: keys.publicKey,
        issuerPrivateKey: issuerKey,
        ca: false,
        keyUsage: ['digitalSignature', 'keyEncipherment', 'dataEncipherment'],
      }),
    ),
  });
  const good = leaf('LE SPB MD SM.PROJECTOR-000001.ACME-CINEMA');
  const excluded = leaf('LE SPB MD SM.PROJECTOR-000002.ACME-CINEMA');
  // the excluded projector's key signs a fresh leaf: CA:FALSE, but a raw format skipped that check
  const forged = leaf('LE SPB MD SM.PROJECTOR-000099.ACME-CINEMA', excluded.cert, excluded.keys.privateKey);
  const notSm = leaf('LE SPB MD.PROJECTOR-000003.ACME-CINEMA');
  // a CN with a BEL in it (UTF8String; the builder writes PrintableString, so the bytes are patched: the
  // signature no longer matters, the name is refused before any chain is built)
  const bellDer = Buffer.from(leaf('LE SPB MD SM.PROJECTOR-Z.ACME-CINEMA').cert.der);
  const at = bellDer.indexOf('LE SPB MD SM.PROJECTOR-Z');
  bellDer[at - 2] = 0x0c;
  bellDer[at + 'LE SPB MD SM.PROJECTOR-'.length] = 0x07;
  const bell = { cert: { der: new Uint8Array(bellDer) } };

  const studio = generateKeyPairSync('ed25519');
  const studioPem = studio.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const contentKeys = [
    { id: KEY_IDS[0]!, type: 'MDIK' as const, key: new Uint8Array(randomBytes(16)) },
    { id: KEY_IDS[1]!, type: 'MDAK' as const, key: new Uint8Array(randomBytes(16)) },
  ];
  const rulesOf = (over: Partial<ForwardRules> = {}): ForwardRules => ({
    type: 'keycast-forward-rules/v2',
    film: { cplId: CPL, title: 'Hostile Host Test' },
    contentKeyIds: KEY_IDS,
    kdmWindow: { notBefore: kdmT(now + DAY), notAfter: kdmT(now + 15 * DAY) },
    forwardFrom: isoZ(now - DAY),
    forwardUntil: isoZ(now + 10 * DAY),
    recipients: {
      thumbprints: [],
      roots: [root, maker.root].map((c) => Buffer.from(c.der).toString('base64')),
      excluded: [certificateThumbprint(excluded.cert)],
      roles: ['SM'],
    },
    formats: ['kdm', 'raw-rsa-oaep'],
    limits: { maxKdmValidityDays: 30, maxRecipients: 1000 },
    ...over,
  });
  const today = rulesOf();
  const seal = (r: ForwardRules) =>
    sealContentKeys(
      { cplId: CPL, keys: contentKeys.map((k) => ({ ...k, key: k.key.slice() })) },
      hpke,
      pcr0,
      studioPem,
      rulesDigest(r),
    );
  const sealedToday = await seal(today);
  const body = (o: {
    recipients: Uint8Array[];
    format?: string;
    rules?: ForwardRules;
    sealed?: string;
    expires?: string;
  }) => ({
    sealedKeys: o.sealed ?? sealedToday,
    rules: signRules(o.rules ?? today, studio.privateKey),
    recipients: o.recipients.map((d) => certificatePem(d)),
    intermediates: [certificatePem(maker.intermediate.der)],
    format: o.format ?? 'kdm',
    expires: o.expires ?? isoZ(Date.now() + 3600_000),
  });
  const refused = async (base: string, b: unknown, code: string, cause?: string) => {
    const r = await post(base, b);
    assert.equal(r.json.code, code, r.text.slice(0, 400));
    assert.equal(r.json.outputs, undefined);
    if (cause) assert.equal(r.json.evidence?.cause, cause, r.text.slice(0, 400));
    return r;
  };
  const enclaveUrl = a.enclave.url;

  await t.test(
    'issue 16 item 2: a leaf the excluded projector signed, in a raw format, is refused (CERT_CHAIN)',
    async () => {
      await refused(
        enclaveUrl,
        body({ recipients: [forged.cert.der], format: 'raw-rsa-oaep' }),
        'FORWARD_RECIPIENT_NOT_ALLOWED',
        'CERT_CHAIN',
      );
      await refused(enclaveUrl, body({ recipients: [forged.cert.der] }), 'FORWARD_RECIPIENT_NOT_ALLOWED');
    },
  );

  await t.test(
    'issue 16 item 2: a certificate without a role the rules allow is refused in every format (CERT_ROLE)',
    async () => {
      await refused(
        enclaveUrl,
        body({ recipients: [notSm.cert.der], format: 'raw-rsa-oaep' }),
        'FORWARD_RECIPIENT_NOT_ALLOWED',
        'CERT_ROLE',
      );
    },
  );

  await t.test('issue 16 item 2: a format the rules do not name is refused (FORWARD_FORMAT_NOT_ALLOWED)', async () => {
    const kdmOnly = rulesOf({ formats: ['kdm'] });
    await refused(
      enclaveUrl,
      body({ recipients: [good.cert.der], format: 'raw-rsa-oaep', rules: kdmOnly, sealed: await seal(kdmOnly) }),
      'FORWARD_FORMAT_NOT_ALLOWED',
    );
  });

  await t.test(
    'issue 16 item 3: older, looser rules the studio signed do not release keys sealed for today’s rules',
    async () => {
      const older = rulesOf({ recipients: { ...today.recipients, excluded: [] } });
      await refused(
        enclaveUrl,
        body({ recipients: [excluded.cert.der], rules: older }),
        'SEALED_BINDING',
        'RULES_DIGEST',
      );
      // relabelling the sealed header with the older rules' digest breaks the HPKE binding
      const relabelled = JSON.stringify({ ...JSON.parse(sealedToday), rulesDigest: rulesDigest(older) });
      await refused(
        enclaveUrl,
        body({ recipients: [excluded.cert.der], rules: older, sealed: relabelled }),
        'SEALED_BINDING',
      );
      // keys sealed before the rules were bound (v1): refused with their own code
      const { rulesDigest: _d, ...v1 } = JSON.parse(sealedToday);
      await refused(
        enclaveUrl,
        body({ recipients: [good.cert.der], sealed: JSON.stringify({ ...v1, type: 'keycast-sealed-keys/v1' }) }),
        'SEALED_OUTDATED',
      );
    },
  );

  await t.test(
    'issue 16 medium: a control character in a recipient name is refused before the claim; the retry is not a replay',
    async () => {
      const b = body({ recipients: [bell.cert.der] });
      await refused(enclaveUrl, b, 'FORWARD_RECIPIENT_NAME');
      await refused(enclaveUrl, b, 'FORWARD_RECIPIENT_NAME');
    },
  );

  await t.test(
    'issue 16 medium: a 32 MiB deeply nested body is refused while it streams in, in bounded memory',
    async () => {
      const pid = a.enclave.child.pid!;
      const before = peakRss(pid);
      const deep = `{"recipients":${'['.repeat(32 * 1024 * 1024 - 20)}`;
      const started = Date.now();
      const r = await post(enclaveUrl, deep);
      assert.equal(r.status, 400, r.text.slice(0, 200));
      assert.equal(r.json.code, 'MALFORMED');
      assert.ok(Date.now() - started < 20_000, 'refused promptly');
      const grown = peakRss(pid) - before;
      assert.ok(grown < 256 * 1024 * 1024, `the enclave's peak memory grew by ${grown} bytes`);
      // through the host too
      const h = await post(a.host.url, deep);
      assert.equal(h.json.code, 'MALFORMED');
      // and the enclave still serves
      assert.equal((await post(a.host.url, body({ recipients: [good.cert.der] }))).status, 200);
    },
  );

  await t.test(
    'issue 23: without an expiry (the old format) or past it, a request is refused with its own code',
    async () => {
      const { expires: _e, ...old } = body({ recipients: [good.cert.der] });
      await refused(a.host.url, old, 'REQUEST_OUTDATED');
      await refused(enclaveUrl, old, 'REQUEST_OUTDATED');
      await refused(
        enclaveUrl,
        body({ recipients: [good.cert.der], expires: isoZ(Date.now() - 1000) }),
        'REQUEST_EXPIRED',
      );
      await refused(
        enclaveUrl,
        body({ recipients: [good.cert.der], expires: isoZ(Date.now() + 2 * DAY) }),
        'REQUEST_EXPIRED',
      );
    },
  );

  await t.test('issue 16 medium: an answer the host did not get is not lost — the retry is served', async () => {
    const b = JSON.stringify(body({ recipients: maker.projectors.map((p) => p.certificate.der) }));
    // the hostile (or crashing) host sends the request to the enclave and hangs up before the answer
    await new Promise<void>((done) => {
      const u = new URL(`${enclaveUrl}/v1/forward`);
      const req = httpRequest({
        host: u.hostname,
        port: u.port,
        path: u.pathname,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
      });
      req.on('error', () => done());
      // hang up as soon as the body is flushed: the enclave is still opening and forwarding (an
      // answer already written to the socket when the host dies is the gap the README names)
      req.end(b, () =>
        setImmediate(() => {
          req.destroy();
          done();
        }),
      );
    });
    await new Promise((r) => setTimeout(r, 3000));
    const r = await post(a.host.url, b);
    assert.equal(r.status, 200, r.text.slice(0, 300));
  });

  await t.test(
    'issue 23: a replay is refused at the same host, after a restart, and at a second instance',
    async () => {
      const b = body({ recipients: [good.cert.der] });
      const first = await post(a.host.url, b);
      assert.equal(first.status, 200, first.text.slice(0, 300));
      const digest = first.json.requestDigest as string;
      const again = await refused(a.host.url, b, 'FORWARD_REPLAY');
      assert.equal(again.json.evidence?.requestDigest, digest);
      // the stored answer is re-served to whoever lost it
      const stored = await fetch(`${a.host.url}/v1/forward/${digest}`);
      assert.equal(stored.status, 200);
      assert.equal((JSON.parse(await stored.text()) as { requestDigest: string }).requestDigest, digest);
      // a second instance sharing the store (its enclave has never seen the request)
      const b2 = await stack.pair('store');
      await b2.when('the second identity', (s) => s.code === 200 && s.body.enclave.identity.ready, 30_000);
      await refused(b2.host.url, b, 'FORWARD_REPLAY');
      // restart: both pairs stop, a fresh pair on the same store
      await a.stop();
      await b2.stop();
      const c = await stack.pair('store');
      await c.when('the identity after a restart', (s) => s.code === 200 && s.body.enclave.identity.ready, 30_000);
      await refused(c.host.url, b, 'FORWARD_REPLAY');
      // two instances racing on a new request: exactly one serves it
      const d = await stack.pair('store');
      await d.when('the racing identity', (s) => s.code === 200 && s.body.enclave.identity.ready, 30_000);
      const race = body({ recipients: [good.cert.der] });
      const results = await Promise.all([post(c.host.url, race), post(d.host.url, race)]);
      assert.deepEqual(
        results.map((x) => x.status).sort(),
        [200, 409],
        results.map((x) => x.text.slice(0, 200)).join('\n'),
      );
    },
  );
});
