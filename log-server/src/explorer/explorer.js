// Keycast log explorer (browser side). Everything it shows as ✓ is checked with the verifier
// itself — verifier.js, the esbuild bundle of verifier/browser.ts (the same note, checkpoint
// and proof code the CLI and the enclave run, over the @noble crypto provider):
//  - the checkpoint's Ed25519 note signature under the log vkey and its origin
//    (c2sp.org/signed-note, c2sp.org/tlog-checkpoint),
//  - each entry's leaf hash and its inclusion proof against the checkpoint root (RFC 9162).
// Data from the server is only ever inserted with textContent, never as HTML.
import * as V from './verifier.js';

// The verifier, for the browser console and the page tests.
window.keycastVerifier = V;

const dec = new TextDecoder();
const PAGE = 20;
const $ = (id) => document.getElementById(id);

async function getJson(path) {
  const r = await fetch(path);
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
  return r.json();
}

/**
 * Opens the signed checkpoint under the page's vkey. Resolves to { ok, origin, size, rootHash,
 * error }: origin and size are shown (and entries listed) even when the signature fails, but
 * nothing verifies against an unverified checkpoint.
 */
function openCheckpoint(note, vkey) {
  try {
    const { checkpoint } = V.openCheckpoint(note, V.noteVerifier(vkey), V.parseVerifierKey(vkey).name);
    return { ok: true, ...checkpoint };
  } catch (e) {
    let shown = { origin: '?', size: 0, rootHash: new Uint8Array() };
    try {
      shown = V.parseCheckpoint(V.splitNote(note).text);
    } catch {
      /* unparseable: nothing to list */
    }
    return { ok: false, ...shown, error: e.code ?? e.message };
  }
}

/** Verifies one entry's inclusion in the checkpoint; resolves to true/false. */
async function verifyEntry(index, leaf, cp) {
  if (!cp.ok) return false;
  try {
    const p = await getJson(`proof/inclusion?index=${index}&size=${cp.size}`);
    V.checkInclusion(p.hashes.map(V.fromBase64), index, cp.size, V.hashLeaf(leaf), cp.rootHash);
    return true;
  } catch {
    return false;
  }
}

/** What the leaf says: PCRs, source, revocation target (leaves are Rekor dsse bodies with the envelope). */
function describe(leaf) {
  try {
    const body = JSON.parse(dec.decode(leaf));
    const st = JSON.parse(dec.decode(V.fromBase64(body.spec.envelope.payload)));
    const p = st.predicate || {};
    const m = p.measurements || {};
    const src = p.source ? `${p.source.repo}@${p.source.commit.slice(0, 12)}` : '';
    const note = p.revokes ? `revokes #${p.revokes.logIndex}` : '';
    return { pcr0: m.pcr0 || '', pcr1: m.pcr1 || '', pcr2: m.pcr2 || '', source: src || note };
  } catch {
    return { pcr0: '', pcr1: '', pcr2: '', source: '(undecodable leaf)' };
  }
}

function cell(tr, text, title) {
  const td = tr.insertCell();
  td.textContent = text;
  if (title) td.title = title;
  return td;
}

const short = (hex) => (hex.length > 16 ? `${hex.slice(0, 16)}…` : hex);

async function renderEntry(tbody, entry, cp) {
  const leaf = V.fromBase64(entry.leaf);
  const d = describe(leaf);
  const tr = tbody.insertRow();
  tr.dataset.index = String(entry.index);
  cell(tr, String(entry.index));
  cell(tr, entry.kind);
  cell(tr, short(d.pcr0), d.pcr0).className = 'pcr0';
  cell(tr, short(d.pcr1), d.pcr1);
  cell(tr, short(d.pcr2), d.pcr2);
  cell(tr, d.source);
  cell(tr, entry.revokedBy !== undefined ? `revoked by #${entry.revokedBy}` : entry.status);
  const v = cell(tr, '…');
  const ok = await verifyEntry(entry.index, leaf, cp);
  v.textContent = ok ? '✓' : '✗';
  v.className = ok ? 'ok' : 'bad';
  tr.dataset.verified = ok ? 'ok' : 'fail';
}

let checkpoint = null;
let next = -1;

async function loadCheckpoint() {
  const vkey = document.querySelector('meta[name="keycast-log-vkey"]').content;
  const note = await (await fetch('checkpoint', { cache: 'no-store' })).text();
  checkpoint = openCheckpoint(note, vkey);
  const s = $('checkpoint');
  s.textContent = `${checkpoint.origin} — size ${checkpoint.size} — signature ${checkpoint.ok ? '✓' : '✗ ' + checkpoint.error}`;
  s.className = checkpoint.ok ? 'ok' : 'bad';
  s.dataset.verified = checkpoint.ok ? 'ok' : 'fail';
  next = checkpoint.size - 1;
}

async function loadMore() {
  const tbody = $('entries');
  const stop = Math.max(-1, next - PAGE);
  for (; next > stop; next--) await renderEntry(tbody, await getJson(`entry/${next}`), checkpoint);
  $('more').hidden = next < 0;
  $('entries').dataset.loaded = 'true';
}

async function search(ev) {
  ev.preventDefault();
  const hex = $('pcr0').value.trim().toLowerCase();
  const out = $('results');
  out.replaceChildren();
  $('search-status').textContent = '';
  try {
    const r = await fetch(`lookup/pcr0/${encodeURIComponent(hex)}`);
    if (!r.ok) throw new Error(r.status === 404 ? 'no release with that PCR0' : `HTTP ${r.status}`);
    const found = await r.json();
    const entry = { index: found.index, leaf: found.entry, kind: 'release', status: found.status };
    if (found.revokedBy !== undefined) entry.revokedBy = found.revokedBy;
    await renderEntry(out, entry, checkpoint);
  } catch (e) {
    $('search-status').textContent = e.message;
  }
  out.dataset.done = 'true';
}

async function main() {
  $('search').addEventListener('submit', search);
  $('more').addEventListener('click', () => loadMore());
  try {
    await loadCheckpoint();
    await loadMore();
  } catch (e) {
    $('checkpoint').textContent = `error: ${e.message}`;
    $('checkpoint').dataset.verified = 'fail';
  }
}

main();
