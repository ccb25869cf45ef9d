/**
 * Adding an entry: admit (verify the bundle under the log's policy, or an enclave identity or a
 * delivery under deliveries.ts), deduplicate by replay key (signer + signed statement; see
 * AdmittedEntry.replayKey), wait for durable integration, and answer with the Sigstore
 * TransparencyLogEntry (tlog.md §3.4) whose inclusion proof and checkpoint the builder embeds in
 * the bundle (and an enclave checks before releasing a delivery's outputs).
 */
import { MAX_LEAF_BYTES, buildTransparencyLogEntry, hashLeaf, parseAddEntryBody, toHex } from '#verifier';
import { inclusionProof } from './proofs.ts';
import { LogError } from './errors.ts';
import type { Log } from './log.ts';
import type { AdmittedEntry } from './ports.ts';
import { readCheckpointRoot } from './reads.ts';
import { admitDelivery, admitIdentity, requireSameLeaf } from './deliveries.ts';

export interface AddEntryResult {
  index: number;
  leafHash: string;
  duplicate: boolean;
  transparencyLogEntry: unknown;
}

/**
 * POST /add-entry: a Sigstore bundle (a release, revocation or rebuild), or a kinded body
 * (#verifier parseAddEntryBody): an enclave identity or a delivery.
 */
export async function addEntry(log: Log, body: string): Promise<AddEntryResult> {
  const b = parseAddEntryBody(body);
  if (b.kind === 'bundle') return addBundle(log, b.text);
  const admit = () => {
    const view = { storage: log.storage, size: log.sequencer.current.size };
    return b.kind === 'identity'
      ? admitIdentity(view, b.attestation, log.deliveries)
      : admitDelivery(view, b.envelope, b.manifest, log.deliveries);
  };
  const admitted = await admitOrCatchUp(log, admit);
  const { result, logged } = await submit(log, admitted);
  // one entry per request: the same leaf again is a duplicate, another leaf for it a conflict
  if (admitted.kind === 'delivery' && result.duplicate) requireSameLeaf(logged, admitted.leaf, result.index);
  return result;
}

async function addBundle(log: Log, bundleJson: string): Promise<AddEntryResult> {
  const ctx = {
    leafAt: (i: number) => (i < log.sequencer.current.size ? (log.storage.entry(i)?.leaf ?? undefined) : undefined),
  };
  return (await submit(log, await admitOrCatchUp(log, () => log.policy.admit(bundleJson, ctx)))).result;
}

/**
 * On a shared store another server may have integrated the entry this one names moments ago
 * (the release a revocation names, the identity a delivery's key needs): look once more after
 * catching up, and refuse as before if that changed nothing.
 */
async function admitOrCatchUp(log: Log, admit: () => AdmittedEntry | Promise<AdmittedEntry>): Promise<AdmittedEntry> {
  try {
    return await admit();
  } catch (e) {
    const size = log.sequencer.current.size;
    if (!log.sequencer.refresh) throw e;
    await log.sequencer.refresh();
    if (log.sequencer.current.size === size) throw e;
    return await admit();
  }
}

async function submit(log: Log, admitted: AdmittedEntry): Promise<{ result: AddEntryResult; logged: Uint8Array }> {
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
  return {
    result: { index: r.index, leafHash: toHex(r.leafHash), duplicate: r.duplicate, transparencyLogEntry: tle },
    logged: r.leaf,
  };
}
