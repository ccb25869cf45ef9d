/**
 * One pass of `keycast monitor` over a log: the new checkpoint must extend the last one
 * (consistency), every other view of the log (--witness-url, --mirror-url) must agree with it (no split view),
 * every new entry must decode (schema, signature) and not repeat a logged statement, every
 * revocation must name a logged release, a PCR0 released again must keep its source (repo and
 * commit; else PROVENANCE_CHANGED), a watched release must be signed by a --publisher key when
 * given, and every signed status statement the log gives for the
 * releases watched must agree with the entries up to its tree (an "active" release revoked below
 * that size is a provable lie). Returns the events and alarms and the state to save when clean.
 */
import {
  VerifierError,
  decodeDeliveryEntryLeaf,
  decodeLeaf,
  leafKind,
  parseIdentityLeaf,
  isVerifierError,
  noteVerifier,
  openCheckpoint,
  type DecodedEntry,
  type LogClient,
  type WitnessedCheckpoint,
} from '../index.ts';
import { requireConsistent } from './memory.ts';
import type { MonitorState } from './monitor-state.ts';

export interface Alarm {
  code: string;
  message: string;
  evidence: Record<string, unknown>;
}

export type MonitorEvent =
  | { type: 'release'; index: number; pcr0: string; repo: string | null; commit: string | null }
  | { type: 'revocation'; index: number; revokes: number; pcr0: string }
  | { type: 'identity'; index: number; pcr0: string; receiptKey: string }
  | {
      type: 'endorsement';
      index: number;
      release: number | null;
      pcr0: string;
      rebuilder: string;
      repo: string | null;
    };

export interface PassInput {
  client: LogClient;
  logKey: string;
  /**
   * Other views of the same log, by URL: witnesses (which serve only the checkpoint they last
   * cosigned, so consistency is proven by the log) and mirrors (which serve proofs too).
   */
  views: View[];
  /** Report events only for these source repositories (all when empty). */
  watch: string[];
  /**
   * The publishers the studio pins (--publisher / --certificate-identity): throws (a coded
   * VerifierError) for a release by anyone else, which alarms PUBLISHER_UNEXPECTED. None: no check.
   */
  publisher?: (entry: DecodedEntry) => void;
  state: MonitorState;
  progress?: (done: number, total: number) => void;
}

export interface View {
  url: string;
  client: LogClient;
  /** Serves only a checkpoint, no proofs (a witness). */
  witness?: boolean;
}

export interface PassResult {
  checkpoint: WitnessedCheckpoint;
  events: MonitorEvent[];
  alarms: Alarm[];
  /** The state to save: only when there are no alarms. */
  next: MonitorState | null;
}

function alarmOf(e: unknown): Alarm {
  if (isVerifierError(e)) return e.toJSON() as unknown as Alarm;
  throw e;
}

/**
 * Checks another view of the log against `cp`, proving consistency with whichever server has the
 * larger tree. A witness serves no proofs: when it has cosigned a larger tree than the log shows,
 * the log is asked for the proof, and only a proven fork alarms (a witness may briefly be ahead of
 * the checkpoint a log publishes; a later pass checks again).
 */
async function compareView(input: PassInput, cp: WitnessedCheckpoint, view: View): Promise<Alarm | null> {
  const seen = await view.client.checkpoint();
  const a = cp.checkpoint;
  const b = seen.checkpoint;
  const context = `the log shows a tree of ${a.size}, ${view.url} a tree of ${b.size}, and they do not agree`;
  try {
    if (b.size <= a.size) await requireConsistent(input.client, seen, cp, context);
    else if (!view.witness) await requireConsistent(view.client, cp, seen, context);
    else {
      try {
        await requireConsistent(input.client, cp, seen, context);
      } catch (e) {
        if (isVerifierError(e) && e.code === 'LOG_INCONSISTENT') throw e;
        return null;
      }
    }
    return null;
  } catch (e) {
    const alarm = alarmOf(e);
    alarm.evidence = { ...alarm.evidence, view: view.url };
    return alarm;
  }
}

