/**
 * `keycast monitor --deliveries`: every delivery of a studio's keys on the record (issue 19).
 * Reads the log through its tiles (every entry checked against the signed checkpoint) and, for
 * each delivery entry under rules this studio signed (entry `rulesSigner` = SHA-256 of the
 * --rules-key SPKI; with --cpl only that film), opens its sealed manifest (fetched from the log,
 * checked against the digest and size the entry signs) with the studio's audit key, and checks:
 *
 *  - the manifest opens (MANIFEST_UNOPENABLE: sealed to another key, or altered) and reproduces
 *    the entry (MANIFEST_MISMATCH: request, count or Merkle root differ; MANIFEST_UNAVAILABLE: the
 *    log does not serve what its entry names);
 *  - the rules it carries are signed by the studio key (RULES_SIGNATURE) and are the ones the
 *    entry names (RULES_MISMATCH: digest, or the film's CPL digest);
 *  - the delivery's time lies in [forwardFrom, forwardUntil] (DELIVERY_OUTSIDE_WINDOW);
 *  - every recipient is allowed by the rules (RECIPIENT_NOT_ALLOWED: excluded, or not listed when
 *    the rules list thumbprints and name no manufacturer roots — a root-based rule cannot be
 *    checked from a thumbprint and subject, so such recipients are reported, not judged);
 *  - the distinct recipients across all deliveries under one rules digest stay within
 *    limits.maxRecipients (DELIVERY_OVER_LIMIT);
 *  - the enclave that signed it registered its identity earlier in the log for that PCR0, and its
 *    release (entry `releaseIndex`, a release of that PCR0) was not revoked by an earlier entry
 *    (ENCLAVE_NOT_ACTIVE);
 *  - one entry per request (DELIVERY_DUPLICATE).
 *
 * Every process reads the log from its first entry (the recipient totals need every delivery);
 * --follow then reports only what is new. No state is written.
 */
import {
  VerifierError,
  checkManifest,
  cplIdDigest,
  decodeDeliveryEntryLeaf,
  decodeLeaf,
  fromBase64,
  isVerifierError,
  leafKind,
  openManifest,
  openRules,
  parseIdentityLeaf,
  parseInstant,
  type DeliveryEntry,
  type DeliveryManifest,
  type ForwardRules,
  type LogClient,
  type OpenedRules,
  type ReleaseSigner,
  type WitnessedCheckpoint,
} from '../index.ts';
import type { KeyObject } from 'node:crypto';
import type { Alarm } from './monitor-pass.ts';

export interface DeliveryReport {
  index: number;
  time: string;
  count: number;
  enclave: { pcr0: string; receiptKey: string; releaseIndex: number; identity: number | null };
  rulesDigest: string;
  cplIdDigest: string;
  requestDigest: string;
  /** decrypted from the manifest; empty when it did not open */
  recipients: Array<{ thumbprint: string; subject: string }>;
}

/** What one process has learned of the log so far (kept in memory across --follow passes). */
export interface DeliveryWatch {
  checkpoint: WitnessedCheckpoint | null;
  next: number;
  /** release index → PCR0 */
  releases: Map<number, string>;
  /** PCR0 → the index of the first revocation that retired it */
  retired: Map<string, number>;
  /** receipt key SHA-256 → its identity entry */
  identities: Map<string, { index: number; pcr0: string }>;
  /** rules digest → distinct recipient thumbprints delivered under it */
  recipients: Map<string, Set<string>>;
  /** rules digests already alarmed as over their limit */
  overLimit: Set<string>;
  /** receipt key SHA-256 + request digest → entry index */
  requests: Map<string, number>;
}

export function newDeliveryWatch(): DeliveryWatch {
  return {
    checkpoint: null,
    next: 0,
    releases: new Map(),
    retired: new Map(),
    identities: new Map(),
    recipients: new Map(),
    overLimit: new Set(),
    requests: new Map(),
  };
}

export interface DeliveryPassInput {
  client: LogClient;
  rulesKey: ReleaseSigner;
  auditKey: KeyObject;
  /** lowercase urn:uuid: CPL id to restrict to */
  cpl?: string;
  watch: DeliveryWatch;
  progress?: (done: number, total: number) => void;
}

export interface DeliveryPassResult {
  checkpoint: WitnessedCheckpoint;
  deliveries: DeliveryReport[];
  alarms: Alarm[];
}

function alarm(code: string, message: string, evidence: Record<string, unknown>): Alarm {
  return { code, message, evidence };
}

function fromError(e: unknown, index: number): Alarm {
  if (!isVerifierError(e)) throw e;
  return alarm(e.code, `delivery ${index}: ${e.message}`, { index, ...e.toJSON().evidence });
}

