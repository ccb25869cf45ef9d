/**
 * The explorer page shows delivery transparency (issue 19) in headless Chromium: delivery entries
 * counted per rules digest over time, enclave identities beside the releases they run, and an
 * entry's permalink with its public fields (count, digests, manifest link) and no recipient.
 * Skips when /usr/bin/chromium is absent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { buildApp, explorerPlugin } from '../log-server/index.ts';
import {
  auditPublicKey,
  identityAddEntryBody,
  makeDelivery,
  newEnclave,
  startDeliveryLog,
} from './delivery-fixtures.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'];

test('explorer: deliveries per rules digest and enclave identities', {
  skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is absent`,
}, async (t) => {
  const log = await startDeliveryLog();
  t.after(() => log.close());
  const rel = await log.release('a');
  const enclave = newEnclave(log.pki, rel.pcr0, rel.index);
  const id = await log.post(identityAddEntryBody(enclave.attest()));
  assert.equal(id.status, 200);
  const audit = generateKeyPairSync('x25519').privateKey;
  const rules = (digest: string) => ({
    auditKey: auditPublicKey(audit),
    rules: '{}',
    rulesDigest: digest,
    rulesSigner: 'ef'.repeat(32),
  });
  const A = 'a1'.repeat(32);
  const B = 'b2'.repeat(32);
  const deliveries = [
    await makeDelivery(enclave, { ...rules(A), time: '2026-12-01T10:00:00.000Z' }),
    await makeDelivery(enclave, { ...rules(A), time: '2026-12-02T10:00:00.000Z' }),
    await makeDelivery(enclave, { ...rules(B), time: '2026-12-02T11:00:00.000Z' }),
  ];
  const indexes: number[] = [];
  for (const d of deliveries) {
    const r = await log.post(d.body);
    assert.equal(r.status, 200);
    indexes.push(r.json.index);
  }
  const app = await buildApp({ log: log.log, plugins: [{ plugin: explorerPlugin, opts: { vkey: log.vkey } }] });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  t.after(() => app.close());
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  t.after(() => browser.close());
  const page = await browser.newPage();
  await page.goto(`${url}/#entry/${indexes[0]}`);
  await page.waitForSelector('#entries[data-loaded="true"]', { state: 'attached', timeout: 40_000 });
  await page.waitForSelector('#entry[data-verified]', { state: 'attached', timeout: 40_000 });

  const perRules = await page.$$eval('#deliveries tr', (rows) =>
    rows.map((r) => ({
      rules: (r as HTMLElement).dataset.rules,
      deliveries: r.querySelector('[data-field="deliveries"]')?.textContent,
      recipients: r.querySelector('[data-field="recipients"]')?.textContent,
      perDay: r.querySelector('[data-field="per-day"]')?.textContent,
    })),
  );
  assert.deepEqual(perRules, [
    { rules: B, deliveries: '1', recipients: '3', perDay: '2026-12-02: 3' },
    { rules: A, deliveries: '2', recipients: '6', perDay: '2026-12-01: 3, 2026-12-02: 3' },
  ]);
  const identities = await page.$$eval('#identities tr', (rows) => rows.map((r) => r.textContent ?? ''));
  assert.equal(identities.length, 1);
  assert.ok(identities[0]!.includes(String(id.json.index)));
  // every row verified (inclusion in the checkpoint the page verified)
  const kinds = await page.$$eval('#entries tr', (rows) =>
    rows.map((r) => [(r as HTMLElement).dataset.kind, (r as HTMLElement).dataset.verified]),
  );
  assert.deepEqual(kinds, [
    ['delivery', 'ok'],
    ['delivery', 'ok'],
    ['delivery', 'ok'],
    ['identity', 'ok'],
    ['release', 'ok'],
  ]);
  // the permalink: public fields, the manifest link, the kdm logged command; no recipient
  assert.equal(await page.getAttribute('#entry', 'data-verified'), 'ok');
  const fields = await page.textContent('#entry-fields');
  assert.ok(fields?.includes(deliveries[0]!.entry.manifest.sha256));
  assert.ok(fields?.includes(A));
  const shown = await page.content();
  for (const r of deliveries.flatMap((d) => d.manifest.recipients))
    assert.ok(!shown.includes(r.thumbprint) && !shown.includes(r.subject));
  assert.match((await page.textContent('#entry-command')) ?? '', /keycast kdm logged KDM\.xml --proof/);
});
