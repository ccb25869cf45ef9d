/**
 * The log explorer page, as a fastify plugin for the log's app (buildApp's `plugins`):
 *   GET /             the HTML page (the log's metadata embedded as a JSON data block)
 *   GET /explorer.js  the page's script (explorer.js next to this file, an ES module)
 *   GET /verifier.js  the verifier it imports (verifier.js next to this file: the esbuild bundle
 *                     of verifier/browser.ts made by scripts/build-explorer-verifier.mjs)
 * The page lists the newest entries (GET /entry/<i>) — releases, revocations, rebuilds, enclave
 * identities and deliveries (issue 19: counts per rules digest over time, identities beside the
 * releases they run) — searches by PCR0, EIF digest or source
 * commit (GET /lookup/{pcr0,eif,commit}/…) or index, gives every entry a permalink
 * (`#entry/<i>`, searches `#pcr0/<hex>` …) with its full fields and a `keycast verify` command
 * line, and verifies in the browser, with the verifier's own code, the checkpoint's signature
 * under the vkey, each configured witness's cosignature (and its time), and each entry's
 * inclusion proof (GET /proof/inclusion) against that checkpoint. It uses relative URLs, so it
 * works under any path prefix a proxy adds.
 *
 * The vkey, publishers and witnesses shown come from this server; someone who does not trust
 * the server pins them out of band and checks them against the ones on the page.
 */
import { readFileSync } from 'node:fs';
import type { FastifyPluginAsync } from 'fastify';
import { parseTrustedKey } from '#verifier';

export interface ExplorerOptions {
  /** The log's Ed25519 verifier key (c2sp.org/signed-note). */
  vkey: string;
  /** Page title (default: the key name, i.e. the origin). */
  title?: string;
  /** The keys allowed to publish (PEM: SPKI or certificate), as `log serve --trust-signer` reads them. */
  publishers?: string[];
  /** The witnesses the log asks to cosign (cosignature/v1 vkeys). */
  witnesses?: string[];
}

/** What the page is told about the log, as the JSON block `#keycast-log` holds it. */
export interface ExplorerMeta {
  vkey: string;
  publishers: Array<{ spkiSha256: string; pem: string }>;
  witnesses: string[];
}

const SCRIPT = readFileSync(new URL('./explorer.js', import.meta.url), 'utf8');
const VERIFIER = readFileSync(new URL('./verifier.js', import.meta.url), 'utf8');
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
/** JSON inside a <script> data block: nothing in it can close the element or open a comment. */
const scriptJson = (v: unknown) =>
  JSON.stringify(v).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

export function explorerMeta(o: ExplorerOptions): ExplorerMeta {
  return {
    vkey: o.vkey,
    publishers: (o.publishers ?? []).map((pem) => ({ spkiSha256: parseTrustedKey(pem).spkiSha256, pem: pem.trim() })),
    witnesses: [...new Set(o.witnesses ?? [])],
  };
}

const ENTRY_COLUMNS = '<tr><th>#</th><th>kind</th><th>PCR0</th><th>source</th><th>status</th><th>verified</th></tr>';

