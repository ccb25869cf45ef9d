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
import { createHash } from 'node:crypto';
import type { Browser } from 'playwright-core';
import type { FastifyInstance } from 'fastify';
import { createLog, openLog } from '../src/log.ts';
import type { Log } from '../src/log.ts';
import { buildApp } from '../src/http/app.ts';
import { explorerPlugin, explorerHtml } from '../src/explorer/plugin.ts';
import { ORIGIN, leafBundle, post, rawLeafPolicy } from './helpers.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const hex = (label: string, bytes: number) => createHash('sha512').update(label).digest('hex').slice(0, bytes * 2);

/** A leaf shaped like the log's dsse bodies (the raw-leaf policy does not check signatures). */
function releaseLeaf(i: number): string {
  const statement = {
    _type: 'https://in-toto.io/Statement/v1',
    predicateType: 'https://keycast.dev/release/v1',
    predicate: {
      measurements: { pcr0: hex(`pcr0-${i}`, 48), pcr1: hex(`pcr1-${i}`, 48), pcr2: hex(`pcr2-${i}`, 48) },
      source: { repo: 'https://github.com/example/app', commit: hex(`commit-${i}`, 20) },
    },
  };
  const payload = Buffer.from(JSON.stringify(statement)).toString('base64');
  return JSON.stringify({ apiVersion: '0.0.1', kind: 'dsse', spec: { envelope: { payload, payloadType: 'application/vnd.in-toto+json', signatures: [] } } });
}

let dir: string;
let log: Log;
let app: FastifyInstance;
let url: string;
let browser: Browser | undefined;
const N = 5;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'keycast-explorer-'));
  const { vkey } = createLog(dir, ORIGIN);
  log = await openLog(dir, { policy: rawLeafPolicy });
  app = await buildApp({ log, plugins: [{ plugin: explorerPlugin, opts: { vkey } }] });
  url = await app.listen({ host: '127.0.0.1', port: 0 });
  for (let i = 0; i < N; i++) {
    const r = await post(url, JSON.stringify({ ...JSON.parse(leafBundle(releaseLeaf(i))), pcr0: hex(`pcr0-${i}`, 48) }));
    assert.equal(r.status, 200, JSON.stringify(r.json));
  }
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
  assert.doesNotMatch(explorerHtml({ vkey: '"><script>x</script>' }), /<script>x/);
});

test('lists every release with its PCRs, each verified ✓ in the browser', async (t) => {
  if (!browser) return t.skip(`no ${CHROMIUM}`);
  const page = await browser.newPage();
  try {
    await page.goto(`${url}/`);
    await page.waitForSelector('#entries[data-loaded="true"]', { state: 'attached', timeout: 40_000 });
    assert.equal(await page.getAttribute('#checkpoint', 'data-verified'), 'ok');
    const rows = await page.$$eval('#entries tr', (trs) => trs.map((tr) => ({ index: (tr as HTMLElement).dataset.index, verified: (tr as HTMLElement).dataset.verified, pcr0: tr.querySelector('.pcr0')?.getAttribute('title') })));
    assert.equal(rows.length, N);
    assert.deepEqual(rows.map((r) => r.index), ['4', '3', '2', '1', '0']);
    assert.ok(rows.every((r) => r.verified === 'ok'), JSON.stringify(rows));
    assert.equal(rows[4]!.pcr0, hex('pcr0-0', 48));
    const plus = await page.evaluate(() => (window as unknown as { parseVkey(v: string): { name: string; pub: Uint8Array } }).parseVkey('n+01020304+AT++' + 'A'.repeat(40)));
    assert.equal(plus.name, 'n', 'a vkey whose base64 contains "+" parses');
    assert.equal(Object.keys(plus.pub).length, 32);
  } finally {
    await page.close();
  }
});

test('search by PCR0 finds the release and verifies it; an unknown PCR0 says so', async (t) => {
  if (!browser) return t.skip(`no ${CHROMIUM}`);
  const page = await browser.newPage();
  try {
    await page.goto(`${url}/`);
    await page.waitForSelector('#entries[data-loaded="true"]', { state: 'attached', timeout: 40_000 });
    await page.fill('#pcr0', hex('pcr0-2', 48));
    await page.click('#search button');
    await page.waitForSelector('#results[data-done="true"] tr[data-verified]', { state: 'attached', timeout: 20_000 });
    assert.equal(await page.getAttribute('#results tr', 'data-index'), '2');
    assert.equal(await page.getAttribute('#results tr', 'data-verified'), 'ok');
    await page.evaluate(() => { delete (document.getElementById('results') as HTMLElement).dataset.done; });
    await page.fill('#pcr0', 'ab'.repeat(48));
    await page.click('#search button');
    await page.waitForSelector('#results[data-done="true"]', { state: 'attached', timeout: 20_000 });
    assert.match(String(await page.textContent('#search-status')), /no release/);
  } finally {
    await page.close();
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
    const verified = await page.$$eval('#entries tr', (trs) => Object.fromEntries(trs.map((tr) => [(tr as HTMLElement).dataset.index, (tr as HTMLElement).dataset.verified])));
    assert.deepEqual(verified, { 4: 'ok', 3: 'fail', 2: 'ok', 1: 'ok', 0: 'ok' });
    assert.equal(await page.textContent('#entries tr[data-index="3"] td:last-child'), '✗');
  } finally {
    await page.close();
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
    assert.deepEqual(verified, ['fail', 'fail', 'fail', 'fail', 'fail']);
  } finally {
    await page.close();
  }
});
