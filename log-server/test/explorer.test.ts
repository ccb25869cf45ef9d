/**
 * The log explorer page in headless Chromium (Debian's chromium + playwright-core): the page
 * lists releases with their PCRs, finds one by PCR0, and shows ✓ only when the checkpoint
 * signature and each inclusion proof verify in the browser; a tampered proof or checkpoint
 * shows ✗. Skips when /usr/bin/chromium is absent.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, generateKeyPairSync } from 'node:crypto';
import type { Browser, Page, Route } from 'playwright-core';
import type { FastifyInstance } from 'fastify';
import { createLog, openLog } from '../src/log.ts';
import type { Log } from '../src/log.ts';
import { buildApp } from '../src/http/app.ts';
import { explorerPlugin, explorerHtml } from '../src/explorer/plugin.ts';
import { parseCheckpoint, parseTrustedKey } from '#verifier';
import { cosignatureSigner, cosignatureVerifierKey, generateNoteKey, signatureLines, splitNote } from '#verifier/build';
import type { Witnesses } from '../src/ports.ts';
import { ORIGIN, leafBundle, post, rawLeafPolicy } from './helpers.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const hex = (label: string, bytes: number) =>
  createHash('sha512')
    .update(label)
    .digest('hex')
    .slice(0, bytes * 2);

const PUBLISHER = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  .publicKey.export({ type: 'spki', format: 'pem' })
  .toString();
const PUBLISHER_FP = parseTrustedKey(PUBLISHER).spkiSha256;
const REBUILDER = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  .publicKey.export({ type: 'spki', format: 'pem' })
  .toString();
const WITNESS = generateNoteKey('witness.keycast.test/w1');
const W1 = cosignatureVerifierKey(WITNESS.skey);
/** A second listed witness that never cosigns: the page must say so. */
const W2 = cosignatureVerifierKey(generateNoteKey('witness.keycast.test/w2').skey);
/** Commits 1 and 2 share their first 12 hex digits: only the full commit tells them apart. */
const commit = (i: number) => (i === 1 || i === 2 ? `abcdef012345${hex(`commit-${i}`, 14)}` : hex(`commit-${i}`, 20));

/** A leaf shaped like the log's dsse bodies (the raw-leaf policy does not check signatures). */
function leafOf(predicateType: string, predicate: Record<string, unknown>): string {
  const statement = { _type: 'https://in-toto.io/Statement/v1', predicateType, predicate };
  const payload = Buffer.from(JSON.stringify(statement)).toString('base64');
  return JSON.stringify({
    apiVersion: '0.0.1',
    kind: 'dsse',
    spec: {
      envelope: { payload, payloadType: 'application/vnd.in-toto+json', signatures: [{ sig: 'AA==' }] },
      signatures: [{ signature: 'AA==', verifier: Buffer.from(PUBLISHER).toString('base64') }],
    },
  });
}
function releaseLeaf(i: number): string {
  return leafOf('https://keycast.dev/release/v1', {
    eif: { sha256: hex(`eif-${i}`, 32), uri: `https://example.com/enclave-${i}.eif` },
    measurements: { pcr0: hex(`pcr0-${i}`, 48), pcr1: hex(`pcr1-${i}`, 48), pcr2: hex(`pcr2-${i}`, 48) },
    source: { repo: 'https://github.com/example/app', commit: commit(i) },
    lock: { sha256: hex(`lock-${i}`, 32) },
    builder: { version: '0.1.0' },
  });
}
/** A rebuild endorsement of release #i, signed by a key that is no publisher of this log. */
function rebuildLeaf(i: number): string {
  const release = JSON.parse(Buffer.from(JSON.parse(releaseLeaf(i)).spec.envelope.payload, 'base64').toString());
  const leaf = JSON.parse(leafOf('https://keycast.dev/rebuild/v1', { ...release.predicate, release: { logIndex: i } }));
  leaf.spec.signatures[0].verifier = Buffer.from(REBUILDER).toString('base64');
  return JSON.stringify(leaf);
}
const REASON = 'signing key compromised';
const revocationLeaf = (index: number) =>
  leafOf('https://keycast.dev/revocation/v1', {
    revokes: { logIndex: index, pcr0: hex(`pcr0-${index}`, 48) },
    reason: REASON,
  });

