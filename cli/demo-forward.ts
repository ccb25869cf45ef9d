/**
 * The demo's forwarding chapter, once the enclave is open and holds its identity: a studio
 * verifies the live enclave (`verify enclave --out`), a projector maker's PKI is generated
 * (`dev certs`), the studio signs rules allowing every projector under the maker's root but one,
 * seals the film's two content keys to the attested enclave and forwards them through the host —
 * one KDM per projector and a receipt verified before anything is written. One projector opens
 * its KDM; the studio proves that delivery from the receipt; a request naming the excluded
 * projector is refused and writes nothing. Then the mastering step: a DKDM for the enclave's
 * attested KDM decryption certificate, forwarded under rules its signer endorsed (the sealed
 * path above stays for raw outputs). Every outcome is a check decided by what the commands answered.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, copyFileSync, writeFileSync } from 'node:fs';
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { basename } from 'node:path';
import { parseDcCertificate } from '#verifier';
import { buildKdm, kdmSigner, pemCertificates } from '#verifier/build';
import { decodeDeliveryEntryLeaf, openManifest, parseAuditPrivateKey, parseKdmLoggedProof } from '#verifier';
import { auditPublicKey, fromBase64, toBase64 } from '#verifier/build';
import { createSignerChain } from '../enclave/index.ts';
import type { DemoContext } from './demo-checks.ts';
import type { RunResult } from './demo-steps.ts';

const PROJECTORS = 301; // 300 forwarded, and one more under the same root that the rules exclude
const DAY = 86_400_000;

const pad2 = (n: number) => String(n).padStart(2, '0');
const kdmTime = (t: number) => {
  const d = new Date(t);
  return `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}T${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:00+00:00`;
};
const isoZ = (t: number) => new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');

function json<T>(r: RunResult): T | undefined {
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    return undefined;
  }
}

export interface ForwardDemo {
  hostUrl: string;
  logUrl: string;
  logVkey: string;
  witnessVkey: string;
  /** the HPKE key the host's status names (base64) */
  hpke: string;
  check(name: string, ok: boolean, detail: string): void;
}

