// Keycast log explorer (browser side). Everything it shows as ✓ is checked with the verifier
// itself — verifier.js, the esbuild bundle of verifier/browser.ts (the same note, checkpoint,
// cosignature and proof code the CLI and the enclave run, over the @noble crypto provider):
//  - the checkpoint's Ed25519 note signature under the log vkey and its origin
//    (c2sp.org/signed-note, c2sp.org/tlog-checkpoint),
//  - each listed witness's cosignature/v1 on that checkpoint, and its time (c2sp.org/tlog-cosignature),
//  - each entry's leaf hash and its inclusion proof against the checkpoint root (RFC 9162).
//  - each release's status ("active", "revoked by #n") from the log's signed release-status
//    statement for that very tree (keycast.dev/release-status/v1, the one `keycast verify release`
//    and the enclave's gate check); when it does not verify, the row says so and shows ✗.
// What an entry says (PCRs, source, a revocation's reason) is read from its leaf, whose inclusion
// is what ✓ means. The command line each entry offers has `keycast verify release` check it all
// again, outside the browser.
// Data from the server is only ever inserted with textContent, never as HTML.
import * as V from './verifier.js';

// The verifier, for the browser console and the page tests.
window.keycastVerifier = V;

const dec = new TextDecoder();
const PAGE = 20;
const $ = (id) => document.getElementById(id);
/** The log's metadata as the server embedded it (plugin.ts ExplorerMeta): vkey, publishers, witnesses. */
const META = JSON.parse($('keycast-log').textContent);
/** The log's base URL, as `keycast --log` takes it: this page's directory. */
const LOG_URL = new URL('.', location.origin + location.pathname).href;

async function getJson(path) {
  const r = await fetch(path);
  if (!r.ok) {
    const e = new Error(`${path}: HTTP ${r.status}`);
    e.status = r.status;
    throw e;
  }
  return r.json();
}

/**
 * Opens the signed checkpoint under the page's vkey. Resolves to { ok, origin, size, rootHash,
 * note, error }: origin and size are shown (and entries listed) even when the signature fails,
 * but nothing verifies against an unverified checkpoint.
 */
function openCheckpoint(note, vkey) {
  try {
    const { checkpoint } = V.openCheckpoint(note, V.noteVerifier(vkey), V.parseVerifierKey(vkey).name);
    return { ok: true, note, ...checkpoint };
  } catch (e) {
    let shown = { origin: '?', size: 0, rootHash: new Uint8Array() };
    try {
      shown = V.parseCheckpoint(V.splitNote(note).text);
    } catch {
      /* unparseable: nothing to list */
    }
    return { ok: false, note, ...shown, error: e.code ?? e.message };
  }
}

/**
 * One witness's cosignature on the checkpoint note, by the verifier's own witness policy (this
 * witness alone, threshold 1): { name, vkey, state: ok | missing | future | invalid | bad-key, timestamp? }.
 */
function witnessState(note, vkey) {
  let name = '?';
  try {
    name = V.parseVerifierKey(vkey).name;
    const { cosigners } = V.checkWitnessPolicy(note, { witnesses: [vkey], threshold: 1, now: Date.now() / 1000 });
    return { name, vkey, state: 'ok', timestamp: cosigners[0].timestamp };
  } catch (e) {
    if (e.code === 'WITNESS_POLICY') {
      const future = e.evidence.future?.[0];
      return future ? { name, vkey, state: 'future', timestamp: future.timestamp } : { name, vkey, state: 'missing' };
    }
    return { name, vkey, state: e.code === 'COSIGNATURE_INVALID' ? 'invalid' : 'bad-key' };
  }
}

/** Inclusion of one entry in the checkpoint, verified once per index: resolves to true/false. */
const included = new Map();
function verifyEntry(index, leaf, cp) {
  if (!included.has(index)) {
    included.set(
      index,
      (async () => {
        if (!cp.ok || index >= cp.size) return false;
        try {
          const p = await getJson(`proof/inclusion?index=${index}&size=${cp.size}`);
          V.checkInclusion(p.hashes.map(V.fromBase64), index, cp.size, V.hashLeaf(leaf), cp.rootHash);
          return true;
        } catch {
          return false;
        }
      })(),
    );
  }
  return included.get(index);
}

