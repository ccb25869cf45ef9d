/**
 * `keycast monitor`: follow a log through its tiles and hold it to what it signed (see
 * monitor-pass.ts for what one pass checks). Events and alarms go to stdout (one JSON object per
 * pass with --json), progress to stderr; an alarm exits 1 and is POSTed to --webhook. State is
 * saved only after a pass verified without alarms, so a bad pass is re-checked next time.
 */
import { LogClient, parseAuditPrivateKey, parseTrustedKey, requirePublisher, type DecodedEntry } from '../index.ts';
import { UUID_URN } from '../build.ts';
import { readUserFile } from './io.ts';
import { deliveriesCsv, deliveryPass, newDeliveryWatch, type DeliveryPassResult } from './monitor-deliveries.ts';
import { IDENTITY_HELP, IDENTITY_OPTIONS } from './identity-flags.ts';
import { publishersFromFlags } from './release.ts';
import { WITNESS_HELP } from './flags.ts';
import { LOG_HELP, LOG_OPTIONS, logSetup, say, transport } from './log.ts';
import { FileMonitorStore } from './monitor-state.ts';
import { defaultStateDir } from './state.ts';
import { monitorPass, type Alarm, type MonitorEvent, type PassResult } from './monitor-pass.ts';
import {
  listFlag as list,
  requireFlag as need,
  parseFlags,
  positiveInt,
  stringFlag as str,
  urlOption,
  usageError,
  type Command,
  type Flags as Values,
} from '../kit/flags.ts';

function describe(e: MonitorEvent): string {
  switch (e.type) {
    case 'release':
      return `release     #${e.index} pcr0=${e.pcr0} ${e.repo ?? '-'}@${e.commit ?? '-'}`;
    case 'revocation':
      return `revocation  #${e.index} revokes release #${e.revokes} (pcr0=${e.pcr0})`;
    case 'identity':
      return `identity    #${e.index} pcr0=${e.pcr0} receipt key ${e.receiptKey}`;
    case 'endorsement':
      return `endorsement #${e.index} of ${e.release === null ? `pcr0=${e.pcr0}` : `release #${e.release}`} by rebuilder ${e.rebuilder}`;
  }
}

async function postWebhook(url: string, body: unknown): Promise<void> {
  try {
    const r = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    if (!r.ok) say(`keycast: webhook ${url} answered HTTP ${r.status}`);
  } catch (e) {
    say(`keycast: webhook ${url} failed: ${(e as Error).message}`);
  }
}

function print(r: PassResult, json: boolean): void {
  const cp = r.checkpoint.checkpoint;
  if (json) {
    console.log(JSON.stringify({ origin: cp.origin, treeSize: cp.size, events: r.events, alarms: r.alarms }));
    return;
  }
  for (const e of r.events) console.log(describe(e));
  for (const a of r.alarms) console.log(`ALARM ${a.code}: ${a.message}\n${JSON.stringify(a.evidence, null, 2)}`);
  say(`keycast: ${cp.origin} at ${cp.size}: ${r.events.length} events, ${r.alarms.length} alarms`);
}

