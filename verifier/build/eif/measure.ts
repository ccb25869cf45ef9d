/**
 * EIF measurements exactly as `nitro-cli describe-eif` / `EifBuilder::measure` compute them
 * (IMGFMT src/defs/eif_hasher.rs `tpm_extend_finalize_reset`, src/utils/mod.rs `get_pcrs`;
 * expected PCRs in testdata/nitro/eif/*.json):
 *   PCRn = SHA384(0x00×48 ‖ SHA384(content_n))
 *   PCR0: kernel ‖ cmdline ‖ ramdisk0 ‖ ramdisk1 ‖ …    PCR1: kernel ‖ cmdline ‖ ramdisk0
 *   PCR2: ramdisk1 ‖ … (empty when one ramdisk)          PCR8: DER of the signing cert
 * Section headers, metadata and the signature section are never measured.
 *
 * `EifMeasurer` is incremental: feed sections in file order, in chunks of any size; it holds
 * three SHA-384 states, never the data, so a 1 GiB ramdisk measures in constant memory.
 * Not safe for concurrent use by two writers; one measurer per image.
 */
import { createHash, type Hash } from 'node:crypto';
import { SectionType, type SectionTypeCode } from './format.ts';

import { PCR_BYTES } from '../../src/attestation/payload.ts';

export { PCR_BYTES };
const ZEROS = new Uint8Array(PCR_BYTES);

/** Lowercase-hex PCRs of an EIF; pcr8 only when the image is signed. */
export interface EifPcrs {
  pcr0: string;
  pcr1: string;
  pcr2: string;
  pcr8?: string;
}

/** SHA384(0⁴⁸ ‖ contentDigest) as lowercase hex. */
export function pcrFromDigest(contentDigest: Uint8Array): string {
  return createHash('sha384').update(ZEROS).update(contentDigest).digest('hex');
}

/** `nitro-cli pcr --input F`: the PCR of one byte string. */
export function pcrOf(content: Uint8Array): string {
  return pcrFromDigest(createHash('sha384').update(content).digest());
}

export class EifMeasurer {
  private readonly image = createHash('sha384');
  private readonly app = createHash('sha384');
  private bootstrap: Hash | undefined = createHash('sha384');
  private bootstrapDigest: Uint8Array | undefined;
  private certDer: Uint8Array | undefined;
  private ramdisks = 0;
  private current: SectionTypeCode | undefined;

  /**
   * `appHashedElsewhere`: the caller hashes ramdisks 1.. itself (e.g. on another thread, so
   * PCR0 and PCR2 — two SHA-384 streams over the same bytes — run in parallel) and passes
   * SHA384(ramdisk1 ‖ …) to `digest`.
   */
  constructor(private readonly opts: { appHashedElsewhere?: boolean } = {}) {}

  /** Starts a section (file order). Ramdisks are numbered by the order they begin. */
  begin(type: SectionTypeCode): void {
    this.closeRamdisk0();
    this.current = type;
    if (type === SectionType.Ramdisk) this.ramdisks++;
  }

  /** Feeds bytes of the current section. Unmeasured sections (metadata, signature) are ignored. */
  update(chunk: Uint8Array): void {
    switch (this.current) {
      case SectionType.Kernel:
      case SectionType.Cmdline:
        this.image.update(chunk);
        this.bootstrap?.update(chunk);
        return;
      case SectionType.Ramdisk:
        this.image.update(chunk);
        if (this.ramdisks === 1) this.bootstrap?.update(chunk);
        else if (!this.opts.appHashedElsewhere) this.app.update(chunk);
        return;
      case undefined:
        throw new RangeError('EifMeasurer.update before begin');
      default:
        return;
    }
  }

  /** Records the signing certificate (DER) for PCR8. */
  signingCertificate(der: Uint8Array): void {
    this.certDer = der;
  }

  private closeRamdisk0(): void {
    if (this.current === SectionType.Ramdisk && this.ramdisks === 1 && this.bootstrap) {
      this.bootstrapDigest = this.bootstrap.digest();
      this.bootstrap = undefined;
    }
  }

  /** The PCRs; the measurer is finished afterwards. `appDigest`: see the constructor. */
  digest(appDigest?: Uint8Array): EifPcrs {
    this.closeRamdisk0();
    if (this.opts.appHashedElsewhere && !appDigest) throw new RangeError('EifMeasurer.digest: appDigest required');
    const b = this.bootstrapDigest ?? this.bootstrap!.digest();
    const app = this.opts.appHashedElsewhere ? appDigest! : this.app.digest();
    const out: EifPcrs = { pcr0: pcrFromDigest(this.image.digest()), pcr1: pcrFromDigest(b), pcr2: pcrFromDigest(app) };
    if (this.certDer) out.pcr8 = pcrOf(this.certDer);
    return out;
  }
}
