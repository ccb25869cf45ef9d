/**
 * The enclave gate's proof bundle (gate/bundle.ts) for one PCR0, read through the log client:
 *
 *   lookup/pcr0/<hex>          → the release's leaf and its tlog-proof (index, hashes, checkpoint note)
 *   status/<index>?size=<n>    → the log's signed status at the proof's tree size n (exact note text)
 *   proof/consistency?old=&new → from the tree size the enclave holds (0 < held < n; [] when equal)
 *
 * Checked before it is handed on, though the gate re-verifies all of it under its own pinned
 * key: the leaf's inclusion under the proof's checkpoint, that the leaf is a validly signed
 * release of exactly this PCR0 (decodeLeaf), that the status speaks for that checkpoint's tree
 * and that release, that the consistency proof leads to that checkpoint's root (unless the held
 * size is a power of two: that proof starts from the held root) — and, when the client pins the
 * log key, the checkpoint's and the status's signatures (with the client's witness policy).
 * A "revoked" status is returned, not refused: the gate must hear it to close.
 */
import { VerifierError } from '../errors.ts';
import { fromBase64, toHex } from '../encoding/bytes.ts';
import { hashLeaf } from '../tlog/hash.ts';
import { checkInclusion } from '../tlog/verify.ts';
import { splitNote } from '../note/note.ts';
import { parseCheckpoint, type Checkpoint } from '../tlog/checkpoint.ts';
import { parseTlogProof } from '../tlog/tlog-proof.ts';
import { decodeLeaf } from '../release/leaf.ts';
import type { ProofBundle } from '../gate/bundle.ts';
import type { LogClient } from './log-client.ts';

/** The newest bundle for `pcr0` extending a held tree of `heldSize` (null: none held); null when the log has no such release. */
export async function fetchProofBundle(
  client: LogClient,
  pcr0: Uint8Array,
  heldSize: number | null,
): Promise<ProofBundle | null> {
  const hex = toHex(pcr0);
  const answer = await client.lookup('pcr0', hex);
  if (answer === null) return null;
  let leaf: Uint8Array;
  try {
    leaf = fromBase64(answer.entry);
  } catch {
    throw new VerifierError('LOG_RESPONSE_INVALID', `the log's lookup of ${hex} carries an entry that is not base64`, {
      pcr0: hex,
    });
  }
  const proof = parseTlogProof(answer.proof);
  const checkpoint: Checkpoint = client.pinned
    ? client.openCheckpoint(proof.checkpoint).checkpoint
    : parseCheckpoint(splitNote(proof.checkpoint).text);
  if (client.origin !== undefined && checkpoint.origin !== client.origin) {
    throw new VerifierError(
      'CHECKPOINT_ORIGIN',
      `the proof's checkpoint is for ${JSON.stringify(checkpoint.origin)}, not ${JSON.stringify(client.origin)}`,
      { expected: client.origin, got: checkpoint.origin },
    );
  }
  if (proof.index !== answer.index)
    throw new VerifierError('PROOF_INVALID', `the proof is for index ${proof.index}, the answer says ${answer.index}`, {
      index: answer.index,
      proofIndex: proof.index,
    });
  checkInclusion(proof.proof, proof.index, checkpoint.size, hashLeaf(leaf), checkpoint.rootHash);
  const entry = decodeLeaf(leaf);
  if (entry.kind !== 'release' || entry.pcr0 !== hex) {
    throw new VerifierError('PCR_MISMATCH', `log entry ${proof.index} is not a release of this PCR0`, {
      pcr: 0,
      index: proof.index,
      kind: entry.kind,
      expected: hex,
      actual: entry.pcr0,
    });
  }
  const { status, note } = await client.statusNote(proof.index, checkpoint);
  if (status.pcr0 !== hex)
    throw new VerifierError('STATUS_MISMATCH', `the status is for PCR0 ${status.pcr0}, not ${hex}`, {
      statusPcr0: status.pcr0,
      pcr0: hex,
      note,
    });
  const bundle: ProofBundle = { entry: leaf, proof: answer.proof, status: note };
  if (heldSize !== null && heldSize > 0 && heldSize <= checkpoint.size) {
    bundle.consistency = { fromSize: heldSize, hashes: await client.consistencyFrom(heldSize, checkpoint) };
  }
  return bundle;
}
