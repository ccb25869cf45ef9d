/**
 * The enclave's boot gate as one pure decision: given the enclave's own PCRs, its pinned
 * configuration, the proof bundle the host handed it, the checkpoint it already holds (if any)
 * and the time, either open (this exact image is a logged, witnessed, fresh, active release)
 * or refuse with a stable VerifierError code and public evidence. Nothing the host supplies is
 * trusted unchecked. Checks, in order:
 *
 *  1. debug-mode measurements (PCR0/1/2 all zero) are refused (DEBUG_MODE);
 *  2. a bundle must be present (PROOF_MISSING);
 *  3. the tlog-proof's checkpoint is signed by the pinned log key for the pinned origin
 *     (NOTE_UNVERIFIED, NOTE_BAD_SIGNATURE, CHECKPOINT_ORIGIN), cosigned by ≥ k pinned witnesses
 *     (WITNESS_POLICY, COSIGNATURE_INVALID), and the entry is included (ROOT_MISMATCH, PROOF_SIZE…);
 *  4. at least k of those cosignatures are within the maximum checkpoint age (CHECKPOINT_STALE);
 *  5. a held checkpoint is extended consistently (INCONSISTENT, CHECKPOINT_STALE for a rollback,
 *     PROOF_MISSING when the bundle lacks the consistency proof from the held size);
 *  6. the entry is a release signed by a pinned publisher key, or by a Fulcio certificate of a
 *     pinned CA for a pinned publisher identity (SIGNER_NOT_ALLOWED, IDENTITY_MISMATCH naming the
 *     field, CERT_CHAIN; and the leaf's own checks: RELEASE_MALFORMED, SIGNATURE_INVALID…);
 *  7. its PCR0, PCR1, PCR2 (and PCR8, when either side is signed) equal the enclave's own (PCR_MISMATCH);
 *  8. the log's signed status speaks for exactly the proven tree and says "active"
 *     (STATUS_TREE_MISMATCH for an older tree, STATUS_MISMATCH, RELEASE_REVOKED).
 *
 * A refusal from step 6 on carries the checkpoint the bundle proved (`checkpoint`): it is signed,
 * witnessed, fresh and extends the held one, so the gate must hold it from then on whatever the
 * verdict (`advanceGateHold`) — otherwise a host answers a refused newer bundle by resubmitting
 * the older one it superseded.
 *
 * Throws only on caller misuse (TypeError/RangeError); every refusal is a returned value.
 */
import { VerifierError, isVerifierError, type Evidence, type VerifierErrorCode } from '../errors.ts';
import { bytesEqual, toHex } from '../encoding/bytes.ts';
import { readTlogProof, verifyTlogProof, type ReadTlogProof } from '../tlog/tlog-proof.ts';
import { checkCheckpointConsistency } from '../tlog/checkpoint-consistency.ts';
import type { Checkpoint } from '../tlog/checkpoint.ts';
import { decodeLeaf } from '../release/leaf.ts';
import { openReleaseStatus, requireActiveStatus } from '../release/status.ts';
import { isDebugMode } from '../attestation/policy.ts';
import { PCR_BYTES } from '../attestation/payload.ts';
import { configPublishers, requireConfigIdentity, type EnclaveConfig } from './config.ts';
import { pinnedKeys } from './config.ts';
import type { ProofBundle } from './bundle.ts';

/** The checkpoint a gate holds after it opened: later bundles must extend it. */
export interface HeldCheckpoint {
  checkpoint: Checkpoint;
  /** the signed note it came from (evidence for a split view) */
  note: string;
}

export interface GateInput {
  /** the enclave's own PCRs as the NSM reports them (index → 48 bytes) */
  pcrs: Map<number, Uint8Array>;
  config: EnclaveConfig;
  bundle: ProofBundle | null;
  /** the bundle's proof as the caller already read it (readTlogProof(bundle.proof)): not read again */
  proof?: ReadTlogProof;
  /** Unix seconds */
  now: number;
  held?: HeldCheckpoint | null;
}