export async function forwardChecks(c: DemoContext, d: ForwardDemo): Promise<void> {
  const { say, p } = c;
  say.step(
    'The studio verifies the live enclave and keeps what it proved: its HPKE key, receipt key and KDM signer chain digest',
  );
  const ve = await c.keycast([
    'verify',
    'enclave',
    d.hostUrl,
    '--log',
    d.logUrl,
    '--log-key',
    d.logVkey,
    '--witness',
    d.witnessVkey,
    '--publisher',
    p('release.pem.pub'),
    '--trust-root',
    p('test-root.pem'),
    '--out',
    p('enclave-verified.json'),
    '--dkdm-certificate',
    p('enclave-dkdm.pem'),
    '--json',
  ]);
  const rec = json<{
    hpkeX25519?: string;
    receiptsEd25519?: string;
    kdmChainSha256?: string | null;
    releaseIndex?: number;
    pcr0?: string;
  }>(ve);
  d.check(
    'enclave keys bound',
    ve.code === 0 &&
      rec?.hpkeX25519 === d.hpke &&
      typeof rec.receiptsEd25519 === 'string' &&
      typeof rec.kdmChainSha256 === 'string',
    ve.code === 0
      ? `release #${rec?.releaseIndex}, fresh nonce; identity binding: HPKE ${rec?.hpkeX25519?.slice(0, 12)}… (the host's), receipts ${rec?.receiptsEd25519?.slice(0, 12)}…, KDM chain ${rec?.kdmChainSha256?.slice(0, 12)}… → enclave-verified.json`
      : `refused: ${ve.stdout.trim().slice(0, 200)}`,
  );

  say.step(
    `A projector maker's PKI (${PROJECTORS} Security Manager certificates), the studio's rules, and the film's content keys sealed to the enclave`,
  );
  await c.keycastOk(['dev', 'certs', '--projectors', String(PROJECTORS), '--key-pool', '8', '--out', p('projectors')]);
  const made = JSON.parse(readFileSync(p('projectors', 'recipients.json'), 'utf8')) as {
    roots: string[];
    thumbprints: string[];
  };
  const excludedThumb = made.thumbprints[PROJECTORS - 1]!;
  await c.keycastOk(['release', 'keygen', '--out', p('studio.pem')]);
  // the studio's audit key (what `openssl genpkey -algorithm X25519` writes): the enclave seals each
  // delivery's manifest — who received what — to it; the public log shows only counts and digests
  writeFileSync(p('audit.key'), generateKeyPairSync('x25519').privateKey.export({ type: 'pkcs8', format: 'pem' }), {
    mode: 0o600,
  });
  const auditKey = parseAuditPrivateKey(readFileSync(p('audit.key')));
  const cplId = `urn:uuid:${randomUUID()}`;
  const keyIds = [`urn:uuid:${randomUUID()}`, `urn:uuid:${randomUUID()}`];
  const now = Date.now();
  const window = { notBefore: kdmTime(now + DAY), notAfter: kdmTime(now + 8 * DAY) };
  writeFileSync(
    p('rules.json'),
    JSON.stringify(
      {
        type: 'keycast-forward-rules/v2',
        film: { cplId, title: 'Keycast Demo Feature' },
        contentKeyIds: keyIds,
        kdmWindow: window,
        forwardFrom: isoZ(now - DAY),
        forwardUntil: isoZ(now + 7 * DAY),
        recipients: { thumbprints: [], roots: made.roots, excluded: [excludedThumb], roles: ['SM', 'RX'] },
        formats: ['kdm', 'raw-rsa-oaep', 'raw-hpke'],
        limits: { maxKdmValidityDays: 14, maxRecipients: 1000 },
        audit: { hpkeX25519: toBase64(auditPublicKey(auditKey)) },
      },
      null,
      2,
    ),
  );
  say.say(
    `rules.json: CPL ${cplId}, KDM window ${window.notBefore} → ${window.notAfter}, every projector under the maker's root except ${excludedThumb}; audit: the studio's audit key (audit.key)`,
  );
  await c.keycastOk(['rules', 'sign', p('rules.json'), '--key', p('studio.pem'), '--out', p('rules.dsse')]);
  const keys = [randomBytes(16).toString('hex'), randomBytes(16).toString('hex')];
  writeFileSync(
    p('film-keys.json'),
    JSON.stringify({
      cplId,
      keys: [
        { id: keyIds[0], type: 'MDIK', key: keys[0] },
        { id: keyIds[1], type: 'MDAK', key: keys[1] },
      ],
    }),
    { mode: 0o600 },
  );
  // seal and forward verify the record again (its attestation) and ask the log whether its PCR0 is a logged release
  const trust = [
    ...['--log', d.logUrl, '--log-key', d.logVkey, '--witness', d.witnessVkey],
    ...['--trust-root', p('test-root.pem')],
  ];
  await c.keycastOk([
    'seal',
    ...trust,
    '--enclave',
    p('enclave-verified.json'),
    '--keys',
    p('film-keys.json'),
    '--rules-key',
    p('studio.pem.pub'),
    '--rules',
    p('rules.dsse'),
    '--out',
    p('sealed.json'),
  ]);

  // the studio's recipient list: every projector certificate but the excluded one, and the maker CA
  const pems = readdirSync(p('projectors', 'projectors'))
    .filter((n) => n.endsWith('.pem'))
    .sort();
  const excludedFile = pems[PROJECTORS - 1]!;
  for (const [dir, list] of [
    ['recipients', pems.slice(0, -1)],
    ['recipients-all', pems],
  ] as const) {
    mkdirSync(p(dir), { recursive: true });
    for (const n of list) copyFileSync(p('projectors', 'projectors', n), p(dir, n));
    copyFileSync(p('projectors', 'maker-ca.pem'), p(dir, 'maker-ca.pem'));
  }

  say.step(
    'The studio forwards the keys through the host: the enclave checks every projector against the rules, writes one KDM each, signs a receipt',
  );
  const fwd = await c.keycast([
    'forward',
    ...trust,
    '--host',
    d.hostUrl,
    '--enclave',
    p('enclave-verified.json'),
    '--sealed',
    p('sealed.json'),
    '--rules',
    p('rules.dsse'),
    '--recipients',
    p('recipients'),
    '--out',
    p('kdms'),
    '--json',
  ]);
  const sum = json<{ recipients?: number; root?: string }>(fwd);
  const index =
    fwd.code === 0
      ? (
          JSON.parse(readFileSync(p('kdms', 'index.json'), 'utf8')) as {
            recipients: Array<{ file: string; proof: string; source: string; thumbprint: string }>;
          }
        ).recipients
      : [];
  const kdmFiles = index.filter((r) => r.file.endsWith('.kdm.xml') && existsSync(p('kdms', r.file))).length;
  d.check(
    'forwarded 300 KDMs',
    fwd.code === 0 &&
      sum?.recipients === PROJECTORS - 1 &&
      kdmFiles === PROJECTORS - 1 &&
      existsSync(p('kdms', 'receipt.json')),
    fwd.code === 0
      ? `${kdmFiles} KDMs + receipt.json in kdms/; the receipt (root ${sum?.root?.slice(0, 16)}…) verified with the attested receipt key before anything was written`
      : `refused: ${fwd.stdout.trim().slice(0, 300)}`,
  );

  await deliveryChecks(c, d, { auditKey, count: PROJECTORS - 1, ok: fwd.code === 0 });

  say.step('Projector #42 opens its KDM with its own private key; the studio proves that delivery from the receipt');
  const sample = index[41];
  if (sample) {
    const inspect = await c.keycast([
      'kdm',
      'inspect',
      p('kdms', sample.file),
      '--key',
      p('projectors', 'projectors', basename(sample.source).replace(/\.pem$/, '.key')),
      '--json',
    ]);
    const view = json<{
      signature?: string;
      cplId?: string;
      window?: string[];
      keys?: Array<{ id: string; type: string; key: string }>;
    }>(inspect);
    const got = JSON.stringify(view?.keys?.map((k) => [k.id, k.type, k.key]) ?? null);
    const want = JSON.stringify([
      [keyIds[0], 'MDIK', keys[0]],
      [keyIds[1], 'MDAK', keys[1]],
    ]);
    const okView =
      inspect.code === 0 &&
      view?.signature === 'verified' &&
      got === want &&
      view.cplId === cplId &&
      JSON.stringify(view.window) === JSON.stringify([window.notBefore, window.notAfter]);
    d.check(
      'projector decrypts',
      okView,
      okView
        ? `signature verified; exactly the 2 sealed keys (MDIK, MDAK) for CPL ${cplId.slice(9, 17)}…, window ${window.notBefore} → ${window.notAfter}`
        : `kdm inspect exit ${inspect.code}: ${inspect.stdout.trim().slice(0, 200)}`,
    );
    const rv = await c.keycast([
      'receipt',
      'verify',
      p('kdms', 'receipt.json'),
      '--enclave',
      p('enclave-verified.json'),
      '--trust-root',
      p('test-root.pem'),
      '--delivery',
      p('kdms', sample.file),
      '--proof',
      p('kdms', sample.proof),
    ]);
    d.check(
      'delivery in receipt',
      rv.code === 0 && rv.stdout.includes('is in the receipt'),
      rv.code === 0 ? rv.stdout.trim().split('\n').pop()! : `refused: ${rv.stderr.trim()}`,
    );
  } else d.check('projector decrypts', false, 'no KDM to open');

  say.step('A request that also names the excluded projector is refused whole');
  const bad = await c.keycast([
    'forward',
    ...trust,
    '--host',
    d.hostUrl,
    '--enclave',
    p('enclave-verified.json'),
    '--sealed',
    p('sealed.json'),
    '--rules',
    p('rules.dsse'),
    '--recipients',
    p('recipients-all'),
    '--out',
    p('kdms-refused'),
    '--json',
  ]);
  const err = json<{
    code?: string;
    evidence?: { recipient?: { thumbprint?: string; subject?: string } };
  }>(bad);
  const refusedOk =
    bad.code === 5 &&
    err?.code === 'FORWARD_RECIPIENT_NOT_ALLOWED' &&
    err.evidence?.recipient?.thumbprint === excludedThumb &&
    !existsSync(p('kdms-refused'));
  d.check(
    'excluded refused',
    refusedOk,
    refusedOk
      ? `${err?.code} for ${excludedFile} (${err?.evidence?.recipient?.thumbprint}); no KDM for anyone, nothing written`
      : `exit ${bad.code}: ${bad.stdout.trim().slice(0, 200)}`,
  );

  await dkdmChapter(c, d, { trust, cplId, keyIds, keys, window, pcr0: rec?.pcr0 ?? '' });
}

