/**
 * The gate as the running enclave holds it: the door state, the last bundle that opened it,
 * the checkpoint it holds (later bundles must extend it), the latch, and the re-check
 * schedule. Every decision is #verifier decideGate, and what carries over between decisions is
 * #verifier advanceGateHold; this file only keeps that state and says it.
 *
 *  - The door starts shut (PROOF_MISSING) and opens only on a passing decision.
 *  - The held checkpoint advances to every checkpoint a decision verified, refused or not, and a
 *    bundle older than it is answered BUNDLE_REPLAYED and ignored: an old bundle can neither
 *    reopen nor close the door (a refused newer bundle is never undone by resubmitting the
 *    one it superseded).
 *  - A submitted bundle that is refused shuts the door (fail closed).
 *  - recheck() re-decides the bundle that opened the door at the current time, so a host that
 *    stops supplying newer proofs finds the door shut once the cosignatures go stale; a shut
 *    door is not re-checked.
 *  - While open, a bundle refused only for its witnessing (WITNESS_POLICY, CHECKPOINT_STALE) is
 *    answered BUNDLE_UNWITNESSED and ignored: the held bundle stays until it goes stale.
 *  - An inconsistent checkpoint (a split view of the log) or a verified revocation of this
 *    release latches the door shut for the life of the process: only a restart, with its own
 *    fresh checks, can reopen it. While latched the state names the latching refusal and no
 *    release.
 */
import {
  advanceGateHold,
  decideGate,
  isVerifierError,
  readTlogProof,
  type EnclaveConfig,
  type GateDecision,
  type GateHold,
  type GateRefusal,
  type ProofBundle,
  type ReadTlogProof,
} from '#verifier';
import { EnclaveError } from '../common/errors.ts';

export interface GateState {
  open: boolean;
  /** the refusal while shut */
  refusal: Pick<GateRefusal, 'code' | 'message' | 'evidence'> | null;
  /** the release and tree the gate speaks for while open */
  release: { index: number; pcr0: string } | null;
  heldSize: number | null;
  checkedAt: number | null;
  freshUntil: number | null;
  latched: boolean;
}

export interface GatekeeperOptions {
  pcrs: Map<number, Uint8Array>;
  config: EnclaveConfig;
  /** Unix seconds (default: the system clock) */
  now?: () => number;
  /** called after every decision that changed whether the door is open */
  onChange?: (state: GateState) => void;
}

export class Gatekeeper {
  private bundle: ProofBundle | null = null;
  /** the open bundle's proof, read once when it was submitted (re-checks do not read it again) */
  private proof: ReadTlogProof | undefined;
  private last: GateDecision;
  private hold: GateHold = { held: null, latch: null };
  private checkedAt: number | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly now: () => number;

  constructor(private readonly opts: GatekeeperOptions) {
    this.now = opts.now ?? (() => Date.now() / 1000);
    this.last = decideGate({ pcrs: opts.pcrs, config: opts.config, bundle: null, now: this.now() });
  }

  get isOpen(): boolean {
    return this.last.open && this.hold.latch === null;
  }

  /** Throws GATE_CLOSED (with the refusal as evidence) unless the door is open. */
  requireOpen(): void {
    if (this.isOpen) return;
    const r = this.state().refusal!;
    throw new EnclaveError('GATE_CLOSED', `the gate is closed: ${r.message}`, {
      refusal: r.code,
      reason: r.message,
      evidence: r.evidence,
    });
  }

  /** The log entry and tlog-proof of the release the open door speaks for (GATE_CLOSED while shut). */
  openRelease(): { entry: Uint8Array; proof: string } {
    this.requireOpen();
    return { entry: this.bundle!.entry, proof: this.bundle!.proof };
  }