/**
 * The log's signed status statement for release `index` at the page's checkpoint, checked with
 * the verifier (signature under the vkey, origin, that very tree, this release and its PCR0):
 * resolves to { ok: true, state, revokedBy? } or { ok: false, error }. Once per index.
 */
const statuses = new Map();
function verifyStatus(index, pcr0, cp) {
  if (!statuses.has(index)) {
    statuses.set(
      index,
      (async () => {
        if (!cp.ok) return { ok: false, error: 'checkpoint not verified' };
        try {
          const r = await fetch(`status/${index}?size=${cp.size}`);
          if (!r.ok) return { ok: false, error: `HTTP ${r.status}` };
          const s = V.openReleaseStatus(await r.text(), V.noteVerifier(META.vkey), cp.origin);
          try {
            V.requireActiveStatus(s, cp, { index, pcr0 });
            return { ok: true, state: 'active' };
          } catch (e) {
            if (e.code === 'RELEASE_REVOKED') return { ok: true, state: 'revoked', revokedBy: s.status.revokedBy };
            throw e;
          }
        } catch (e) {
          return { ok: false, error: e.code ?? e.message };
        }
      })(),
    );
  }
  return statuses.get(index);
}

/** GET entry/<i>, once per index. */
const entries = new Map();
function getEntry(index) {
  if (!entries.has(index)) {
    const p = getJson(`entry/${index}`);
    p.catch(() => entries.delete(index));
    entries.set(index, p);
  }
  return entries.get(index);
}

const pemBody = (pem) => pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');

/**
 * What the leaf says (leaves are Rekor dsse bodies carrying the signed envelope): the statement's
 * predicate, and its signer — the publisher it matches, or the SHA-256 of the key it carries.
 */
function describe(leaf) {
  try {
    const body = JSON.parse(dec.decode(leaf));
    if (body.type === 'keycast-enclave-identity/v1') return describeIdentity(body);
    if (body.kind === 'delivery') return describeDelivery(body);
    const st = JSON.parse(dec.decode(V.fromBase64(body.spec.envelope.payload)));
    const p = st.predicate || {};
    const m = p.measurements || {};
    const signerPem = dec.decode(V.fromBase64(body.spec.signatures[0].verifier));
    const publisher = META.publishers.find((k) => pemBody(k.pem) === pemBody(signerPem));
    return {
      ok: true,
      pcr0: p.revokes ? p.revokes.pcr0 : m.pcr0 || '',
      pcr1: m.pcr1 || '',
      pcr2: m.pcr2 || '',
      pcr8: m.pcr8 || '',
      eif: p.eif,
      source: p.source,
      lock: p.lock,
      builder: p.builder,
      revokes: p.revokes,
      reason: p.reason,
      release: p.release,
      signer: {
        publisher,
        certificate: /BEGIN CERTIFICATE/.test(signerPem),
        sha256: V.toHex(V.sha256(V.fromBase64(pemBody(signerPem)))),
      },
    };
  } catch {
    return { ok: false, pcr0: '', source: undefined };
  }
}

/**
 * An enclave identity (issue 19): the attested PCR0 and the receipt key it registered (shown by
 * the SHA-256 of its SPKI, as delivery entries and monitors name it).
 */
function describeIdentity(body) {
  return {
    ok: true,
    pcr0: body.pcr0,
    identity: {
      receiptKeySha256: V.toHex(V.sha256(V.fromBase64(body.receiptKey))),
      hpkeKey: body.hpkeKey,
      attestation: body.attestation
        ? `${V.fromBase64(body.attestation).length} bytes in the leaf`
        : body.attestationSha256,
    },
  };
}

/**
 * A delivery (issue 19): what the public sees — the enclave, the rules and film digests, how many
 * recipients, when, the receipt root and the sealed manifest's digest. Who received is sealed.
 */