/**
 * Every KDM on the record (issue 19): the enclave pins `deliveries.required`, so the forward above
 * was released only once its delivery entry was on the log — keycast forward checked that entry
 * (signed by the attested receipt key, this request's root and count, included under a checkpoint
 * the log key signs) and wrote a .logged.json proof beside each KDM. Here the demo reads the entry
 * back from the log (its public face: a count, digests, no projector), and the studio opens the
 * manifest the log serves with its audit key: exactly the projectors it sent to.
 */
async function deliveryChecks(
  c: DemoContext,
  d: ForwardDemo,
  f: { auditKey: ReturnType<typeof parseAuditPrivateKey>; count: number; ok: boolean },
): Promise<void> {
  const { say, p } = c;
  say.step(
    'The transparent enclave: that forward is on the log — one delivery entry (a count, digests, the enclave key), a proof beside each KDM, the manifest only the studio opens',
  );
  if (!f.ok) return d.check('delivery on the log', false, 'the forward above failed');
  const index = JSON.parse(readFileSync(p('kdms', 'index.json'), 'utf8')) as {
    batches: Array<{ logIndex?: number }>;
    recipients: Array<{ thumbprint: string; file: string; logged?: string }>;
  };
  const at = index.batches[0]?.logIndex;
  const proofs = index.recipients.filter((r) => r.logged && existsSync(p('kdms', r.logged)));
  const proofsOk = proofs.every((r) => parseKdmLoggedProof(readFileSync(p('kdms', r.logged!))).entryIndex === at);
  const entry =
    at === undefined
      ? null
      : ((await (await fetch(`${d.logUrl}/entry/${at}`)).json()) as {
          kind?: string;
          count?: number;
          leaf?: string;
        });
  const opened = entry?.leaf ? decodeDeliveryEntryLeaf(fromBase64(entry.leaf)) : null;
  const publicText = entry?.leaf ? Buffer.from(entry.leaf, 'base64').toString('latin1') : '';
  const anonymous = index.recipients.every(
    (r) =>
      !publicText.includes(r.thumbprint) && !publicText.includes(Buffer.from(r.thumbprint, 'base64').toString('hex')),
  );
  const onLog =
    entry?.kind === 'delivery' &&
    entry.count === f.count &&
    opened?.entry.count === f.count &&
    proofs.length === f.count &&
    proofsOk &&
    anonymous;
  d.check(
    'delivery on the log',
    onLog,
    onLog
      ? `log entry #${at}: kind delivery, count ${entry?.count}, signed by the enclave's receipt key, no projector named; ${proofs.length} .logged.json proofs in kdms/ (keycast forward checked the entry's inclusion under the log key before writing)`
      : `entry #${at}: ${JSON.stringify(entry).slice(0, 200)}; ${proofs.length} proofs`,
  );
  const manifestAt = opened ? `${d.logUrl}/delivery-manifest/${opened.entry.manifest.sha256}` : '';
  let who: string[] = [];
  try {
    const sealed = new Uint8Array(await (await fetch(manifestAt)).arrayBuffer());
    who = (await openManifest(sealed, f.auditKey, opened!.entry.requestDigest)).recipients.map((r) => r.thumbprint);
  } catch (e) {
    who = [];
    say.say(`the manifest did not open: ${(e as Error).message}`);
  }
  const same = JSON.stringify(who) === JSON.stringify(index.recipients.map((r) => r.thumbprint));
  d.check(
    'studio opens manifest',
    same,
    same
      ? `the sealed manifest the log serves opens with audit.key: exactly the ${who.length} projectors the studio sent to, in order`
      : `the manifest names ${who.length} projectors`,
  );
  say.step(
    'The studio watches the record: keycast monitor --deliveries lists every delivery under its rules, with the projectors only its audit key reveals',
  );
  const mon = await c.keycast([
    'monitor',
    '--deliveries',
    '--log',
    d.logUrl,
    '--log-key',
    d.logVkey,
    '--rules-key',
    p('studio.pem.pub'),
    '--audit-key',
    p('audit.key'),
    '--once',
    '--json',
  ]);
  const watched = json<{
    deliveries?: Array<{ index: number; count: number; recipients: Array<{ thumbprint: string; subject: string }> }>;
    alarms?: unknown[];
  }>(mon);
  const listed = watched?.deliveries?.find((x) => x.index === at);
  const monOk =
    mon.code === 0 &&
    watched?.alarms?.length === 0 &&
    watched.deliveries?.length === 1 &&
    listed?.count === f.count &&
    JSON.stringify(listed.recipients.map((r) => r.thumbprint)) ===
      JSON.stringify(index.recipients.map((r) => r.thumbprint));
  d.check(
    'monitor lists delivery',
    monOk,
    monOk
      ? `exit 0, no alarm: delivery #${at}, ${listed?.count} projectors (first: ${listed?.recipients[0]?.subject}), the enclave's PCR0 and receipt key`
      : `exit ${mon.code}: ${mon.stdout.trim().slice(0, 300)}`,
  );

  say.step('A cinema proves its KDM is on the record: keycast kdm logged, learning nothing about other screens');
  const one = index.recipients[41];
  const proved = one?.logged
    ? await c.keycast([
        'kdm',
        'logged',
        p('kdms', one.file),
        '--proof',
        p('kdms', one.logged),
        '--log',
        d.logUrl,
        '--log-key',
        d.logVkey,
        '--trust-root',
        p('test-root.pem'),
        '--json',
      ])
    : undefined;
  d.check(
    'kdm logged',
    proved?.code === 0,
    proved?.code === 0
      ? `${one!.file}: its digest and thumbprint lead to delivery entry #${at}, included under the signed checkpoint, signed by a registered enclave identity`
      : `exit ${proved?.code}: ${proved?.stdout.trim().slice(0, 300)}`,
  );
}

