// Keycast log explorer (browser side). Verifies everything it shows with WebCrypto:
//  - the checkpoint's Ed25519 note signature under the log vkey (c2sp.org/signed-note,
//    c2sp.org/tlog-checkpoint),
//  - each entry's leaf hash SHA-256(0x00 ‖ leaf) and its inclusion proof against the
//    checkpoint root (RFC 9162 §2.1.3.2).
// Data from the server is only ever inserted with textContent, never as HTML.
'use strict';

const enc = new TextEncoder();
const dec = new TextDecoder();
const PAGE = 20;
const $ = (id) => document.getElementById(id);

const b64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
const concat = (...parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
};
const sha256 = async (bytes) => new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
const equal = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

async function getJson(path) {
  const r = await fetch(path);
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
  return r.json();
}

/** vkey = name+hex(keyId)+base64(0x01 ‖ pub32). */
function parseVkey(vkey) {
  const [name, id, ...rest] = vkey.split('+'); // base64 may itself contain '+'
  const raw = b64(rest.join('+'));
  if (raw.length !== 33 || raw[0] !== 1) throw new Error('not an Ed25519 note key');
  return { name, keyId: id, pub: raw.slice(1) };
}

/** Opens a signed checkpoint note; resolves to { ok, origin, size, root, error }. */
async function openCheckpoint(note, vkey) {
  const split = note.lastIndexOf('\n\n');
  if (split < 0) return { ok: false, error: 'malformed note' };
  const text = note.slice(0, split + 1);
  const [origin, sizeLine, rootLine] = text.split('\n');
  const cp = { origin, size: Number(sizeLine), root: b64(rootLine), ok: false };
  const k = parseVkey(vkey);
  const key = await crypto.subtle.importKey('raw', k.pub, { name: 'Ed25519' }, false, ['verify']);
  for (const line of note.slice(split + 2).split('\n')) {
    const m = /^\u2014 (\S+) (\S+)$/.exec(line);
    if (!m || m[1] !== k.name) continue;
    const sig = b64(m[2]);
    const id = [...sig.slice(0, 4)].map((x) => x.toString(16).padStart(2, '0')).join('');
    if (id !== k.keyId) continue;
    cp.ok = await crypto.subtle.verify({ name: 'Ed25519' }, key, sig.slice(4), enc.encode(text));
    if (!cp.ok) cp.error = 'bad log signature';
    return cp;
  }
  cp.error = 'no signature by the log key';
  return cp;
}

/** RFC 9162 §2.1.3.2: the root implied by an inclusion proof (null if the proof has the wrong shape). */
async function rootFromProof(index, size, leafHash, proof) {
  if (index >= size) return null;
  let fn = index, sn = size - 1, r = leafHash;
  const node = (l, rt) => sha256(concat(Uint8Array.of(1), l, rt));
  for (const p of proof) {
    if (sn === 0) return null;
    if (fn % 2 === 1 || fn === sn) {
      r = await node(p, r);
      if (fn % 2 === 0) while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
    } else {
      r = await node(r, p);
    }
    fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
  }
  return sn === 0 ? r : null;
}

/** Verifies one entry's inclusion in the checkpoint; resolves to true/false. */
async function verifyEntry(index, leaf, cp) {
  if (!cp.ok) return false;
  try {
    const leafHash = await sha256(concat(Uint8Array.of(0), leaf));
    const p = await getJson(`proof/inclusion?index=${index}&size=${cp.size}`);
    const root = await rootFromProof(index, cp.size, leafHash, p.hashes.map(b64));
    return root !== null && equal(root, cp.root);
  } catch {
    return false;
  }
}

/** What the leaf says: PCRs, source, revocation target (leaves are Rekor dsse bodies with the envelope). */
function describe(leaf) {
  try {
    const body = JSON.parse(dec.decode(leaf));
    const st = JSON.parse(dec.decode(b64(body.spec.envelope.payload)));
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
  const leaf = b64(entry.leaf);
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
  checkpoint = await openCheckpoint(note, vkey);
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