function describeDelivery(body) {
  const e = JSON.parse(dec.decode(V.fromBase64(body.envelope.payload)));
  return {
    ok: true,
    pcr0: e.pcr0,
    delivery: {
      count: e.count,
      time: e.time,
      rulesDigest: e.rulesDigest,
      rulesSigner: e.rulesSigner,
      cplIdDigest: e.cplIdDigest,
      releaseIndex: e.releaseIndex,
      receiptKeySha256: V.toHex(V.sha256(V.fromBase64(e.receiptKey))),
      root: e.root,
      requestDigest: e.requestDigest,
      manifest: e.manifest,
    },
  };
}

/** Deliveries per rules digest and enclave identities, from the entries this page has read. */
const seenEntries = new Set();
const byRules = new Map();
function tally(entry, d) {
  if (seenEntries.has(entry.index) || !(d.delivery || d.identity)) return;
  seenEntries.add(entry.index);
  if (d.identity) {
    const tr = $('identities').insertRow();
    tr.dataset.index = String(entry.index);
    tr.insertCell().append(entryLink(entry.index));
    const rel = document.createElement('a');
    rel.href = `#pcr0/${d.pcr0}`;
    rel.textContent = short(d.pcr0);
    rel.title = d.pcr0;
    tr.insertCell().append(rel);
    cell(tr, d.identity.receiptKeySha256);
    $('identities-table').hidden = false;
    $('identities-none').hidden = true;
    return;
  }
  const x = d.delivery;
  const r = byRules.get(x.rulesDigest) ?? {
    deliveries: 0,
    recipients: 0,
    first: x.time,
    last: x.time,
    days: new Map(),
  };
  r.deliveries += 1;
  r.recipients += x.count;
  if (x.time < r.first) r.first = x.time;
  if (x.time > r.last) r.last = x.time;
  const day = String(x.time).slice(0, 10);
  r.days.set(day, (r.days.get(day) ?? 0) + x.count);
  byRules.set(x.rulesDigest, r);
  const tbody = $('deliveries');
  tbody.replaceChildren();
  for (const [digest, t] of [...byRules].sort((a, b) => (a[1].last < b[1].last ? 1 : -1))) {
    const tr = tbody.insertRow();
    tr.dataset.rules = digest;
    cell(tr, short(digest), digest);
    cell(tr, String(t.deliveries)).dataset.field = 'deliveries';
    cell(tr, String(t.recipients)).dataset.field = 'recipients';
    cell(tr, `${t.first} → ${t.last}`);
    cell(
      tr,
      [...t.days]
        .sort()
        .map(([dday, n]) => `${dday}: ${n}`)
        .join(', '),
    ).dataset.field = 'per-day';
  }
  $('deliveries-table').hidden = false;
  $('deliveries-none').hidden = true;
}

/** A revocation's reason, read from its leaf ('' if it cannot be read). */
async function reasonOf(index) {
  try {
    return describe(V.fromBase64((await getEntry(index)).leaf)).reason || '';
  } catch {
    return '';
  }
}

/**
 * The status an entry's row shows: { text, cls, signed } — signed is true when a release's
 * status comes from the log's verified statement, false when that statement failed (the text
 * then says so), undefined for entries that have no status statement (revocations, rebuilds).
 */
async function statusOf(entry, d, cp) {
  if (entry.kind === 'identity') return { text: 'enclave identity', cls: '' };
  if (entry.kind === 'delivery')
    return {
      text: d.delivery ? `delivery: ${d.delivery.count} recipient${d.delivery.count === 1 ? '' : 's'}` : 'delivery',
      cls: '',
    };
  if (entry.kind === 'revocation') {
    const target = Number.isSafeInteger(d.revokes?.logIndex) ? `revokes #${d.revokes.logIndex}` : 'revocation';
    return { text: d.reason ? `${target}: ${d.reason}` : target, cls: 'revoked' };
  }
  if (entry.kind === 'rebuild')
    return {
      text: Number.isSafeInteger(d.release?.logIndex) ? `rebuild of #${d.release.logIndex}` : 'rebuild',
      cls: '',
    };
  const st = await verifyStatus(entry.index, d.pcr0, cp);
  if (!st.ok)
    return { text: `${entry.status}? its signed status does not verify: ${st.error}`, cls: 'bad', signed: false };
  if (st.state === 'active') return { text: 'active', cls: '', signed: true };
  const reason = await reasonOf(st.revokedBy);
  return { text: `revoked by #${st.revokedBy}${reason ? `: ${reason}` : ''}`, cls: 'revoked', signed: true };
}