export const monitor: Command = {
  path: ['monitor'],
  summary: 'follow a log and alarm on forks, split views, bad entries and lying status statements',
  help: `keycast monitor --log URL --log-key VKEY [--witness-url URL…] [--mirror-url URL…] [--watch-source REPO…]
                [--publisher KEY.pem… | --certificate-identity ID --certificate-oidc-issuer URL …]
                [--state DIR] [--once | --follow [--interval S]] [--webhook URL] [--json]
keycast monitor --deliveries --log URL --log-key VKEY --rules-key STUDIO.pub --audit-key AUDIT.key
                [--cpl UUID] [--once | --follow [--interval S]] [--webhook URL] [--json | --csv]

Reads the log through its tiles (every tile checked against the signed checkpoint) and checks:
  - each new checkpoint is consistent with the last one seen (a fork: LOG_INCONSISTENT);
  - the checkpoint seen through each --witness-url / --mirror-url agrees with it (a split view);
  - every new entry decodes (schema, DSSE signature; ENTRY_INVALID) and repeats no logged
    statement (ENTRY_DUPLICATE); every revocation names a logged release (REVOCATION_INVALID);
  - a PCR0 released again keeps the source repo and commit of its first release
    (PROVENANCE_CHANGED, with both entries as evidence: the log admits it, the monitor tells you);
  - with --publisher / --certificate-identity: every watched release is by one of those publishers,
    by key or keylessly by identity (PUBLISHER_UNEXPECTED, with the code and field that differ);
  - the log's signed status statement for every watched release, at the current tree, agrees with
    the entries (STATUS_CONTRADICTED: "active" for a release revoked below that size, with the
    statement and checkpoint as evidence).
Reports new releases, revocations and rebuild endorsements (only for --watch-source repos when
given). Alarms exit 1 and are POSTed as JSON to --webhook. State is saved (per log, under
--state) only after a pass verified without alarms.

  --witness-url URL     a Keycast witness (keycast witness serve): the latest checkpoint it
                        cosigned for this log, read from URL/logs/<origin>/checkpoint (origin
                        from --log-key, URL-escaped); repeatable
  --mirror-url URL      another view of this log serving URL/checkpoint and proofs (a mirror,
                        or the log reached another way); repeatable
  --watch-source REPO   report and check releases of this source repository (repeatable)
  --publisher KEY.pem   your release publishers' public keys (repeatable; the same flag as verify
                        release, so one set of log flags serves both)
${IDENTITY_HELP}
  --once                one pass (default)      --follow  keep following, every --interval S (10)
  --webhook URL         POST {origin, treeSize, events, alarms} when there are alarms
${LOG_HELP}
${WITNESS_HELP}

With --deliveries: every delivery of keys under rules the studio signed (issue 19). Each delivery
entry whose rulesSigner is --rules-key (with --cpl, for that film only) is listed with its time,
enclave (pcr0, receipt key), count and — its sealed manifest fetched from the log and opened with
--audit-key (the X25519 PKCS#8 PEM \`openssl genpkey -algorithm X25519\` writes; its public half is
the rules' audit.hpkeX25519) — its recipients {thumbprint, subject}. Alarms:
  MANIFEST_UNOPENABLE / MANIFEST_MISMATCH / MANIFEST_UNAVAILABLE  the manifest does not open with
      the audit key, does not reproduce the entry's count and receipt root, or is not served;
  RULES_SIGNATURE / RULES_MISMATCH  the rules inside are not signed by --rules-key, or are not
      the rules (or film) the entry names;
  DELIVERY_OUTSIDE_WINDOW  a delivery before forwardFrom or after forwardUntil;
  RECIPIENT_NOT_ALLOWED    a recipient the rules exclude, or do not list (rules naming
      manufacturer roots cannot be judged from a thumbprint: those recipients are listed only);
  DELIVERY_OVER_LIMIT      more distinct recipients under one rules digest than maxRecipients,
      across all batches;
  ENCLAVE_NOT_ACTIVE       a delivery signed by a key no earlier identity entry registered for its
      PCR0, or from a release revoked before it;
  DELIVERY_DUPLICATE       a second entry for one request.
Each run reads the log from its first entry (totals need every delivery) and keeps no state;
--follow then reports only new deliveries. --json prints {origin, treeSize, deliveries, alarms};
--csv one row per recipient (alarms on stderr).

Exit 0 clean, 1 alarm, 2 bad flags, 3 the log is unreachable or answers nonsense (tiles that do
not match the checkpoint are refused as TILE_MISMATCH, exit 1), 6 a state file cannot be read.`,
  async run(args) {
    const { values: v } = parseFlags(args, {
      ...LOG_OPTIONS,
      'witness-url': urlOption(true),
      'mirror-url': urlOption(true),
      'watch-source': { type: 'string', multiple: true },
      publisher: { type: 'string', multiple: true },
      ...IDENTITY_OPTIONS,
      once: { type: 'boolean' },
      follow: { type: 'boolean' },
      interval: { type: 'string' },
      webhook: urlOption(),
      deliveries: { type: 'boolean' },
      'rules-key': { type: 'string' },
      'audit-key': { type: 'string' },
      cpl: { type: 'string' },
      csv: { type: 'boolean' },
    });
    if (v.once === true && v.follow === true) throw usageError('give --once or --follow, not both');
    if (v.follow !== true && str(v, 'interval') !== undefined) throw usageError('--interval needs --follow');
    const interval = positiveInt(str(v, 'interval'), 'interval', 10);
    if (v.deliveries === true) return monitorDeliveries(v, interval);
    for (const f of ['rules-key', 'audit-key', 'cpl', 'csv'])
      if (v[f] !== undefined) throw usageError(`--${f} needs --deliveries`);
    const log = logSetup(v);
    const origin = encodeURIComponent(log.client.origin!);
    const views = [
      ...list(v, 'witness-url').map((url) => ({
        url,
        witness: true,
        // read through the verifier's transport: capped at one note, timed out, retried
        client: new LogClient({
          ...transport(v),
          url: new URL(`logs/${origin}/`, url.endsWith('/') ? url : `${url}/`),
          logKey: log.logKey,
        }),
      })),
      ...list(v, 'mirror-url').map((url) => ({
        url,
        witness: false,
        client: new LogClient({ ...transport(v), url, logKey: log.logKey }),
      })),
    ];
    const pinned = publishersFromFlags(v, true);
    const publisher =
      pinned.keys.length > 0 || pinned.keyless
        ? (e: DecodedEntry) => void requirePublisher(e, pinned.keys, pinned.keyless)
        : undefined;
    const store = new FileMonitorStore(str(v, 'state') ?? defaultStateDir());
    const json = v.json === true;
    const webhook = str(v, 'webhook');
    for (;;) {
      const state = store.load(log.logKey);
      let lastSay = 0;
      const r = await monitorPass({
        client: log.client,
        logKey: log.logKey,
        views,
        watch: list(v, 'watch-source'),
        ...(publisher ? { publisher } : {}),
        state,
        progress: (done, total) => {
          if (Date.now() - lastSay > 1000 || done === total) {
            lastSay = Date.now();
            say(`keycast: read tiles for entries ${done}/${total}`);
          }
        },
      });
      print(r, json);
      if (r.alarms.length > 0) {
        if (webhook !== undefined)
          await postWebhook(webhook, {
            origin: r.checkpoint.checkpoint.origin,
            treeSize: r.checkpoint.checkpoint.size,
            events: r.events,
            alarms: r.alarms as Alarm[],
          });
        return 1;
      }
      if (r.next) store.save(log.logKey, r.next);
      if (v.follow !== true) return 0;
      await new Promise((ok) => setTimeout(ok, interval * 1000));
    }
  },
};

