/**
 * The NSM's PCR bank as a state machine, with the device's semantics
 * (aws/aws-nitro-enclaves-nsm-api nsm-test/src/bin/nsm-check.rs; notes/nitro.md §3.5, §5.2;
 * testdata/nitro/pcr-formulas.json):
 * - 32 SHA-384 registers. 0..15 are locked at boot with the launch measurements (0/1/2 EIF,
 *   3 IAM role, 4 parent instance id, 8 signing cert; the rest zero). 16..31 start at 48 zero
 *   bytes and are unlocked.
 * - extend(i, data): new = SHA384(old ‖ data), data raw (not pre-hashed). Locked → ReadOnlyIndex.
 * - lock(i): locks one PCR; an already-locked PCR (0..15 included) → ReadOnlyIndex.
 * - lockRange(n): locks [0, n); already-locked ones are fine; n > max → InvalidIndex.
 * - Any index ≥ 32 → InvalidIndex.
 * In memory only: a new bank is a freshly booted enclave.
 */
import { createHash } from 'node:crypto';
import { BOOT_LOCKED_PCRS } from '#verifier/build';
import { PCR_BYTES } from '#verifier/build';
import type { NsmErrorName } from '../../runtime/nsm/types.ts';

export const MAX_PCRS = 32;
export { BOOT_LOCKED_PCRS };

/** A refusal in device terms; the simulator turns it into Response::Error(name). */
export class PcrRefusal extends Error {
  override readonly name = 'PcrRefusal';
  constructor(
    readonly nsmError: NsmErrorName,
    message: string,
  ) {
    super(message);
  }
}

/** SHA384(old ‖ data): one NSM extend. */
export function extendDigest(old: Uint8Array, data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha384').update(old).update(data).digest());
}

/** The value a boot-time PCR gets from its content: one extend of SHA384(content) from zero. */
export function measureContent(content: Uint8Array | string): Uint8Array {
  return extendDigest(new Uint8Array(PCR_BYTES), createHash('sha384').update(content).digest());
}

/** Boot values of PCRs 0..15, hex or bytes, 48 bytes each. Missing indexes are zero. */
export type BootPcrs = Partial<Record<number, Uint8Array | string>>;

function toBytes(v: Uint8Array | string, i: number): Uint8Array {
  const b = typeof v === 'string' ? Uint8Array.from(Buffer.from(v, 'hex')) : Uint8Array.from(v);
  if (b.length !== PCR_BYTES || (typeof v === 'string' && !/^[0-9a-fA-F]{96}$/.test(v))) {
    throw new RangeError(`PCR${i} must be ${PCR_BYTES} bytes (96 hex digits)`);
  }
  return b;
}

export class PcrBank {
  private readonly values: Uint8Array[];
  private readonly locked: boolean[];

  /** Boots a bank: `boot` gives PCRs 0..15 (zero where absent); all of 0..15 end up locked. */
  constructor(boot: BootPcrs = {}) {
    this.values = Array.from({ length: MAX_PCRS }, () => new Uint8Array(PCR_BYTES));
    this.locked = Array.from({ length: MAX_PCRS }, (_, i) => i < BOOT_LOCKED_PCRS);
    for (const [k, v] of Object.entries(boot)) {
      const i = Number(k);
      if (!Number.isInteger(i) || i < 0 || i >= BOOT_LOCKED_PCRS)
        throw new RangeError(`boot PCRs are 0..${BOOT_LOCKED_PCRS - 1}, got ${k}`);
      if (v !== undefined) this.values[i] = toBytes(v, i);
    }
  }

  private check(i: number): void {
    if (!Number.isInteger(i) || i < 0 || i >= MAX_PCRS)
      throw new PcrRefusal('InvalidIndex', `PCR index ${i} is outside 0..${MAX_PCRS - 1}`);
  }

  describe(i: number): { lock: boolean; data: Uint8Array } {
    this.check(i);
    return { lock: this.locked[i]!, data: Uint8Array.from(this.values[i]!) };
  }

  extend(i: number, data: Uint8Array): Uint8Array {
    this.check(i);
    if (this.locked[i]) throw new PcrRefusal('ReadOnlyIndex', `PCR${i} is locked`);
    this.values[i] = extendDigest(this.values[i]!, data);
    return Uint8Array.from(this.values[i]!);
  }

  lock(i: number): void {
    this.check(i);
    if (this.locked[i]) throw new PcrRefusal('ReadOnlyIndex', `PCR${i} is already locked`);
    this.locked[i] = true;
  }

  lockRange(range: number): void {
    if (!Number.isInteger(range) || range < 0 || range > MAX_PCRS)
      throw new PcrRefusal('InvalidIndex', `range ${range} exceeds ${MAX_PCRS} PCRs`);
    for (let i = 0; i < range; i++) this.locked[i] = true;
  }

  /** Ascending indexes of the locked PCRs. */
  lockedIndexes(): number[] {
    return this.locked.flatMap((l, i) => (l ? [i] : []));
  }

  /** index → value of every locked PCR, ascending: what an attestation document lists. */
  lockedValues(): Map<number, Uint8Array> {
    return new Map(this.lockedIndexes().map((i) => [i, Uint8Array.from(this.values[i]!)]));
  }
}