/**
 * Keys in as a DKDM (issue 24): a mastering tool — the project's KDM writer standing in — makes a
 * DKDM for the enclave's KDM decryption certificate (written by verify enclave --dkdm-certificate,
 * only as the attestation binds it); the studio's rules pin the mastering root and this release,
 * the mastering signer endorses them, keycast dkdm check says offline that the enclave will accept
 * it, and keycast forward --dkdm gets KDMs a projector opens to exactly the DKDM's keys.
 */
async function dkdmChapter(
  c: DemoContext,
  d: ForwardDemo,
  f: {
    trust: string[];
    cplId: string;
    keyIds: string[];
    keys: string[];
    window: { notBefore: string; notAfter: string };
    pcr0: string;
  },
): Promise<void> {
  const { say, p } = c;
  say.step(
    "Keys in as a DKDM: a mastering tool targets the enclave's attested KDM decryption certificate; the studio pins its mastering root, the mastering signer endorses the rules, the enclave forwards",
  );
  const recipient = existsSync(p('enclave-dkdm.pem'))
    ? parseDcCertificate(pemCertificates(readFileSync(p('enclave-dkdm.pem'), 'utf8'))[0]!)
    : undefined;
  if (!recipient) return d.check('forwarded from a DKDM', false, 'verify enclave wrote no enclave-dkdm.pem');
  const mastering = createSignerChain({ name: 'studio.mastering' });
  const now = Date.now();
  writeFileSync(
    p('film.dkdm.xml'),
    buildKdm({
      cplId: f.cplId,
      title: 'Keycast Demo Feature',
      keys: f.keyIds.map((id, i) => ({
        id,
        type: i === 0 ? 'MDIK' : 'MDAK',
        key: new Uint8Array(Buffer.from(f.keys[i]!, 'hex')),
      })),
      notBefore: kdmTime(now),
      notAfter: kdmTime(now + 30 * DAY),
      issueDate: kdmTime(now),
      recipient,
      signer: kdmSigner(mastering.chain, mastering.privateKey),
    }),
  );
  writeFileSync(p('mastering.key'), mastering.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  const rules = JSON.parse(readFileSync(p('rules.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(
    p('rules-dkdm.json'),
    JSON.stringify({
      ...rules,
      dkdmSigners: [Buffer.from(mastering.chain[2]!.der).toString('base64')],
      releases: { pcr0s: [f.pcr0], publishers: [] },
    }),
  );
  await c.keycastOk(['rules', 'sign', p('rules-dkdm.json'), '--key', p('studio.pem'), '--out', p('rules-dkdm.dsse')]);
  await c.keycastOk([
    'rules',
    'endorse',
    p('rules-dkdm.dsse'),
    '--rules-key',
    p('studio.pem.pub'),
    '--key',
    p('mastering.key'),
    '--out',
    p('rules-dkdm.endorsement'),
  ]);
  const checked = await c.keycast([
    'dkdm',
    'check',
    p('film.dkdm.xml'),
    '--enclave',
    p('enclave-verified.json'),
    '--rules',
    p('rules-dkdm.dsse'),
    '--rules-key',
    p('studio.pem.pub'),
  ]);
  const few = readdirSync(p('recipients'))
    .filter((n) => n.endsWith('.pem') && n !== 'maker-ca.pem')
    .sort()
    .slice(0, 3);
  mkdirSync(p('recipients-dkdm'), { recursive: true });
  for (const n of [...few, 'maker-ca.pem']) copyFileSync(p('recipients', n), p('recipients-dkdm', n));
  const fwd = await c.keycast([
    'forward',
    ...f.trust,
    '--host',
    d.hostUrl,
    '--enclave',
    p('enclave-verified.json'),
    '--dkdm',
    p('film.dkdm.xml'),
    '--rules-key',
    p('studio.pem.pub'),
    '--rules-endorsement',
    p('rules-dkdm.endorsement'),
    '--rules',
    p('rules-dkdm.dsse'),
    '--recipients',
    p('recipients-dkdm'),
    '--out',
    p('kdms-dkdm'),
    '--json',
  ]);
  const index =
    fwd.code === 0
      ? (
          JSON.parse(readFileSync(p('kdms-dkdm', 'index.json'), 'utf8')) as {
            recipients: Array<{ file: string; source: string }>;
          }
        ).recipients
      : [];
  const first = index[0];
  const inspect = first
    ? await c.keycast([
        'kdm',
        'inspect',
        p('kdms-dkdm', first.file),
        '--key',
        p('projectors', 'projectors', basename(first.source).replace(/\.pem$/, '.key')),
        '--json',
      ])
    : undefined;
  const got = JSON.stringify(
    json<{ keys?: Array<{ id: string; type: string; key: string }> }>(inspect ?? fwd)?.keys?.map((k) => [
      k.id,
      k.type,
      k.key,
    ]) ?? null,
  );
  const want = JSON.stringify([
    [f.keyIds[0], 'MDIK', f.keys[0]],
    [f.keyIds[1], 'MDAK', f.keys[1]],
  ]);
  const ok = checked.code === 0 && fwd.code === 0 && index.length === few.length && inspect?.code === 0 && got === want;
  d.check(
    'forwarded from a DKDM',
    ok,
    ok
      ? `dkdm check: accepted offline; ${index.length} KDMs from film.dkdm.xml (signer ${mastering.chain[0]!.subject.split(',').find((x) => x.startsWith('CN='))}); projector ${basename(first!.source)} opens exactly the DKDM's 2 keys`
      : `dkdm check exit ${checked.code} ${checked.stdout.trim().slice(0, 150)}; forward exit ${fwd.code} ${fwd.stdout.trim().slice(0, 200)}`,
  );
}