let dir: string;
let log: Log;
let app: FastifyInstance;
let url: string;
let browser: Browser | undefined;
/** Releases 0..4, then #5 revoking #1, then #6: a third party's rebuild of #0. */
const RELEASES = 5;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'keycast-explorer-'));
  const { vkey } = createLog(dir, ORIGIN);
  const witnesses: Witnesses = {
    cosign: async (note) => [signatureLines(splitNote(note).text, [cosignatureSigner(WITNESS.skey)])],
  };
  log = await openLog(dir, { policy: rawLeafPolicy, witnesses });
  app = await buildApp({
    log,
    plugins: [{ plugin: explorerPlugin, opts: { vkey, publishers: [PUBLISHER], witnesses: [W1, W2] } }],
  });
  url = await app.listen({ host: '127.0.0.1', port: 0 });
  for (let i = 0; i < RELEASES; i++) {
    const r = await post(
      url,
      leafBundle(releaseLeaf(i), { pcr0: hex(`pcr0-${i}`, 48), eif: hex(`eif-${i}`, 32), commit: commit(i) }),
    );
    assert.equal(r.status, 200, JSON.stringify(r.json));
  }
  const pcr0 = hex('pcr0-1', 48);
  const r = await post(url, leafBundle(revocationLeaf(1), { kind: 'revocation', pcr0, revokes: { index: 1, pcr0 } }));
  assert.equal(r.status, 200, JSON.stringify(r.json));
  const rebuild = await post(
    url,
    leafBundle(rebuildLeaf(0), { kind: 'rebuild', pcr0: hex('pcr0-0', 48), eif: hex('eif-0', 32), commit: commit(0) }),
  );
  assert.equal(rebuild.status, 200, JSON.stringify(rebuild.json));
  if (existsSync(CHROMIUM)) {
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  }
});

after(async () => {
  await browser?.close();
  await app.close();
  await log.close();
  rmSync(dir, { recursive: true, force: true });
});

test('the page and script are served with a CSP, and the vkey is HTML-escaped', async () => {
  const r = await fetch(`${url}/`);
  assert.equal(r.status, 200);
  assert.match(String(r.headers.get('content-security-policy')), /script-src 'self'/);
  assert.match(await r.text(), new RegExp(`content="${log.key.vkey.replace(/[+/]/g, '\\$&')}"`));
  const js = await fetch(`${url}/explorer.js`);
  assert.match(String(js.headers.get('content-type')), /^text\/javascript/);
  assert.match(
    await js.text(),
    /^import \* as V from '\.\/verifier\.js';$/m,
    'the page verifies with the verifier bundle, not its own crypto',
  );
  const bundle = await fetch(`${url}/verifier.js`);
  assert.match(String(bundle.headers.get('content-type')), /^text\/javascript/);
  assert.match(await bundle.text(), /^\/\/ GENERATED by scripts\/build-explorer-verifier\.mjs/);
  assert.doesNotMatch(explorerHtml({ vkey: '"><script>x</script>' }), /<script>x/);
  // the metadata block cannot be closed from inside: no "</script>" or "<!--" survives in it
  const meta = explorerHtml({ vkey: log.key.vkey, witnesses: ['</script><script>alert(1)</script><!--'] });
  assert.doesNotMatch(meta, /<script>alert|<!--/);
  const block = /<script type="application\/json" id="keycast-log">(.*?)<\/script>/.exec(meta);
  assert.deepEqual(JSON.parse(block![1]!).witnesses, ['</script><script>alert(1)</script><!--']);
});

/** Opens the page (at a permalink, if given) once its entries are listed. */
async function open(hash = '') {
  const page = await browser!.newPage({ viewport: { width: 1400, height: 900 } });
  await page.goto(`${url}/${hash}`);
  await page.waitForSelector('#entries[data-loaded="true"]', { state: 'attached', timeout: 40_000 });
  return page;
}

const rowsOf = (page: Page, tbody: string) =>
  page.$$eval(`${tbody} tr`, (trs) =>
    trs.map((tr) => ({
      index: (tr as HTMLElement).dataset.index,
      kind: (tr as HTMLElement).dataset.kind,
      verified: (tr as HTMLElement).dataset.verified,
      pcr0: tr.querySelector('.pcr0')?.getAttribute('title'),
      source: tr.querySelector('.source')?.textContent,
      status: tr.querySelector('.status')?.textContent,
      link: tr.querySelector('a')?.getAttribute('href'),
    })),
  );