  /** Decides a bundle from the host. Throws BUNDLE_REPLAYED for one older than the held checkpoint. */
  submit(bundle: ProofBundle): GateState {
    const proof = readProof(bundle);
    const size = proof ? treeSize(proof) : null;
    const held = this.hold.held;
    if (held && size !== null && size < held.checkpoint.size) {
      throw new EnclaveError(
        'BUNDLE_REPLAYED',
        `the bundle speaks for tree ${size}, older than the held tree ${held.checkpoint.size}`,
        { size, heldSize: held.checkpoint.size },
      );
    }
    const d = decideGate({
      pcrs: this.opts.pcrs,
      config: this.opts.config,
      bundle,
      ...(proof ? { proof } : {}),
      now: this.now(),
      held,
    });
    if (!d.open && this.isOpen && (d.code === 'WITNESS_POLICY' || d.code === 'CHECKPOINT_STALE')) {
      // A newer checkpoint the witnesses have not cosigned (yet) proves nothing new. The bundle
      // that opened the door stands until it goes stale itself — the same bound a host that
      // withholds proofs already gets — so a log append does not shut every enclave meanwhile.
      throw new EnclaveError(
        'BUNDLE_UNWITNESSED',
        `the bundle is not witnessed enough to replace the held one (${d.code})`,
        { refusal: d.code, reason: d.message },
      );
    }
    this.apply(d, bundle, proof);
    return this.state();
  }

  /**
   * Re-decides the bundle that opened the door at the current time (it goes stale). Only an
   * open door is re-checked: a shut one stays shut, with its reason, until a newer bundle passes
   * — never reopened by the older bundle a revocation or a split view superseded.
   */
  recheck(): GateState {
    if (!this.isOpen) return this.state();
    const d = decideGate({
      pcrs: this.opts.pcrs,
      config: this.opts.config,
      bundle: this.bundle,
      ...(this.proof ? { proof: this.proof } : {}),
      now: this.now(),
      held: this.hold.held,
    });
    this.apply(d, this.bundle, this.proof);
    return this.state();
  }

  /** Re-checks every `ms` milliseconds (the timer does not keep the process alive). */
  schedule(ms: number): void {
    this.stop();
    this.timer = setInterval(() => this.recheck(), ms);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  state(): GateState {
    const d = this.last;
    const latch = this.hold.latch;
    const refusal = latch
      ? {
          code: latch.code,
          message: `${latch.message} (latched: the gate stays closed until the enclave restarts)`,
          evidence: latch.evidence,
        }
      : d.open
        ? null
        : { code: d.code, message: d.message, evidence: d.evidence };
    const open = this.isOpen && d.open;
    return {
      open,
      refusal,
      // a latched gate serves no release, whatever the last bundle said
      release: open ? { index: d.index, pcr0: d.pcr0 } : null,
      heldSize: this.hold.held ? this.hold.held.checkpoint.size : null,
      checkedAt: this.checkedAt,
      freshUntil: open ? d.freshUntil : null,
      latched: latch !== null,
    };
  }

  private apply(d: GateDecision, bundle: ProofBundle | null, proof: ReadTlogProof | undefined): void {
    const was = this.isOpen;
    this.checkedAt = this.now();
    this.hold = advanceGateHold(this.hold, d);
    if (d.open) {
      this.bundle = bundle;
      this.proof = proof;
    }
    this.last = d;
    if (was !== this.isOpen) this.opts.onChange?.(this.state());
  }
}

/** A bundle's proof read once for the whole decision, or undefined when it does not parse (decideGate then says why). */
function readProof(b: ProofBundle): ReadTlogProof | undefined {
  try {
    return readTlogProof(b.proof);
  } catch (e) {
    if (isVerifierError(e)) return undefined;
    throw e;
  }
}

/** The tree size a read proof claims (unverified), or null when its checkpoint does not parse. */
function treeSize(p: ReadTlogProof): number | null {
  try {
    return p.treeSize();
  } catch (e) {
    if (isVerifierError(e)) return null;
    throw e;
  }
}
