/**
 * Independent rebuilds of a release, counted from the log's own entries: a rebuild entry
 * (https://keycast.dev/rebuild/v1) endorses the release at `index` when it is signed by one of
 * the rebuilder keys a studio pins, reports the same PCR0, PCR1 and PCR2, and — when it names a
 * logged release — names this one. Each key counts once, however many entries it logged.
 * Throws REBUILDS_MISSING with what was found when fewer than `k` keys endorse it.
 */
import { VerifierError } from '../errors.ts';
import type { ReleaseSigner } from './dsse.ts';
import type { DecodedEntry } from './leaf.ts';
import type { ReleasePredicate, RebuildPredicate } from './schema.ts';

export interface IndexedEntry {
  index: number;
  entry: DecodedEntry;
}

export interface Endorsement {
  index: number;
  rebuilder: string;
}

function pcrs(e: DecodedEntry): [string, string, string] {
  const m = (e.statement.predicate as ReleasePredicate).measurements;
  return [m.pcr0, m.pcr1, m.pcr2];
}

/** The rebuild entries that endorse `release`, one per pinned rebuilder key (its first entry). */
export function endorsementsOf(
  release: IndexedEntry,
  entries: Iterable<IndexedEntry>,
  rebuilders: ReleaseSigner[],
): Endorsement[] {
  if (release.entry.kind !== 'release') throw new TypeError('endorsementsOf: not a release entry');
  const want = pcrs(release.entry).join(',');
  const pinned = new Set(rebuilders.map((r) => r.spkiSha256));
  const seen = new Map<string, Endorsement>();
  for (const { index, entry } of entries) {
    if (entry.kind !== 'rebuild' || !pinned.has(entry.signer.spkiSha256) || seen.has(entry.signer.spkiSha256)) continue;
    const named = (entry.statement.predicate as RebuildPredicate).release;
    if (named !== undefined && named.logIndex !== release.index) continue;
    if (pcrs(entry).join(',') !== want) continue;
    seen.set(entry.signer.spkiSha256, { index, rebuilder: entry.signer.spkiSha256 });
  }
  return [...seen.values()];
}

/** Requires at least `k` distinct pinned rebuilders to endorse `release`. */
export function requireEndorsements(
  release: IndexedEntry,
  entries: Iterable<IndexedEntry>,
  rebuilders: ReleaseSigner[],
  k: number,
): Endorsement[] {
  const found = endorsementsOf(release, entries, rebuilders);
  if (found.length < k) {
    throw new VerifierError(
      'REBUILDS_MISSING',
      `release ${release.index} has ${found.length} independent rebuild endorsements of the ${k} required`,
      {
        index: release.index,
        required: k,
        found: found.length,
        endorsements: found,
        rebuilders: rebuilders.map((r) => r.spkiSha256),
      },
    );
  }
  return found;
}