test('lists every entry with its full commit and status, each verified ✓ in the browser; the log metadata above', async (t) => {
  if (!browser) return t.skip(`no ${CHROMIUM}`);
  const page = await open();
  try {
    assert.equal(await page.getAttribute('#checkpoint', 'data-verified'), 'ok');
    assert.equal(await page.textContent('#origin'), ORIGIN);
    assert.equal(
      await page.textContent('#root'),
      Buffer.from(parseCheckpoint(splitNote(log.sequencer.current.note).text).rootHash).toString('hex'),
    );
    const rows = await rowsOf(page, '#entries');
    assert.deepEqual(
      rows.map((r) => r.index),
      ['6', '5', '4', '3', '2', '1', '0'],
    );
    assert.ok(
      rows.every((r) => r.verified === 'ok'),
      JSON.stringify(rows),
    );
    const byIndex = Object.fromEntries(rows.map((r) => [r.index, r]));
    assert.equal(byIndex[0]!.pcr0, hex('pcr0-0', 48));
    assert.equal(byIndex[3]!.link, '#entry/3', 'every row is a permalink');
    // full commits: #1 and #2 share their first 12 digits and are still told apart
    for (let i = 0; i < RELEASES; i++)
      assert.equal(byIndex[i]!.source, `https://github.com/example/app @ ${commit(i)}`);
    assert.notEqual(byIndex[1]!.source, byIndex[2]!.source);
    // a revocation says what it revokes and why; the release it revokes says by what, and why
    assert.equal(byIndex[5]!.kind, 'revocation');
    assert.equal(byIndex[5]!.status, `revokes #1: ${REASON}`);
    assert.equal(byIndex[1]!.status, `revoked by #5: ${REASON}`);
    assert.equal(byIndex[0]!.status, 'active');
    assert.deepEqual([byIndex[6]!.kind, byIndex[6]!.status], ['rebuild', 'rebuild of #0']);
    // a release's status is the log's signed statement for this tree, verified in the page
    assert.deepEqual(
      await page.$$eval('#entries tr[data-kind="release"]', (trs) =>
        trs.map((tr) => (tr as HTMLElement).dataset.status),
      ),
      ['signed', 'signed', 'signed', 'signed', 'signed'],
    );
    // witnesses: w1's cosignature verified, with its time; w2 listed but absent
    const witnesses = await page.$$eval('#witnesses tr', (trs) =>
      trs.map((tr) => [
        (tr as HTMLElement).dataset.witness,
        (tr as HTMLElement).dataset.verified,
        (tr as HTMLTableRowElement).cells[2]!.textContent,
      ]),
    );
    assert.deepEqual(
      witnesses.map((w) => w.slice(0, 2)),
      [
        ['witness.keycast.test/w1', 'ok'],
        ['witness.keycast.test/w2', 'fail'],
      ],
    );
    const at = /^✓ at (\S+) \(\d+ s ago\)$/.exec(witnesses[0]![2]!);
    assert.ok(at, witnesses[0]![2]!);
    assert.ok(Math.abs(Date.parse(at[1]!) - Date.now()) < 120_000, 'the cosignature time is the witness’s, now');
    assert.equal(witnesses[1]![2], '✗ no cosignature on this checkpoint');
    assert.equal(await page.getAttribute('#publishers tr', 'data-publisher'), PUBLISHER_FP);
    // no search yet: no results table, not even its header
    assert.equal(await page.isVisible('#results-table'), false);
    // the page runs the verifier's own key parser: a vkey whose base64 contains "+" parses
    let plusKey = generateNoteKey('n').vkey;
    while (!plusKey.split('+').slice(2).join('+').includes('+')) plusKey = generateNoteKey('n').vkey;
    const plus = await page.evaluate((v) => {
      const k = (
        window as unknown as {
          keycastVerifier: { parseVerifierKey(v: string): { name: string; publicKey: Uint8Array } };
        }
      ).keycastVerifier.parseVerifierKey(v);
      return { name: k.name, length: k.publicKey.length };
    }, plusKey);
    assert.deepEqual(plus, { name: 'n', length: 32 });
    const shot = join(mkdtempSync(join(tmpdir(), 'keycast-explorer-shot-')), 'explorer.png');
    await page.click('#entries tr[data-index="1"] a');
    await page.waitForSelector('#entry[data-index="1"][data-verified]', { state: 'attached', timeout: 20_000 });
    await page.screenshot({ path: shot, fullPage: true });
    t.diagnostic(`screenshot of the explorer (entry #1 open): ${shot}`);
  } finally {
    await page.close();
  }
});

