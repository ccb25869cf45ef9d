/**
 * Adding an entry: admit (verify the bundle under the log's policy), deduplicate by replay key
 * (signer + signed statement; see AdmittedEntry.replayKey),
 * wait for durable integration, and answer with the Sigstore TransparencyLogEntry (tlog.md §3.4)
 * whose inclusion proof and checkpoint the builder embeds in the bundle.
 */
import { MAX_LEAF_BYTES, buildTransparencyLogEntry, hashLeaf, toHex } from '#verifier/build';
import { inclusionProof } from './proofs.ts';
import { LogError } from './errors.ts';
import type { Log } from './log.ts';
import type { AdmittedEntry } from './ports.ts';
import { readCheckpointRoot } from './reads.ts';

export interface AddEntryResult {
  index: number;
  leafHash: string;
  duplicate: boolean;
  transparencyLogEntry: unknown;
}

export async function addEntry(log: Log, bundleJson: string): Promise<AddEntryResult> {
  const ctx = {
    leafAt: (i: number) => (i < log.sequencer.current.size ? (log.storage.entry(i)?.leaf ?? undefined) : undefined),
  };
  let admitted: AdmittedEntry;
  try {
    admitted = await log.policy.admit(bundleJson, ctx);
  } catch (e) {
    // On a shared store another server may have integrated the entry this one names moments
    // ago: look once more after catching up, and refuse as before if that changed nothing.
    const size = log.sequencer.current.size;
    if (!log.sequencer.refresh) throw e;
    await log.sequencer.refresh();
    if (log.sequencer.current.size === size) throw e;
    admitted = await log.policy.admit(bundleJson, ctx);
  }
  if (admitted.leaf.length > MAX_LEAF_BYTES) {
    throw new LogError('ENTRY_TOO_LARGE', `the entry exceeds the ${MAX_LEAF_BYTES}-byte tlog-tiles limit`, {
      size: admitted.leaf.length,
      limit: MAX_LEAF_BYTES,
    });
  }
  const leafHash = hashLeaf(admitted.leaf);
  const r = await log.sequencer.submit(admitted, leafHash);
  const { size, cosigned } = r.checkpoint;
  const tle = buildTransparencyLogEntry({
    index: r.index,
    origin: log.key.origin,
    logPublicKey: log.key.publicKey,
    leaf: r.leaf,
    proof: inclusionProof(r.index, size, size, log.hashes.read, log.hashes.proofMemo(size)),
    checkpointNote: cosigned,
    rootHash: readCheckpointRoot(log, r.checkpoint),
    treeSize: size,
  });
  return { index: r.index, leafHash: toHex(r.leafHash), duplicate: r.duplicate, transparencyLogEntry: tle };
}