/** Reads the log from `watch.next` to its current checkpoint. */
export async function deliveryPass(input: DeliveryPassInput): Promise<DeliveryPassResult> {
  const { client, watch } = input;
  const cp = await client.checkpoint();
  if (watch.checkpoint !== null && cp.checkpoint.size < watch.checkpoint.checkpoint.size)
    throw new VerifierError('CHECKPOINT_STALE', 'the log went back to a smaller tree', {
      older: watch.checkpoint.note,
      newer: cp.note,
    });
  const deliveries: DeliveryReport[] = [];
  const alarms: Alarm[] = [];
  const cplDigest = input.cpl === undefined ? undefined : cplIdDigest(input.cpl);
  for await (const { index, leaf } of client.entries(watch.next, cp, input.progress)) {
    const kind = leafKind(leaf);
    try {
      if (kind === 'identity') {
        const id = parseIdentityLeaf(leaf);
        if (!watch.identities.has(id.receiptKeySha256))
          watch.identities.set(id.receiptKeySha256, { index, pcr0: id.pcr0 });
      } else if (kind === 'release') {
        const e = decodeLeaf(leaf);
        if (e.kind === 'release') watch.releases.set(index, e.pcr0);
        else if (e.kind === 'revocation' && e.revokes && watch.releases.get(e.revokes.index) === e.revokes.pcr0) {
          if (!watch.retired.has(e.revokes.pcr0)) watch.retired.set(e.revokes.pcr0, index);
        }
      } else {
        const { entry, receiptKeySha256 } = decodeDeliveryEntryLeaf(leaf);
        if (entry.rulesSigner !== input.rulesKey.spkiSha256) continue;
        if (cplDigest !== undefined && entry.cplIdDigest !== cplDigest) continue;
        deliveries.push(await checkDelivery(input, index, entry, receiptKeySha256, alarms));
      }
    } catch (e) {
      const a = fromError(e, index);
      alarms.push(
        alarm('ENTRY_INVALID', `entry ${index} is not a valid Keycast ${kind} entry: ${a.message}`, a.evidence),
      );
    }
  }
  watch.next = cp.checkpoint.size;
  watch.checkpoint = cp;
  return { checkpoint: cp, deliveries, alarms };
}