test('an entry permalink shows every field in full and a verify command line that names this log', async (t) => {
  if (!browser) return t.skip(`no ${CHROMIUM}`);
  const page = await open('#entry/2');
  try {
    await page.waitForSelector('#entry[data-index="2"][data-verified="ok"]', { state: 'attached', timeout: 20_000 });
    const fields = Object.fromEntries(
      await page.$$eval('#entry-fields dd', (dds) =>
        dds.map((dd) => [(dd as HTMLElement).dataset.field, dd.textContent]),
      ),
    );
    assert.equal(fields.commit, commit(2));
    assert.equal(fields.PCR0, hex('pcr0-2', 48));
    assert.equal(fields.PCR1, hex('pcr1-2', 48));
    assert.equal(fields['EIF SHA-256'], hex('eif-2', 32));
    assert.equal(fields['lock SHA-256'], hex('lock-2', 32));
    assert.equal(fields.status, 'active');
    assert.equal(fields.signer, `listed publisher ${PUBLISHER_FP}`);
    assert.match(fields.included!, /^✓ in the tree of size 7/);
    assert.equal(
      await page.textContent('#entry-command'),
      `keycast verify release ${hex('pcr0-2', 48)} --log ${url}/ --log-key ${log.key.vkey} --witness ${W1} --witness ${W2} --publisher publisher-${PUBLISHER_FP.slice(0, 12)}.pem`,
    );
    // a revocation's permalink: what it revokes, the reason, and the command that must now refuse
    await page.evaluate(() => (location.hash = '#entry/5'));
    await page.waitForSelector('#entry[data-index="5"][data-verified="ok"]', { state: 'attached', timeout: 20_000 });
    assert.equal(await page.textContent('#entry-fields dd[data-field="reason"]'), REASON);
    assert.match(
      String(await page.textContent('#entry-command')),
      new RegExp(`^keycast verify release ${hex('pcr0-1', 48)} `),
    );
    assert.match(String(await page.textContent('#entry-command-note')), /RELEASE_REVOKED/);
    // a rebuild's permalink: its signer is no publisher, and the command counts it as a rebuild
    await page.evaluate(() => (location.hash = '#entry/6'));
    await page.waitForSelector('#entry[data-index="6"][data-verified="ok"]', { state: 'attached', timeout: 20_000 });
    assert.equal(
      await page.textContent('#entry-fields dd[data-field="signer"]'),
      `not a listed publisher: key SHA-256 ${parseTrustedKey(REBUILDER).spkiSha256}`,
    );
    assert.match(
      String(await page.textContent('#entry-command')),
      new RegExp(
        `^keycast verify release ${hex('pcr0-0', 48)} .* --publisher PUBLISHER\\.pem --require-rebuilds 1 --rebuilder rebuilder-${parseTrustedKey(REBUILDER).spkiSha256.slice(0, 12)}\\.pem$`,
      ),
    );
    // a number that is no entry says so
    await page.evaluate(() => (location.hash = '#entry/99'));
    await page.waitForSelector('#entry[data-index="99"][data-verified="fail"]', { state: 'attached', timeout: 20_000 });
    assert.equal(await page.textContent('#entry-fields dd[data-field="error"]'), 'no entry #99 in this log');
  } finally {
    await page.close();
  }
});

test('search by PCR0, EIF digest, commit or index finds the entry and verifies it; a miss shows no table', async (t) => {
  if (!browser) return t.skip(`no ${CHROMIUM}`);
  const page = await open();
  const search = async (q: string) => {
    await page.evaluate(() => {
      delete (document.getElementById('results') as HTMLElement).dataset.done;
    });
    await page.fill('#q', q);
    await page.click('#search button');
    await page.waitForSelector('#results[data-done="true"]', { state: 'attached', timeout: 20_000 });
    return rowsOf(page, '#results');
  };
  try {
    for (const [q, kind] of [
      [hex('pcr0-2', 48), 'pcr0'],
      [hex('eif-3', 32).toUpperCase(), 'eif'],
      [commit(4), 'commit'],
    ] as const) {
      const rows = await search(q);
      assert.equal(rows.length, 1, q);
      assert.equal(rows[0]!.verified, 'ok');
      assert.equal(new URL(page.url()).hash, `#${kind}/${q.toLowerCase()}`, 'a search is a permalink too');
      assert.equal(await page.isVisible('#results-table'), true);
    }
    assert.equal((await search(commit(1)))[0]!.status, `revoked by #5: ${REASON}`);
    assert.equal((await search(commit(2)))[0]!.index, '2', 'the commit sharing #1’s first 12 digits finds #2');
    const miss = await search('ab'.repeat(20));
    assert.deepEqual(miss, []);
    assert.equal(await page.textContent('#search-status'), 'no release with that source commit');
    assert.equal(await page.isVisible('#results-table'), false, 'no header without results');
    await page.fill('#q', 'xyz');
    await page.click('#search button');
    assert.match(String(await page.textContent('#search-status')), /expected a PCR0/);
    await page.fill('#q', '3');
    await page.click('#search button');
    await page.waitForSelector('#entry[data-index="3"][data-verified="ok"]', { state: 'attached', timeout: 20_000 });
  } finally {
    await page.close();
  }
  // a search permalink, opened fresh
  const fresh = await open(`#eif/${hex('eif-0', 32)}`);
  try {
    await fresh.waitForSelector('#results[data-done="true"] tr[data-verified]', { state: 'attached', timeout: 20_000 });
    assert.equal((await rowsOf(fresh, '#results'))[0]!.index, '0');
  } finally {
    await fresh.close();
  }
});

