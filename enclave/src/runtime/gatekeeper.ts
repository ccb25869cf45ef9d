/**
 * The gate as the running enclave holds it: the door state, the last bundle that opened it,
 * the checkpoint it holds (later bundles must extend it), and the re-check schedule. Every
 * decision is #verifier decideGate; this file only keeps state between decisions.
 *
 *  - The door starts shut (PROOF_MISSING) and opens only on a passing decision.
 *  - A submitted bundle that is refused shuts the door (fail closed), except a bundle whose
 *    checkpoint is older than the held one: that is a replay, answered BUNDLE_REPLAYED and
 *    ignored, so an old bundle can neither reopen nor close it.
 *  - recheck() re-decides the bundle that opened the door at the current time, so a host that
 *    stops supplying newer proofs finds the door shut once the cosignatures go stale; a shut
 *    door is not re-checked (an older bundle never undoes a newer refusal).
 *  - While open, a bundle refused only for its witnessing (WITNESS_POLICY, CHECKPOINT_STALE) is
 *    answered BUNDLE_UNWITNESSED and ignored: the held bundle stays until it goes stale.
 *  - An inconsistent checkpoint (a split view of the log) latches the door shut for the life
 *    of the process: only a restart, with its own fresh checks, can reopen it.
 */
import {
  decideGate,
  isVerifierError,
  parseCheckpoint,
  parseTlogProof,
  splitNote,
  type EnclaveConfig,
  type GateDecision,
  type GateOpen,
  type GateRefusal,
  type ProofBundle,
} from '#verifier';
import { EnclaveError } from '../errors.ts';

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
  private last: GateDecision;
  private held: GateOpen['held'] | null = null;
  private latched = false;
  private checkedAt: number | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly now: () => number;

  constructor(private readonly opts: GatekeeperOptions) {
    this.now = opts.now ?? (() => Date.now() / 1000);
    this.last = decideGate({ pcrs: opts.pcrs, config: opts.config, bundle: null, now: this.now() });
  }

  get isOpen(): boolean {
    return this.last.open && !this.latched;
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

  /** Decides a bundle from the host. Throws BUNDLE_REPLAYED for one older than the held checkpoint. */
  submit(bundle: ProofBundle): GateState {
    const size = proofTreeSize(bundle);
    if (this.held && size !== null && size < this.held.checkpoint.size) {
      throw new EnclaveError(
        'BUNDLE_REPLAYED',
        `the bundle speaks for tree ${size}, older than the held tree ${this.held.checkpoint.size}`,
        { size, heldSize: this.held.checkpoint.size },
      );
    }
    const d = decideGate({ pcrs: this.opts.pcrs, config: this.opts.config, bundle, now: this.now(), held: this.held });
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
    this.apply(d, bundle);
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
      now: this.now(),
      held: null,
    });
    this.apply(d, this.bundle);
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
    const refusal =
      this.latched && d.open
        ? {
            code: 'INCONSISTENT' as const,
            message: 'the log showed an inconsistent checkpoint earlier; the gate stays closed until restart',
            evidence: {},
          }
        : d.open
          ? null
          : { code: d.code, message: d.message, evidence: d.evidence };
    return {
      open: this.isOpen,
      refusal,
      release: d.open ? { index: d.index, pcr0: d.pcr0 } : null,
      heldSize: this.held ? this.held.checkpoint.size : null,
      checkedAt: this.checkedAt,
      freshUntil: d.open ? d.freshUntil : null,
      latched: this.latched,
    };
  }

  private apply(d: GateDecision, bundle: ProofBundle | null): void {
    const was = this.isOpen;
    this.checkedAt = this.now();
    if (!d.open && d.code === 'INCONSISTENT') this.latched = true;
    if (d.open) {
      this.held = d.held;
      this.bundle = bundle;
    }
    this.last = d;
    if (was !== this.isOpen) this.opts.onChange?.(this.state());
  }
}

/** The tree size a bundle's proof claims (unverified), or null when it does not parse. */
function proofTreeSize(b: ProofBundle): number | null {
  try {
    return parseCheckpoint(splitNote(parseTlogProof(b.proof).checkpoint).text).size;
  } catch (e) {
    if (isVerifierError(e)) return null;
    throw e;
  }
}
