/**
 * "Verify this yourself", taken at its word: the command line the explorer page shows for an
 * entry is pasted into a shell (with the publisher key saved under the name the page gives it)
 * and run against the same log, with real signed releases, a real revocation and a witness
 * cosigning every checkpoint. The active release's command exits 0; the revocation's exits 1
 * with RELEASE_REVOKED. The process boundary (a shell running what the page printed) is what
 * this tests. Skips when /usr/bin/chromium is absent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseTrustedKey } from '#verifier';
import { cosignatureSigner, cosignatureVerifierKey, generateNoteKey, signatureLines, splitNote } from '#verifier/build';
import { buildApp, createLog, explorerPlugin, openLog, releasePolicy } from '../log-server/index.ts';
import { newPublisher, releaseBundle, releaseFields, revocationBundle } from './log-fixtures.ts';

const CHROMIUM = '/usr/bin/chromium';
const BIN = resolve(import.meta.dirname, '../bin/keycast.mjs');

function sh(command: string, cwd: string, env: Record<string, string>): Promise<{ code: number; out: string }> {
  return new Promise((done) =>
    execFile('sh', ['-c', command], { cwd, env: { ...process.env, ...env }, timeout: 60_000 }, (e, stdout, stderr) =>
      done({ code: e ? (typeof e.code === 'number' ? e.code : 70) : 0, out: stdout + stderr }),
    ),
  );
}

test('the command line the explorer shows for an entry runs as printed and checks what it says', async (t) => {
  if (!existsSync(CHROMIUM)) return t.skip(`no ${CHROMIUM}`);
  const dir = mkdtempSync(join(tmpdir(), 'keycast-explorer-cmd-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { vkey } = createLog(join(dir, 'log'), 'releases.keycast.test/explorer');
  const p = newPublisher();
  const witness = generateNoteKey('witness.keycast.test/explorer');
  const log = await openLog(join(dir, 'log'), {
    policy: releasePolicy({ allowedSigners: [p.publicPem] }),
    witnesses: { cosign: async (note) => [signatureLines(splitNote(note).text, [cosignatureSigner(witness.skey)])] },
  });
  const app = await buildApp({
    log,
    plugins: [
      {
        plugin: explorerPlugin,
        opts: { vkey, publishers: [p.publicPem], witnesses: [cosignatureVerifierKey(witness.skey)] },
      },
    ],
  });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  t.after(async () => {
    await app.close();
    await log.close();
  });
  const add = async (body: string) => {
    const r = await fetch(`${url}/add-entry`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    assert.equal(r.status, 200, await r.text());
  };
  await add(releaseBundle(p, 'explorer-active'));
  await add(releaseBundle(p, 'explorer-revoked'));
  await add(revocationBundle(p, 1, releaseFields('explorer-revoked').pcr0, 'rebuilt with a patched kernel'));

  // `keycast` on PATH, as a studio has it; the publisher key saved under the page's name for it
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'keycast'), `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`);
  chmodSync(join(bin, 'keycast'), 0o755);
  writeFileSync(join(dir, `publisher-${parseTrustedKey(p.publicPem).spkiSha256.slice(0, 12)}.pem`), p.publicPem);
  const env = { PATH: `${bin}:${process.env.PATH}`, XDG_STATE_HOME: join(dir, 'state') };

  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
  });
  t.after(() => browser.close());
  const page = await browser.newPage();
  const commandFor = async (index: number) => {
    await page.goto(`${url}/#entry/${index}`);
    await page.waitForSelector(`#entry[data-index="${index}"][data-verified="ok"]`, {
      state: 'attached',
      timeout: 40_000,
    });
    return String(await page.textContent('#entry-command'));
  };
  const active = await commandFor(0);
  const revocation = await commandFor(2);
  assert.match(active, /^keycast verify release [0-9a-f]{96} --log http:\/\/127\.0\.0\.1:\d+\/ --log-key /);
  assert.match(active, / --witness witness\.keycast\.test\/explorer\+/);

  const ok = await sh(active, dir, env);
  assert.equal(ok.code, 0, ok.out);
  assert.match(ok.out, /active/);
  const refused = await sh(revocation, dir, env);
  assert.equal(refused.code, 1, refused.out);
  assert.match(refused.out, /RELEASE_REVOKED/);
});