function cell(tr, text, title) {
  const td = tr.insertCell();
  td.textContent = text;
  if (title) td.title = title;
  return td;
}

function entryLink(index) {
  if (!Number.isSafeInteger(index) || index < 0) return document.createTextNode(String(index));
  const a = document.createElement('a');
  a.href = `#entry/${index}`;
  a.textContent = String(index);
  return a;
}

const short = (hex) => (hex.length > 16 ? `${hex.slice(0, 16)}…` : hex);
const sourceText = (d) => {
  if (d.delivery)
    return `rules ${short(d.delivery.rulesDigest)} at ${d.delivery.time} (release #${d.delivery.releaseIndex})`;
  if (d.identity) return `receipt key ${short(d.identity.receiptKeySha256)}`;
  return d.source ? `${d.source.repo} @ ${d.source.commit}` : d.ok ? '' : '(undecodable leaf)';
};

async function renderRow(tbody, entry, cp) {
  const leaf = V.fromBase64(entry.leaf);
  const d = describe(leaf);
  tally(entry, d);
  const tr = tbody.insertRow();
  tr.dataset.index = String(entry.index);
  tr.dataset.kind = entry.kind;
  tr.insertCell().append(entryLink(entry.index));
  cell(tr, entry.kind);
  cell(tr, short(d.pcr0), d.pcr0).className = 'pcr0';
  cell(tr, sourceText(d)).className = 'source';
  const status = cell(tr, '…');
  const v = cell(tr, '…');
  const [st, included] = await Promise.all([statusOf(entry, d, cp), verifyEntry(entry.index, leaf, cp)]);
  status.textContent = st.text;
  status.className = `status ${st.cls}`.trim();
  if (st.signed !== undefined) tr.dataset.status = st.signed ? 'signed' : 'fail';
  // ✓: included in the verified checkpoint, and for a release its status signed for that tree
  const ok = included && st.signed !== false;
  v.textContent = ok ? '✓' : '✗';
  v.title = `inclusion ${included ? '✓' : '✗'}${st.signed === undefined ? '' : `; signed status ${st.signed ? '✓' : '✗'}`}`;
  v.className = ok ? 'ok' : 'bad';
  tr.dataset.verified = ok ? 'ok' : 'fail';
}