const watched = (watch: string[], repo: string | null) => watch.length === 0 || (repo !== null && watch.includes(repo));

export async function monitorPass(input: PassInput): Promise<PassResult> {
  const { client, state } = input;
  const events: MonitorEvent[] = [];
  const alarms: Alarm[] = [];
  const cp = await client.checkpoint();
  const size = cp.checkpoint.size;

  if (state.checkpoint !== null) {
    const prev = openCheckpoint(state.checkpoint, noteVerifier(input.logKey), client.origin);
    try {
      if (size < prev.checkpoint.size) {
        throw new VerifierError(
          'CHECKPOINT_STALE',
          `the log went back from a tree of ${prev.checkpoint.size} to one of ${size}`,
          { older: cp.note, newer: state.checkpoint },
        );
      }
      await requireConsistent(
        client,
        prev,
        cp,
        `the tree of ${prev.checkpoint.size} seen before is not a prefix of the tree of ${size}`,
      );
    } catch (e) {
      alarms.push(alarmOf(e));
      return { checkpoint: cp, events, alarms, next: null };
    }
  }
  for (const view of input.views) {
    const a = await compareView(input, cp, view);
    if (a) alarms.push(a);
  }
  if (alarms.length > 0) return { checkpoint: cp, events, alarms, next: null };

  const next: MonitorState = structuredClone(state);
  const replay = new Set(next.replayKeys);
  // PCR0 → the first release of it: a measurement's provenance (repo, commit) never changes silently
  const firstOf = new Map<string, number>();
  for (const [i, rel] of Object.entries(next.releases)) {
    const known = firstOf.get(rel.pcr0);
    if (known === undefined || Number(i) < known) firstOf.set(rel.pcr0, Number(i));
  }
  for await (const { index, leaf } of client.entries(next.next, cp, input.progress)) {
    // enclave identities and deliveries (issue 19): checked here, reported by --deliveries
    const kind = leafKind(leaf);
    if (kind !== 'release') {
      try {
        if (kind === 'delivery') decodeDeliveryEntryLeaf(leaf);
        else {
          const id = parseIdentityLeaf(leaf);
          const known = Object.values(next.releases).find((r) => r.pcr0 === id.pcr0);
          if (input.watch.length === 0 || (known && watched(input.watch, known.repo)))
            events.push({ type: 'identity', index, pcr0: id.pcr0, receiptKey: id.receiptKeySha256 });
        }
      } catch (err) {
        const a = alarmOf(err);
        alarms.push({
          code: 'ENTRY_INVALID',
          message: `entry ${index} is not a valid Keycast ${kind} entry: ${a.message}`,
          evidence: { index, check: a.code, ...a.evidence },
        });
      }
      continue;
    }
    let e;
    try {
      e = decodeLeaf(leaf);
    } catch (err) {
      const a = alarmOf(err);
      alarms.push({
        code: 'ENTRY_INVALID',
        message: `entry ${index} is not a valid Keycast entry: ${a.message}`,
        evidence: { index, check: a.code, ...a.evidence },
      });
      continue;
    }
    if (replay.has(e.replayKey)) {
      alarms.push({
        code: 'ENTRY_DUPLICATE',
        message: `entry ${index} repeats a statement already logged`,
        evidence: { index, replayKey: e.replayKey },
      });
      continue;
    }
    replay.add(e.replayKey);
    next.replayKeys.push(e.replayKey);
    const source = (e.statement.predicate as { source?: { repo: string; commit: string } }).source;
    const repo = source?.repo ?? null;
    if (e.kind === 'release') {
      const commit = source?.commit ?? null;
      const first = firstOf.get(e.pcr0);
      const was = first === undefined ? undefined : next.releases[first];
      if (
        was !== undefined &&
        (was.repo !== repo || was.commit !== commit) &&
        (watched(input.watch, repo) || watched(input.watch, was.repo))
      ) {
        alarms.push({
          code: 'PROVENANCE_CHANGED',
          message: `entry ${index} releases PCR0 ${e.pcr0.slice(0, 16)}… again under ${repo ?? '-'}@${commit ?? '-'}, but release ${first} logged it from ${was.repo ?? '-'}@${was.commit ?? '-'}`,
          evidence: {
            index,
            pcr0: e.pcr0,
            first: { index: first, repo: was.repo, commit: was.commit },
            again: { index, repo, commit },
          },
        });
      }
      if (first === undefined) firstOf.set(e.pcr0, index);
      if (input.publisher && watched(input.watch, repo)) {
        try {
          input.publisher(e);
        } catch (err) {
          const a = alarmOf(err);
          alarms.push({
            code: 'PUBLISHER_UNEXPECTED',
            message: `release ${index} is not by a pinned publisher: ${a.message}`,
            evidence: { index, pcr0: e.pcr0, check: a.code, ...a.evidence },
          });
        }
      }
      next.releases[index] = { pcr0: e.pcr0, repo, commit };
      if (watched(input.watch, repo))
        events.push({ type: 'release', index, pcr0: e.pcr0, repo, commit: source?.commit ?? null });
    } else if (e.kind === 'revocation') {
      const target = e.revokes!;
      const rel = next.releases[target.index];
      if (!rel || rel.pcr0 !== target.pcr0) {
        alarms.push({
          code: 'REVOCATION_INVALID',
          message: `entry ${index} revokes entry ${target.index}, which is not a release of that PCR0`,
          evidence: { index, revokes: target.index, pcr0: target.pcr0 },
        });
        continue;
      }
      next.revocations[index] = target.index;
      if (next.revoked[target.index] === undefined) next.revoked[target.index] = index;
      if (watched(input.watch, rel.repo))
        events.push({ type: 'revocation', index, revokes: target.index, pcr0: target.pcr0 });
    } else if (e.kind === 'rebuild') {
      const named = (e.statement.predicate as { release?: { logIndex: number } }).release?.logIndex ?? null;
      if (watched(input.watch, repo))
        events.push({ type: 'endorsement', index, release: named, pcr0: e.pcr0, rebuilder: e.signer.spkiSha256, repo });
    }
  }
  next.next = size;
  next.checkpoint = cp.note;

  // Every signed status statement for the releases watched, held against the entries — once per
  // tree size (a statement for a size never changes), so an idle --follow asks nothing.
  const grew = state.checkpoint === null || state.next !== size;
  for (const [i, rel] of grew ? Object.entries(next.releases) : []) {
    if (!watched(input.watch, rel.repo)) continue;
    const index = Number(i);
    const { status, note } = await client.signedStatus(index, cp);
    const revokedBy = next.revoked[index];
    if (status.pcr0 !== rel.pcr0) {
      alarms.push({
        code: 'STATUS_CONTRADICTED',
        message: `the status statement for release ${index} names another PCR0`,
        evidence: { index, statement: note, pcr0: rel.pcr0 },
      });
    } else if (status.status.state === 'active' && revokedBy !== undefined) {
      alarms.push({
        code: 'STATUS_CONTRADICTED',
        message: `the log signed "active" for release ${index} in its tree of ${size}, but entry ${revokedBy} of that tree revokes it`,
        evidence: { index, revokedBy, treeSize: size, statement: note, checkpoint: cp.note },
      });
    } else if (status.status.state === 'revoked' && next.revocations[status.status.revokedBy] !== index) {
      alarms.push({
        code: 'STATUS_CONTRADICTED',
        message: `the log signed "revoked by ${status.status.revokedBy}" for release ${index}, but that entry is not a revocation of it`,
        evidence: {
          index,
          claimedRevokedBy: status.status.revokedBy,
          treeSize: size,
          statement: note,
          checkpoint: cp.note,
        },
      });
    }
  }
  return { checkpoint: cp, events, alarms, next: alarms.length === 0 ? next : null };
}