export interface GateOpen {
  open: true;
  /** the release's log index and PCR0 (lowercase hex) */
  index: number;
  pcr0: string;
  held: HeldCheckpoint;
  /** the cosignatures that met the policy within the age limit */
  cosigners: Array<{ name: string; timestamp: number }>;
  /** Unix seconds after which this bundle no longer has k fresh cosignatures */
  freshUntil: number;
}

export interface GateRefusal {
  open: false;
  code: VerifierErrorCode;
  message: string;
  evidence: Evidence;
  /**
   * The checkpoint this bundle proved although the gate refused (signed by the log, k fresh
   * cosignatures, consistent with the held one): the held tree advances to it.
   */
  checkpoint?: HeldCheckpoint;
}

export type GateDecision = GateOpen | GateRefusal;

const ZERO_PCR = new Uint8Array(PCR_BYTES);

function refuse(code: VerifierErrorCode, message: string, evidence: Evidence = {}): never {
  throw new VerifierError(code, message, evidence);
}

export function decideGate(input: GateInput): GateDecision {
  if (!(input.pcrs instanceof Map)) throw new TypeError('decideGate: pcrs must be a Map');
  if (!Number.isFinite(input.now)) throw new RangeError('decideGate: now must be Unix seconds');
  try {
    return evaluate(input);
  } catch (e) {
    if (!isVerifierError(e)) throw e;
    return { open: false, code: e.code, message: e.message, evidence: e.evidence };
  }
}

function evaluate(input: GateInput): GateDecision {
  const verified = verifyCheckpoint(input);
  try {
    return checkRelease(input, verified);
  } catch (e) {
    if (!isVerifierError(e)) throw e;
    return { open: false, code: e.code, message: e.message, evidence: e.evidence, checkpoint: verified.held };
  }
}

interface VerifiedCheckpoint {
  proven: ReturnType<typeof verifyTlogProof>;
  held: HeldCheckpoint;
  fresh: Array<{ name: string; timestamp: number }>;
}

/** Steps 1–5: the bundle's checkpoint is the pinned log's, witnessed, fresh and extends the held one. */
function verifyCheckpoint({ pcrs, config, bundle, proof, now, held }: GateInput): VerifiedCheckpoint {
  if (isDebugMode(pcrs)) refuse('DEBUG_MODE', 'the enclave runs in debug mode (PCR0/1/2 are zero): it never serves');
  if (bundle === null || bundle === undefined) refuse('PROOF_MISSING', 'no proof bundle from the host yet');
  const k = config.witnesses.threshold;
  const keys = pinnedKeys(config);
  // the proof read once: the caller's reading of exactly this text, or read here
  const read = proof !== undefined && proof.text === bundle.proof ? proof : readTlogProof(bundle.proof);
  const proven = verifyTlogProof(read, {
    leaf: bundle.entry,
    logVerifier: keys.log,
    origin: config.log.origin,
    witnessPolicy: { witnesses: keys.witnesses, threshold: k },
    now,
  });
  const checkpointNote = read.checkpoint;
  const fresh = proven.cosigners
    .filter((c) => now - c.timestamp <= config.maxCheckpointAgeSeconds)
    .sort((a, b) => b.timestamp - a.timestamp);
  if (fresh.length < k) {
    refuse(
      'CHECKPOINT_STALE',
      `${fresh.length} of the required ${k} cosignatures are within ${config.maxCheckpointAgeSeconds} s`,
      {
        now,
        maxAgeSeconds: config.maxCheckpointAgeSeconds,
        threshold: k,
        cosigners: proven.cosigners,
      },
    );
  }
  if (held) checkExtends(held, proven.checkpoint, checkpointNote, bundle);
  return { proven, held: { checkpoint: proven.checkpoint, note: checkpointNote }, fresh };
}