/** A word for a POSIX shell: as is when it is plain, else single-quoted. */
const sh = (s) => (/^[A-Za-z0-9_./:@%+=,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** The file name the command line gives a signer's key: the listed publisher's, by its fingerprint. */
const keyFile = (signer, role) =>
  signer?.publisher ? `publisher-${signer.publisher.spkiSha256.slice(0, 12)}.pem` : `${role}.pem`;

/** `keycast verify release` for this entry, against this log, its key and all its witnesses; and what to expect. */
function verifyCommand(entry, d, status) {
  const flags = ['--log', LOG_URL, '--log-key', META.vkey];
  for (const w of META.witnesses) flags.push('--witness', w);
  const line = (words) => words.map(sh).join(' ');
  const publisher = keyFile(d.signer, 'PUBLISHER');
  const save = d.signer?.publisher
    ? `Save the publisher key listed above as ${publisher}, after checking it against the one you pinned.`
    : 'The signer is not a listed publisher: use the publisher key you pinned.';
  if (entry.kind === 'delivery')
    return {
      command: line(['keycast', 'kdm', 'logged', 'KDM.xml', '--proof', 'KDM.xml.logged.json', ...flags]),
      note: `A projector's owner proves a KDM it received is on the record with the proof keycast forward wrote beside it (entryIndex ${entry.index}). The studio lists who received with keycast monitor --deliveries and its audit key.`,
    };
  if (entry.kind === 'identity')
    return {
      command: line(['keycast', 'verify', 'release', d.pcr0, ...flags, '--publisher', 'PUBLISHER.pem']),
      note: "The enclave's attestation (in the leaf) was verified by the log against its trust root; this checks the release it runs.",
    };
  if (entry.kind === 'revocation')
    return {
      command: line(['keycast', 'verify', 'release', d.pcr0, ...flags, '--publisher', publisher]),
      note: `The release this revokes must be refused: exit 1, RELEASE_REVOKED, with the log's signed status statement as evidence. ${save}`,
    };
  if (entry.kind === 'rebuild')
    return {
      command: line([
        'keycast',
        'verify',
        'release',
        d.pcr0,
        ...flags,
        '--publisher',
        'PUBLISHER.pem',
        '--require-rebuilds',
        '1',
        '--rebuilder',
        `rebuilder-${(d.signer?.sha256 ?? '').slice(0, 12)}.pem`,
      ]),
      note: "Counts this endorsement when its signer's key is given as --rebuilder (and the log admits it as a rebuilder); PUBLISHER.pem is the release publisher's key you pinned.",
    };
  const revoked = status.signed ? status.text.startsWith('revoked') : entry.status === 'revoked';
  return {
    command: line(['keycast', 'verify', 'release', d.pcr0, ...flags, '--publisher', publisher]),
    note: `${revoked ? 'Expect exit 1, RELEASE_REVOKED.' : "Exit 0 means: logged, inclusion proven against a checkpoint signed by this key and cosigned by every witness above, signed by the publisher, and active in the log's signed status statement."} ${save}`,
  };
}

function field(dl, name, value, cls) {
  if (value === undefined || value === null || value === '') return;
  const dt = document.createElement('dt');
  dt.textContent = name;
  const dd = document.createElement('dd');
  if (value instanceof Node) dd.append(value);
  else dd.textContent = String(value);
  dd.dataset.field = name;
  if (cls) dd.className = cls;
  dl.append(dt, dd);
}

/** The permalink view of one entry: every field in full, its verification, and the command line. */
async function showEntry(index) {
  const section = $('entry');
  const dl = $('entry-fields');
  dl.replaceChildren();
  delete section.dataset.verified;
  section.dataset.index = String(index);
  section.hidden = false;
  $('entry-title').textContent = `Entry #${index}`;
  $('entry-command').textContent = '';
  $('entry-command-note').textContent = '';
  let entry;
  try {
    entry = await getEntry(index);
  } catch (e) {
    field(dl, 'error', e.status === 404 ? `no entry #${index} in this log` : e.message, 'bad');
    section.dataset.verified = 'fail';
    return;
  }
  const leaf = V.fromBase64(entry.leaf);
  const d = describe(leaf);
  const [st, included] = await Promise.all([statusOf(entry, d, checkpoint), verifyEntry(index, leaf, checkpoint)]);
  if (section.dataset.index !== String(index)) return; // another entry was asked for meanwhile
  const ok = included && st.signed !== false;
  field(dl, 'kind', entry.kind);
  field(dl, 'status', st.text, st.cls);
  if (st.signed === true)
    field(dl, 'signed status', `✓ the log's statement for the tree of size ${checkpoint.size} (verified here)`, 'ok');
  field(
    dl,
    'included',
    included
      ? `✓ in the tree of size ${checkpoint.size} (verified here)`
      : `✗ not proven in the tree of size ${checkpoint.size}`,
    included ? 'ok' : 'bad',
  );
  field(dl, 'leaf hash', V.toHex(V.hashLeaf(leaf)));
  if (d.revokes) {
    const target = document.createElement('span');
    target.append(entryLink(d.revokes.logIndex), ` (PCR0 ${d.revokes.pcr0})`);
    field(dl, 'revokes', target);
    field(dl, 'reason', d.reason);
  }
  if (d.release) field(dl, 'rebuild of', entryLink(d.release.logIndex));
  if (!d.revokes) {
    field(dl, 'PCR0', d.pcr0);
    field(dl, 'PCR1', d.pcr1);
    field(dl, 'PCR2', d.pcr2);
    field(dl, 'PCR8', d.pcr8);
  }
  if (d.identity) {
    field(dl, 'receipt key (SHA-256 of its SPKI)', d.identity.receiptKeySha256);
    field(dl, 'HPKE key', d.identity.hpkeKey);
    field(dl, 'attestation', d.identity.attestation);
  }
  if (d.delivery) {
    const x = d.delivery;
    field(dl, 'recipients', String(x.count));
    field(dl, 'time', x.time);
    field(dl, 'release', entryLink(x.releaseIndex));
    field(dl, 'receipt key (SHA-256 of its SPKI)', x.receiptKeySha256);
    field(dl, 'rules digest', x.rulesDigest);
    field(dl, 'rules signer (SHA-256 of its SPKI)', x.rulesSigner);
    field(dl, 'CPL id digest', x.cplIdDigest);
    field(dl, 'request digest', x.requestDigest);
    field(dl, 'receipt root', x.root);
    const m = document.createElement('a');
    m.href = `delivery-manifest/${x.manifest.sha256}`;
    m.textContent = `${x.manifest.sha256} (${x.manifest.size} bytes, sealed to the studio's audit key)`;
    field(dl, 'manifest', m);
  }
  field(dl, 'EIF SHA-256', d.eif?.sha256);
  field(dl, 'EIF URI', d.eif?.uri);
  field(dl, 'source', d.source?.repo);
  field(dl, 'commit', d.source?.commit);
  field(dl, 'lock SHA-256', d.lock?.sha256);
  field(dl, 'builder', d.builder?.version);
  if (d.signer)
    field(
      dl,
      'signer',
      d.signer.publisher
        ? `listed publisher ${d.signer.publisher.spkiSha256}`
        : `not a listed publisher: ${d.signer.certificate ? 'certificate' : 'key'} SHA-256 ${d.signer.sha256}`,
    );
  if (!d.ok) field(dl, 'leaf', '(undecodable)', 'bad');
  if (d.ok && d.pcr0) {
    const c = verifyCommand(entry, d, st);
    $('entry-command').textContent = c.command;
    $('entry-command-note').textContent = c.note;
  }
  section.dataset.verified = ok ? 'ok' : 'fail';
}

let checkpoint = { ok: false, size: 0, rootHash: new Uint8Array() };
let next = -1;

function renderWitnesses(note) {
  const tbody = $('witnesses');
  tbody.replaceChildren();
  $('witnesses-none').hidden = META.witnesses.length > 0;
  $('witnesses-table').hidden = META.witnesses.length === 0;
  const now = Date.now() / 1000;
  for (const vkey of META.witnesses) {
    const w = witnessState(note, vkey);
    const tr = tbody.insertRow();
    tr.dataset.witness = w.name;
    tr.dataset.verified = w.state === 'ok' ? 'ok' : 'fail';
    cell(tr, w.name);
    cell(tr, vkey);
    const at = (t) => `${new Date(t * 1000).toISOString()} (${Math.max(0, Math.round(now - t))} s ago)`;
    const text = {
      ok: () => `✓ at ${at(w.timestamp)}`,
      future: () => `✗ dated in the future: ${new Date(w.timestamp * 1000).toISOString()}`,
      missing: () => '✗ no cosignature on this checkpoint',
      invalid: () => '✗ invalid cosignature',
      'bad-key': () => '✗ not a cosignature/v1 key',
    }[w.state]();
    const td = cell(tr, text);
    td.className = w.state === 'ok' ? 'ok' : 'bad';
    td.dataset.state = w.state;
  }
}

function renderPublishers() {
  const tbody = $('publishers');
  $('publishers-none').hidden = META.publishers.length > 0;
  $('publishers-table').hidden = META.publishers.length === 0;
  for (const p of META.publishers) {
    const tr = tbody.insertRow();
    tr.dataset.publisher = p.spkiSha256;
    cell(tr, p.spkiSha256);
    const details = document.createElement('details');
    const summary = document.createElement('summary');
    summary.textContent = `PEM (save as publisher-${p.spkiSha256.slice(0, 12)}.pem)`;
    const pre = document.createElement('pre');
    pre.textContent = p.pem;
    details.append(summary, pre);
    tr.insertCell().append(details);
  }
}

async function loadCheckpoint() {
  const note = await (await fetch('checkpoint', { cache: 'no-store' })).text();
  checkpoint = openCheckpoint(note, META.vkey);
  const s = $('checkpoint');
  s.textContent = `size ${checkpoint.size} — log signature ${checkpoint.ok ? '✓' : `✗ ${checkpoint.error}`}`;
  s.className = checkpoint.ok ? 'ok' : 'bad';
  s.dataset.verified = checkpoint.ok ? 'ok' : 'fail';
  $('origin').textContent = checkpoint.origin;
  $('root').textContent = V.toHex(checkpoint.rootHash);
  renderWitnesses(note);
  next = checkpoint.size - 1;
}

async function loadMore() {
  const tbody = $('entries');
  const stop = Math.max(-1, next - PAGE);
  for (; next > stop; next--) await renderRow(tbody, await getEntry(next), checkpoint);
  $('more').hidden = next < 0;
  tbody.dataset.loaded = 'true';
}

const LOOKUP_FIELDS = { pcr0: 'PCR0', eif: 'EIF SHA-256', commit: 'source commit' };

/** What the search box holds: an entry index or a lookup by the length of its hex. */
function classify(q) {
  if (/^#?\d{1,15}$/.test(q)) return { route: `entry/${Number(q.replace('#', ''))}` };
  const byLength = { 96: 'pcr0', 64: 'eif', 40: 'commit' }[q.length];
  if (byLength && /^[0-9a-fA-F]+$/.test(q)) return { route: `${byLength}/${q.toLowerCase()}` };
  return { error: 'expected a PCR0 (96 hex digits), an EIF SHA-256 (64), a commit (40) or an entry number' };
}

async function lookup(kind, hex) {
  const out = $('results');
  out.replaceChildren();
  delete out.dataset.done;
  $('results-table').hidden = true;
  $('search-status').textContent = 'searching…';
  $('q').value = hex;
  try {
    const r = await fetch(`lookup/${kind}/${hex}`);
    if (!r.ok) throw new Error(r.status === 404 ? `no release with that ${LOOKUP_FIELDS[kind]}` : `HTTP ${r.status}`);
    const found = await r.json();
    const entry = { index: found.index, leaf: found.entry, kind: 'release', status: found.status };
    if (found.revokedBy !== undefined) entry.revokedBy = found.revokedBy;
    $('results-table').hidden = false;
    await renderRow(out, entry, checkpoint);
    $('search-status').textContent = `newest release with that ${LOOKUP_FIELDS[kind]}`;
  } catch (e) {
    $('search-status').textContent = e.message;
  }
  out.dataset.done = 'true';
}

/** The page's permalinks: #entry/<i>, #pcr0/<hex>, #eif/<hex>, #commit/<hex>. */
async function route() {
  const h = decodeURIComponent(location.hash.slice(1));
  const entry = /^entry\/(\d{1,15})$/.exec(h);
  const search = /^(pcr0|eif|commit)\/([0-9a-f]+)$/.exec(h);
  if (entry) {
    $('q').value = entry[1];
    await showEntry(Number(entry[1]));
    $('entry').scrollIntoView();
  } else {
    $('entry').hidden = true;
    delete $('entry').dataset.index;
  }
  if (search) await lookup(search[1], search[2]);
  else if (!entry) {
    $('results-table').hidden = true;
    $('results').replaceChildren();
  }
}

function submit(ev) {
  ev.preventDefault();
  const c = classify($('q').value.trim());
  if (c.error) {
    $('search-status').textContent = c.error;
    return;
  }
  if (location.hash === `#${c.route}`) route();
  else location.hash = c.route;
}

async function main() {
  $('search').addEventListener('submit', submit);
  $('more').addEventListener('click', () => loadMore());
  window.addEventListener('hashchange', () => route());
  renderPublishers();
  try {
    await loadCheckpoint();
  } catch (e) {
    $('checkpoint').textContent = `error: ${e.message}`;
    $('checkpoint').dataset.verified = 'fail';
  }
  await route();
  try {
    await loadMore();
  } catch (e) {
    $('entries').dataset.loaded = 'true';
    $('checkpoint').textContent += ` — entries: ${e.message}`;
  }
}

main();
