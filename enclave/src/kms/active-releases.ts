/**
 * The releases a Keycast log proves active, read through the one verified log client
 * (#verifier LogClient): the witnessed checkpoint (log key + witness quorum + freshness), then
 * every entry bundle, each checked against tiles authenticated by that checkpoint — so the
 * list is exactly the log's content at that tree, not the log's say-so. Active = every
 * release's PCR0, minus each PCR0 a logged revocation retires (a revocation names the release
 * index and its PCR0, and the log admits it only from that release's signer or an allowed
 * publisher). Rebuild attestations, enclave identities and deliveries do not make anything active. With `accept` (the publishers a
 * studio pins: keys and keyless identities, #verifier requirePublisher), a release by anyone else
 * is not active either, whatever the log admitted: it is listed with `excluded` (code and field).
 */
import {
  TILE_WIDTH,
  decodeDeliveryEntryLeaf,
  decodeLeaf,
  leafKind,
  parseIdentityLeaf,
  type DecodedEntry,
  type LogClient,
  type WitnessedCheckpoint,
} from '#verifier';

/** null to accept a release entry, or why it is excluded (a VerifierError's code and evidence field). */
export type ReleaseFilter = (entry: DecodedEntry) => { code: string; field?: string } | null;

export interface ActiveReleases {
  checkpoint: WitnessedCheckpoint;
  /** sorted lower-case PCR0s */
  pcr0s: string[];
  releases: Array<{ index: number; pcr0: string; active: boolean; excluded?: { code: string; field?: string } }>;
  revocations: Array<{ index: number; revokes: number; pcr0: string }>;
}

export async function activeReleases(client: LogClient, accept?: ReleaseFilter): Promise<ActiveReleases> {
  const checkpoint = await client.checkpoint();
  const size = checkpoint.checkpoint.size;
  const releases: ActiveReleases['releases'] = [];
  const revocations: ActiveReleases['revocations'] = [];
  for (let b = 0; b * TILE_WIDTH < size; b++) {
    const leaves = await client.entryBundle(b, checkpoint);
    leaves.forEach((leaf, j) => {
      const index = b * TILE_WIDTH + j;
      // enclave identities and deliveries (issue 19) make nothing active; they must still decode
      const kind = leafKind(leaf);
      if (kind === 'identity') return void parseIdentityLeaf(leaf);
      if (kind === 'delivery') return void decodeDeliveryEntryLeaf(leaf);
      const e = decodeLeaf(leaf);
      if (e.kind === 'release') {
        const excluded = accept?.(e) ?? null;
        releases.push(
          excluded ? { index, pcr0: e.pcr0, active: false, excluded } : { index, pcr0: e.pcr0, active: true },
        );
      } else if (e.kind === 'revocation' && e.revokes)
        revocations.push({ index, revokes: e.revokes.index, pcr0: e.revokes.pcr0 });
    });
  }
  const retired = new Set<string>();
  for (const r of revocations) {
    const target = releases.find((x) => x.index === r.revokes);
    if (target && target.pcr0 === r.pcr0) retired.add(r.pcr0);
  }
  for (const r of releases) r.active = !r.excluded && !retired.has(r.pcr0);
  const pcr0s = [...new Set(releases.filter((r) => r.active).map((r) => r.pcr0))].sort();
  return { checkpoint, pcr0s, releases, revocations };
}
