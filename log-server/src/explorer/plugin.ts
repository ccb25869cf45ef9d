/**
 * The log explorer page, as a fastify plugin for the log's app (buildApp's `plugins`):
 *   GET /             the HTML page (the log vkey embedded in a meta tag)
 *   GET /explorer.js  the page's script (explorer.js next to this file, an ES module)
 *   GET /verifier.js  the verifier it imports (verifier.js next to this file: the esbuild bundle
 *                     of verifier/browser.ts made by scripts/build-explorer-verifier.mjs)
 * The page lists the newest releases (GET /entry/<i>), searches by PCR0 (GET /lookup/pcr0/…),
 * and verifies in the browser, with the verifier's own code, the checkpoint's signature under
 * the vkey and each entry's inclusion proof (GET /proof/inclusion) against that checkpoint. It
 * uses relative URLs, so it works under any path prefix a proxy adds.
 *
 * The vkey shown comes from this server; someone who does not trust the server pins the vkey
 * out of band and checks it against the one on the page.
 */
import { readFileSync } from 'node:fs';
import type { FastifyPluginAsync } from 'fastify';

export interface ExplorerOptions {
  /** The log's Ed25519 verifier key (c2sp.org/signed-note). */
  vkey: string;
  /** Page title (default: the key name, i.e. the origin). */
  title?: string;
}

const SCRIPT = readFileSync(new URL('./explorer.js', import.meta.url), 'utf8');
const VERIFIER = readFileSync(new URL('./verifier.js', import.meta.url), 'utf8');
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function explorerHtml(o: ExplorerOptions): string {
  const title = escapeHtml(o.title ?? o.vkey.split('+')[0] ?? 'Keycast log');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="keycast-log-vkey" content="${escapeHtml(o.vkey)}">
<title>${title} — Keycast log</title>
<style>
 body { font: 14px system-ui, sans-serif; margin: 2em; }
 table { border-collapse: collapse; } td, th { padding: .25em .6em; border-bottom: 1px solid #ddd; text-align: left; }
 td { font-family: ui-monospace, monospace; } .ok { color: #080; } .bad { color: #b00; font-weight: bold; }
</style></head>
<body>
<h1>${title}</h1>
<p>Log key <code>${escapeHtml(o.vkey)}</code> (compare it with the one you pinned).</p>
<p id="checkpoint">loading checkpoint…</p>
<form id="search"><label>PCR0 <input id="pcr0" size="100" pattern="[0-9a-fA-F]{96}" required></label> <button>Search</button> <span id="search-status"></span></form>
<table><thead><tr><th>#</th><th>kind</th><th>PCR0</th><th>PCR1</th><th>PCR2</th><th>source</th><th>status</th><th>verified</th></tr></thead>
<tbody id="results"></tbody></table>
<h2>Entries (newest first)</h2>
<table><thead><tr><th>#</th><th>kind</th><th>PCR0</th><th>PCR1</th><th>PCR2</th><th>source</th><th>status</th><th>verified</th></tr></thead>
<tbody id="entries"></tbody></table>
<button id="more" hidden>older entries</button>
<script type="module" src="explorer.js"></script>
</body></html>
`;
}

/** Options are ExplorerOptions; typed loosely so it fits AppDeps.plugins as is. */
export const explorerPlugin: FastifyPluginAsync<Record<string, unknown>> = async (app, opts) => {
  const { vkey, title } = opts;
  if (typeof vkey !== 'string' || vkey === '') throw new TypeError('explorerPlugin needs the log vkey');
  const html = explorerHtml({ vkey, ...(typeof title === 'string' ? { title } : {}) });
  app.get('/', async (_req, reply) => reply.headers(SECURITY_HEADERS).type('text/html; charset=utf-8').send(html));
  app.get('/explorer.js', async (_req, reply) =>
    reply.headers(SECURITY_HEADERS).type('text/javascript; charset=utf-8').send(SCRIPT),
  );
  app.get('/verifier.js', async (_req, reply) =>
    reply.headers(SECURITY_HEADERS).type('text/javascript; charset=utf-8').send(VERIFIER),
  );
};