export function explorerHtml(o: ExplorerOptions): string {
  const title = escapeHtml(o.title ?? o.vkey.split('+')[0] ?? 'Keycast log');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="keycast-log-vkey" content="${escapeHtml(o.vkey)}">
<script type="application/json" id="keycast-log">${scriptJson(explorerMeta(o))}</script>
<title>${title} — Keycast log</title>
<style>
 body { font: 14px system-ui, sans-serif; margin: 2em; max-width: 90em; }
 table { border-collapse: collapse; } td, th { padding: .25em .6em; border-bottom: 1px solid #ddd; text-align: left; vertical-align: top; }
 td, code, pre, dd { font-family: ui-monospace, monospace; } .ok { color: #080; } .bad { color: #b00; font-weight: bold; }
 .revoked { color: #b00; } .muted { color: #666; } dl { display: grid; grid-template-columns: max-content 1fr; gap: .2em 1em; }
 dt { font-weight: bold; } dd { margin: 0; word-break: break-all; } pre { background: #f4f4f4; padding: .6em; white-space: pre-wrap; word-break: break-all; }
 section { margin: 1.2em 0; } #search input { width: 60em; max-width: 100%; }
</style></head>
<body>
<h1>${title}</h1>
<section id="log">
<h2>Log</h2>
<dl>
 <dt>origin</dt><dd id="origin">…</dd>
 <dt>log key</dt><dd><code>${escapeHtml(o.vkey)}</code> <span class="muted">(compare it with the one you pinned)</span></dd>
 <dt>checkpoint</dt><dd id="checkpoint">loading checkpoint…</dd>
 <dt>root hash</dt><dd id="root">…</dd>
</dl>
<h3>Witnesses</h3>
<p id="witnesses-none" hidden>This log names no witnesses: its checkpoints are signed by the log alone.</p>
<table id="witnesses-table" hidden><thead><tr><th>witness</th><th>key</th><th>cosigned this checkpoint</th></tr></thead><tbody id="witnesses"></tbody></table>
<h3>Publishers</h3>
<p id="publishers-none" hidden>No publisher keys are listed for this log.</p>
<table id="publishers-table" hidden><thead><tr><th>key fingerprint (SHA-256 of the SPKI)</th><th>key</th></tr></thead><tbody id="publishers"></tbody></table>
</section>
<section>
<form id="search"><label>Find a release by PCR0, EIF SHA-256 or source commit, or an entry by its number<br>
<input id="q" autocomplete="off" spellcheck="false" placeholder="96 hex digits (PCR0), 64 (EIF SHA-256), 40 (commit) or an index" required></label>
<button>Search</button> <span id="search-status"></span></form>
<table id="results-table" hidden><thead>${ENTRY_COLUMNS}</thead><tbody id="results"></tbody></table>
</section>
<section id="entry" hidden>
<h2 id="entry-title">Entry</h2>
<dl id="entry-fields"></dl>
<h3>Verify this yourself</h3>
<p class="muted" id="entry-command-note"></p>
<pre id="entry-command"></pre>
</section>
<section id="transparency">
<h2>Deliveries</h2>
<p class="muted">Every KDM an enclave forwards is on this log before it is usable: each delivery entry shows how
many recipients, under which rules (digest), when. Who received is sealed to the studio's audit key. Counted over
the entries listed below (load older entries to count more).</p>
<p id="deliveries-none">No delivery among the entries listed.</p>
<table id="deliveries-table" hidden><thead><tr><th>rules digest</th><th>deliveries</th><th>recipients</th><th>first → last</th><th>recipients per day</th></tr></thead><tbody id="deliveries"></tbody></table>
<h3>Enclave identities</h3>
<p class="muted">Enclaves that registered an attested identity (its receipt key) for a release of this log.</p>
<p id="identities-none">No enclave identity among the entries listed.</p>
<table id="identities-table" hidden><thead><tr><th>#</th><th>release (PCR0)</th><th>receipt key (SHA-256 of its SPKI)</th></tr></thead><tbody id="identities"></tbody></table>
</section>
<section>
<h2>Entries (newest first)</h2>
<table><thead>${ENTRY_COLUMNS}</thead><tbody id="entries"></tbody></table>
<button id="more" hidden>older entries</button>
</section>
<script type="module" src="explorer.js"></script>
</body></html>
`;
}

/** Options are ExplorerOptions; typed loosely so it fits AppDeps.plugins as is. */
export const explorerPlugin: FastifyPluginAsync<Record<string, unknown>> = async (app, opts) => {
  const { vkey, title, publishers, witnesses } = opts;
  if (typeof vkey !== 'string' || vkey === '') throw new TypeError('explorerPlugin needs the log vkey');
  const strings = (v: unknown, name: string): string[] | undefined => {
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || !v.every((s) => typeof s === 'string'))
      throw new TypeError(`explorerPlugin: ${name} must be strings`);
    return v;
  };
  const p = strings(publishers, 'publishers');
  const w = strings(witnesses, 'witnesses');
  const html = explorerHtml({
    vkey,
    ...(typeof title === 'string' ? { title } : {}),
    ...(p ? { publishers: p } : {}),
    ...(w ? { witnesses: w } : {}),
  });
  app.get('/', async (_req, reply) => reply.headers(SECURITY_HEADERS).type('text/html; charset=utf-8').send(html));
  app.get('/explorer.js', async (_req, reply) =>
    reply.headers(SECURITY_HEADERS).type('text/javascript; charset=utf-8').send(SCRIPT),
  );
  app.get('/verifier.js', async (_req, reply) =>
    reply.headers(SECURITY_HEADERS).type('text/javascript; charset=utf-8').send(VERIFIER),
  );
};
