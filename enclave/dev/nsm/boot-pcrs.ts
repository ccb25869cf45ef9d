/**
 * The launch measurements a Nitro hypervisor puts in PCRs 0..15 (notes/nitro.md §3.5;
 * testdata/nitro/pcr-formulas.json), for the simulator:
 * - PCR0/1/2 (and PCR8 for a signed EIF) come from the EIF measurement the builder produces;
 *   debug mode zeroes them, as real debug-mode documents show;
 * - PCR3 = SHA384(0⁴⁸ ‖ utf8(IAM role ARN of the parent)), zero without a role;
 * - PCR4 = SHA384(0⁴⁸ ‖ utf8(parent instance id)), checked on 13 real documents;
 * - every other boot PCR is zero.
 */
import { PCR_BYTES, type EifPcrs } from '#verifier/build';
import { extendDigest, type BootPcrs } from './pcr-bank.ts';

/** An EIF measurement as the builder/verifier report it: hex PCR0/1/2 and PCR8 when signed. */
export type { EifPcrs };

export interface LaunchOptions {
  /** The EIF measurement ({pcr0,pcr1,pcr2,pcr8?}, any case of the `pcrN` keys, extra fields ignored) or explicit index → hex. */
  pcrs: EifPcrs | BootPcrs | Record<string, unknown>;
  /** Parent instance id (`i-` + 17 hex): feeds PCR4. */
  instanceId: string;
  /** Parent IAM role ARN: feeds PCR3; absent/null → zero. */
  iamRoleArn?: string | null;
  /** Debug mode (nitro-cli --debug-mode): PCR0/1/2/8 read as zero. */
  debug?: boolean;
}

const ZERO = (): Uint8Array => new Uint8Array(PCR_BYTES);

/**
 * Normalises the PCR input into index → value (before PCR3/4 are set). An EIF measurement
 * (an object with a `pcr0`/`PCR0` key, e.g. #verifier's measureEif result or nitro-cli's
 * Measurements map) contributes only its pcrN keys; its other fields (sha256, sections,
 * HashAlgorithm) are ignored. An index map ({0: hex, …}) must hold nothing else.
 */
export function eifPcrsToIndexMap(pcrs: LaunchOptions['pcrs']): BootPcrs {
  const out: BootPcrs = {};
  const isMeasurement = Object.keys(pcrs).some((k) => /^pcr0$/i.test(k));
  for (const [k, v] of Object.entries(pcrs)) {
    if (v === undefined) continue;
    const m = (isMeasurement ? /^pcr(\d{1,2})$/i : /^(?:pcr)?(\d{1,2})$/i).exec(k);
    if (!m) {
      if (isMeasurement) continue;
      throw new RangeError(`unknown PCR key ${JSON.stringify(k)} (use pcr0/pcr1/pcr2/pcr8 or 0..15)`);
    }
    out[Number(m[1])] = v as Uint8Array | string;
  }
  return out;
}

/** The full boot state of PCRs 0..15 for one simulated launch. */
export function launchPcrs(o: LaunchOptions): BootPcrs {
  if (!/^i-[0-9a-f]{17}$/.test(o.instanceId))
    throw new RangeError(`instance id must be i- and 17 lower-case hex digits, got ${JSON.stringify(o.instanceId)}`);
  const pcrs = eifPcrsToIndexMap(o.pcrs);
  for (const i of [0, 1, 2]) if (pcrs[i] === undefined) throw new RangeError(`the EIF measurement lacks PCR${i}`);
  if (pcrs[3] !== undefined || pcrs[4] !== undefined)
    throw new RangeError('PCR3/PCR4 are derived from iamRoleArn/instanceId, not given');
  if (o.debug) for (const i of [0, 1, 2, 8]) pcrs[i] = ZERO();
  pcrs[3] = o.iamRoleArn ? extendDigest(ZERO(), Buffer.from(o.iamRoleArn, 'utf8')) : ZERO();
  pcrs[4] = extendDigest(ZERO(), Buffer.from(o.instanceId, 'utf8'));
  return pcrs;
}