async function checkDelivery(
  input: DeliveryPassInput,
  index: number,
  entry: DeliveryEntry,
  receiptKeySha256: string,
  alarms: Alarm[],
): Promise<DeliveryReport> {
  const { watch } = input;
  const id = watch.identities.get(receiptKeySha256);
  const report: DeliveryReport = {
    index,
    time: entry.time,
    count: entry.count,
    enclave: {
      pcr0: entry.pcr0,
      receiptKey: entry.receiptKey,
      releaseIndex: entry.releaseIndex,
      identity: id?.index ?? null,
    },
    rulesDigest: entry.rulesDigest,
    cplIdDigest: entry.cplIdDigest,
    requestDigest: entry.requestDigest,
    recipients: [],
  };
  const ev = { index, receiptKeySha256, requestDigest: entry.requestDigest };
  // the enclave: registered before this entry, for this PCR0, and its release live at the time
  const retiredBy = watch.retired.get(entry.pcr0);
  if (!id || id.pcr0 !== entry.pcr0)
    alarms.push(
      alarm(
        'ENCLAVE_NOT_ACTIVE',
        `delivery ${index} is signed by an enclave key no identity entry registered for its PCR0`,
        { ...ev, pcr0: entry.pcr0 },
      ),
    );
  else if (watch.releases.get(entry.releaseIndex) !== entry.pcr0)
    alarms.push(
      alarm(
        'ENCLAVE_NOT_ACTIVE',
        `delivery ${index} names release ${entry.releaseIndex}, which is not a release of its PCR0`,
        { ...ev, releaseIndex: entry.releaseIndex, pcr0: entry.pcr0 },
      ),
    );
  else if (retiredBy !== undefined)
    alarms.push(
      alarm(
        'ENCLAVE_NOT_ACTIVE',
        `delivery ${index} comes from an enclave whose release entry ${retiredBy} revoked before it`,
        { ...ev, pcr0: entry.pcr0, revokedBy: retiredBy },
      ),
    );
  const key = `${receiptKeySha256}:${entry.requestDigest}`;
  const first = watch.requests.get(key);
  if (first !== undefined)
    alarms.push(
      alarm(
        'DELIVERY_DUPLICATE',
        `delivery ${index} logs request ${entry.requestDigest.slice(0, 16)}… again (first: entry ${first})`,
        { ...ev, first },
      ),
    );
  else watch.requests.set(key, index);

  // the manifest: served by the log as the entry names it, opens with the audit key, matches
  let manifest: DeliveryManifest;
  try {
    const sealed = await input.client.deliveryManifest(entry.manifest.sha256);
    if (sealed === null) {
      alarms.push(
        alarm('MANIFEST_UNAVAILABLE', `the log does not serve the manifest delivery ${index} names`, {
          ...ev,
          manifest: entry.manifest,
        }),
      );
      return report;
    }
    manifest = await openManifest(sealed, input.auditKey, entry.requestDigest);
    checkManifest(entry, manifest, sealed);
  } catch (e) {
    if (isVerifierError(e, 'LOG_UNAVAILABLE')) throw e;
    alarms.push(fromError(e, index));
    return report;
  }
  report.recipients = manifest.recipients.map((r) => ({ thumbprint: r.thumbprint, subject: r.subject }));

  // the rules the enclave applied: this studio's, the ones the entry names
  let opened: OpenedRules;
  try {
    opened = openRules(fromBase64(manifest.rules), input.rulesKey);
  } catch (e) {
    // RULES_SIGNATURE: not this studio's signature; RULES_INVALID / OVERSIZED: not rules at all
    alarms.push(fromError(e, index));
    return report;
  }
  const rules: ForwardRules = opened.rules;
  if (opened.digest !== entry.rulesDigest) {
    alarms.push(
      alarm('RULES_MISMATCH', `delivery ${index}: the manifest carries other rules than the entry names`, {
        ...ev,
        rulesDigest: opened.digest,
        entryRulesDigest: entry.rulesDigest,
      }),
    );
    return report;
  }
  if (cplIdDigest(rules.film.cplId) !== entry.cplIdDigest)
    alarms.push(
      alarm('RULES_MISMATCH', `delivery ${index} names another film than its rules`, {
        ...ev,
        cplId: rules.film.cplId,
      }),
    );
  const t = parseInstant(entry.time);
  if (t < parseInstant(rules.forwardFrom) || t > parseInstant(rules.forwardUntil))
    alarms.push(
      alarm('DELIVERY_OUTSIDE_WINDOW', `delivery ${index} at ${entry.time} is outside the rules' forwarding window`, {
        ...ev,
        time: entry.time,
        forwardFrom: rules.forwardFrom,
        forwardUntil: rules.forwardUntil,
      }),
    );
  const listed = new Set(rules.recipients.thumbprints);
  const excluded = new Set(rules.recipients.excluded);
  const byList = rules.recipients.roots.length === 0;
  for (const r of manifest.recipients)
    if (excluded.has(r.thumbprint) || (byList && !listed.has(r.thumbprint)))
      alarms.push(
        alarm('RECIPIENT_NOT_ALLOWED', `delivery ${index} went to ${r.subject}, whom the rules do not allow`, {
          ...ev,
          thumbprint: r.thumbprint,
          subject: r.subject,
          excluded: excluded.has(r.thumbprint),
        }),
      );
  const seen = watch.recipients.get(entry.rulesDigest) ?? new Set<string>();
  watch.recipients.set(entry.rulesDigest, seen);
  for (const r of manifest.recipients) seen.add(r.thumbprint);
  if (seen.size > rules.limits.maxRecipients && !watch.overLimit.has(entry.rulesDigest)) {
    watch.overLimit.add(entry.rulesDigest);
    alarms.push(
      alarm(
        'DELIVERY_OVER_LIMIT',
        `with delivery ${index}, ${seen.size} recipients received keys under these rules, more than their maxRecipients ${rules.limits.maxRecipients}`,
        {
          ...ev,
          rulesDigest: entry.rulesDigest,
          recipients: seen.size,
          maxRecipients: rules.limits.maxRecipients,
        },
      ),
    );
  }
  return report;
}

/** CSV: one row per recipient of each delivery (a delivery whose manifest did not open: one row, no recipient). */
export function deliveriesCsv(ds: DeliveryReport[], header: boolean): string {
  const q = (s: string | number) => {
    const t = String(s);
    return /[",\n\r]/.test(t) ? `"${t.replace(/"/g, '""')}"` : t;
  };
  const rows = header ? ['index,time,count,pcr0,receiptKey,rulesDigest,thumbprint,subject'] : [];
  for (const d of ds) {
    const base = [d.index, d.time, d.count, d.enclave.pcr0, d.enclave.receiptKey, d.rulesDigest];
    const rs = d.recipients.length > 0 ? d.recipients : [{ thumbprint: '', subject: '' }];
    for (const r of rs) rows.push([...base, r.thumbprint, r.subject].map(q).join(','));
  }
  return rows.length > 0 ? `${rows.join('\n')}\n` : '';
}