/** Steps 6–8: the proven entry is this image's release, by a pinned publisher, active at that tree. */
function checkRelease({ pcrs, config, bundle }: GateInput, { proven, held, fresh }: VerifiedCheckpoint): GateOpen {
  const k = config.witnesses.threshold;
  const { pcr0 } = requireReleaseOf(pcrs, config, bundle!.entry, proven.index);
  const status = openReleaseStatus(bundle!.status, pinnedKeys(config).log, config.log.origin);
  requireActiveStatus(status, proven.checkpoint, { index: proven.index, pcr0 });
  return {
    open: true,
    index: proven.index,
    pcr0,
    held,
    cosigners: fresh,
    freshUntil: fresh[k - 1]!.timestamp + config.maxCheckpointAgeSeconds,
  };
}

/**
 * The publisher policy of a pinned config for one log entry: it is a release signed by a pinned
 * publisher key whose PCR0, PCR1, PCR2 (and PCR8, when either side is signed) equal `pcrs`.
 * Throws SIGNER_NOT_ALLOWED, PCR_MISMATCH, or decodeLeaf's codes. The gate runs it on its own
 * PCRs; the identity's genesis check (genesis.ts) on the PCRs of the enclave that created it.
 */
export function requireReleaseOf(
  pcrs: Map<number, Uint8Array>,
  config: EnclaveConfig,
  leaf: Uint8Array,
  index: number,
): { pcr0: string } {
  const entry = decodeLeaf(leaf);
  const allowed = configPublishers(config);
  if (!allowed.some((p) => p.spkiSha256 === entry.signer.spkiSha256)) {
    if (entry.signer.certificate && config.publisherIdentities) {
      // keyless: a pinned Fulcio CA issued the leaf's certificate for a pinned identity
      try {
        requireConfigIdentity(config, entry);
      } catch (e) {
        if (!isVerifierError(e)) throw e;
        refuse(e.code, `entry ${index}: ${e.message}`, { index: index, ...e.evidence });
      }
    } else {
      refuse('SIGNER_NOT_ALLOWED', `entry ${index} is not signed by a pinned publisher key`, {
        index: index,
        signerSpkiSha256: entry.signer.spkiSha256,
      });
    }
  }
  if (entry.kind !== 'release' || entry.statement.predicateType !== 'https://keycast.dev/release/v1') {
    refuse('PCR_MISMATCH', `entry ${index} is a ${entry.kind}, not a release`, {
      pcr: 0,
      index,
      kind: entry.kind,
    });
  }
  const m = entry.statement.predicate.measurements;
  comparePcr(pcrs, 0, m.pcr0, index);
  comparePcr(pcrs, 1, m.pcr1, index);
  comparePcr(pcrs, 2, m.pcr2, index);
  const own8 = pcrs.get(8);
  if (m.pcr8 !== undefined || (own8 !== undefined && !bytesEqual(own8, ZERO_PCR)))
    comparePcr(pcrs, 8, m.pcr8 ?? toHex(ZERO_PCR), index);
  return { pcr0: m.pcr0 };
}

function comparePcr(pcrs: Map<number, Uint8Array>, i: number, want: string, index: number): void {
  const got = pcrs.get(i);
  if (!got || toHex(got) !== want) {
    refuse('PCR_MISMATCH', `log entry ${index} names another PCR${i} than this enclave's`, {
      pcr: i,
      index,
      expected: want,
      actual: got ? toHex(got) : null,
    });
  }
}

function checkExtends(held: HeldCheckpoint, next: Checkpoint, nextNote: string, bundle: ProofBundle): void {
  if (next.size <= held.checkpoint.size) {
    checkCheckpointConsistency([], held.checkpoint, next, { older: held.note, newer: nextNote });
    return;
  }
  const c = bundle.consistency;
  if (!c || c.fromSize !== held.checkpoint.size) {
    refuse(
      'PROOF_MISSING',
      `no consistency proof from the held checkpoint (size ${held.checkpoint.size}) to size ${next.size}`,
      {
        heldSize: held.checkpoint.size,
        newSize: next.size,
        proofFrom: c ? c.fromSize : null,
      },
    );
  }
  checkCheckpointConsistency(c.hashes, held.checkpoint, next, { older: held.note, newer: nextNote });
}