/** Reads a key file the user named (small: a PEM key). */
function keyFile(path: string, what: string): Uint8Array {
  return readUserFile(path, 64 * 1024, what);
}

function printDeliveries(r: DeliveryPassResult, json: boolean, csv: boolean, first: boolean): void {
  const cp = r.checkpoint.checkpoint;
  if (json) {
    console.log(JSON.stringify({ origin: cp.origin, treeSize: cp.size, deliveries: r.deliveries, alarms: r.alarms }));
    return;
  }
  if (csv) {
    const text = deliveriesCsv(r.deliveries, first);
    if (text) console.log(text.slice(0, -1));
  } else {
    for (const d of r.deliveries) {
      console.log(
        `delivery #${d.index} ${d.time} ${d.count} recipient${d.count === 1 ? '' : 's'} by enclave pcr0=${d.enclave.pcr0.slice(0, 16)}… (release #${d.enclave.releaseIndex})`,
      );
      for (const x of d.recipients) console.log(`  ${x.thumbprint} ${x.subject}`);
    }
  }
  for (const a of r.alarms) {
    const text = `ALARM ${a.code}: ${a.message}\n${JSON.stringify(a.evidence, null, 2)}`;
    if (csv) say(text);
    else console.log(text);
  }
  say(`keycast: ${cp.origin} at ${cp.size}: ${r.deliveries.length} deliveries, ${r.alarms.length} alarms`);
}

async function monitorDeliveries(v: Values, interval: number): Promise<number> {
  if (v.json === true && v.csv === true) throw usageError('give --json or --csv, not both');
  for (const f of ['witness-url', 'mirror-url', 'watch-source', 'publisher'])
    if (v[f] !== undefined) throw usageError(`--${f} is for the release monitor, not --deliveries`);
  const rulesKey = parseTrustedKey(new TextDecoder().decode(keyFile(need(v, 'rules-key'), '--rules-key')));
  let auditKey: ReturnType<typeof parseAuditPrivateKey>;
  try {
    auditKey = parseAuditPrivateKey(keyFile(need(v, 'audit-key'), '--audit-key'));
  } catch (e) {
    if (e instanceof TypeError) throw usageError(`--audit-key: ${e.message}`);
    throw e;
  }
  const cpl = str(v, 'cpl');
  const cplUrn = cpl === undefined ? undefined : (cpl.startsWith('urn:uuid:') ? cpl : `urn:uuid:${cpl}`).toLowerCase();
  if (cplUrn !== undefined && !UUID_URN.test(cplUrn)) throw usageError('--cpl must be a UUID (or urn:uuid:…)');
  const log = logSetup(v);
  const watch = newDeliveryWatch();
  const webhook = str(v, 'webhook');
  for (let first = true; ; first = false) {
    const r = await deliveryPass({
      client: log.client,
      rulesKey,
      auditKey,
      ...(cplUrn ? { cpl: cplUrn } : {}),
      watch,
    });
    printDeliveries(r, v.json === true, v.csv === true, first);
    if (r.alarms.length > 0) {
      if (webhook !== undefined)
        await postWebhook(webhook, {
          origin: r.checkpoint.checkpoint.origin,
          treeSize: r.checkpoint.checkpoint.size,
          deliveries: r.deliveries,
          alarms: r.alarms,
        });
      return 1;
    }
    if (v.follow !== true) return 0;
    await new Promise((ok) => setTimeout(ok, interval * 1000));
  }
}