test('a tampered inclusion proof shows ✗ for that entry only', async (t) => {
  if (!browser) return t.skip(`no ${CHROMIUM}`);
  const page = await browser.newPage();
  try {
    await page.route('**/proof/inclusion?index=3&*', async (route) => {
      const res = await route.fetch();
      const body = await res.json();
      const h = Buffer.from(body.hashes[0], 'base64');
      h[0]! ^= 1;
      body.hashes[0] = h.toString('base64');
      await route.fulfill({ response: res, json: body });
    });
    await page.goto(`${url}/`);
    await page.waitForSelector('#entries[data-loaded="true"]', { state: 'attached', timeout: 40_000 });
    const verified = await page.$$eval('#entries tr', (trs) =>
      Object.fromEntries(trs.map((tr) => [(tr as HTMLElement).dataset.index, (tr as HTMLElement).dataset.verified])),
    );
    assert.deepEqual(verified, { 6: 'ok', 5: 'ok', 4: 'ok', 3: 'fail', 2: 'ok', 1: 'ok', 0: 'ok' });
    assert.equal(await page.textContent('#entries tr[data-index="3"] td:last-child'), '✗');
  } finally {
    await page.close();
  }
});

test('a revoked release the server calls active, with an old signed statement or a forged one, shows ✗', async (t) => {
  if (!browser) return t.skip(`no ${CHROMIUM}`);
  // a real statement the log signed when the tree had 2 entries: release #1 was active then
  const old = await (await fetch(`${url}/status/1?size=2`)).text();
  assert.match(old, /\nactive\n/);
  for (const [lie, code] of [
    [old, 'STATUS_TREE_MISMATCH'],
    [null, 'NOTE_'],
  ] as const) {
    const page: Page = await browser.newPage();
    try {
      await page.route('**/status/1?*', async (route: Route) => {
        if (lie) return route.fulfill({ status: 200, contentType: 'text/plain', body: lie });
        const res = await route.fetch();
        return route.fulfill({ response: res, body: (await res.text()).replace(/\nrevoked 5\n/, '\nactive\n') });
      });
      await page.goto(`${url}/`);
      await page.waitForSelector('#entries[data-loaded="true"]', { state: 'attached', timeout: 40_000 });
      const row = (await rowsOf(page, '#entries')).find((r) => r.index === '1')!;
      assert.equal(row.verified, 'fail', code);
      assert.match(row.status!, new RegExp(`^revoked\\? its signed status does not verify: ${code}`));
      assert.equal(await page.getAttribute('#entries tr[data-index="1"]', 'data-status'), 'fail');
    } finally {
      await page.close();
    }
  }
});

test('a checkpoint with a forged root fails its signature check and no entry shows ✓', async (t) => {
  if (!browser) return t.skip(`no ${CHROMIUM}`);
  const page = await browser.newPage();
  try {
    await page.route('**/checkpoint', async (route) => {
      const res = await route.fetch();
      const lines = (await res.text()).split('\n');
      lines[2] = Buffer.alloc(32, 7).toString('base64');
      await route.fulfill({ response: res, body: lines.join('\n') });
    });
    await page.goto(`${url}/`);
    await page.waitForSelector('#entries[data-loaded="true"]', { state: 'attached', timeout: 40_000 });
    assert.equal(await page.getAttribute('#checkpoint', 'data-verified'), 'fail');
    const verified = await page.$$eval('#entries tr', (trs) => trs.map((tr) => (tr as HTMLElement).dataset.verified));
    assert.deepEqual(verified, ['fail', 'fail', 'fail', 'fail', 'fail', 'fail', 'fail']);
    // the witness signed the real body, not the forged one: its cosignature fails too
    assert.equal(
      await page.getAttribute('#witnesses tr[data-witness="witness.keycast.test/w1"]', 'data-verified'),
      'fail',
    );
  } finally {
    await page.close();
  }
});
