/**
 * What the gate carries from one decision to the next (pure): the checkpoint it holds, which
 * every later bundle must extend, and a latch — a refusal that no later evidence can undo.
 *
 *  - The held checkpoint advances to every checkpoint a decision verified, open or refused
 *    (GateOpen.held, GateRefusal.checkpoint), and never moves back. So once a bundle at tree 7
 *    was refused, a bundle at tree 6 is older evidence and cannot reopen the door.
 *  - INCONSISTENT (the log showed a split view) and RELEASE_REVOKED (the log signed, for a
 *    checkpoint the gate verified, that this release is revoked) latch: the first such refusal
 *    is kept and the door stays shut whatever comes after — a revocation is never undone, and a
 *    log that forked has lost the gate's trust. Only a restart, with its own fresh checks, clears it.
 */
import type { GateDecision, GateRefusal, HeldCheckpoint } from './decide.ts';

export interface GateHold {
  held: HeldCheckpoint | null;
  /** the refusal that latched the door shut, or null */
  latch: GateRefusal | null;
}

/** Refusal codes that latch the door shut for good. */
export const LATCHING_REFUSALS: ReadonlySet<string> = new Set(['INCONSISTENT', 'RELEASE_REVOKED']);

export function advanceGateHold(hold: GateHold, d: GateDecision): GateHold {
  const verified = d.open ? d.held : (d.checkpoint ?? null);
  const held =
    verified !== null && (hold.held === null || verified.checkpoint.size >= hold.held.checkpoint.size)
      ? verified
      : hold.held;
  const latch = hold.latch ?? (!d.open && LATCHING_REFUSALS.has(d.code) ? d : null);
  return { held, latch };
}
