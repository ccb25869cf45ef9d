/**
 * Streaming EIF reader: what IMGFMT src/utils/eif_reader.rs `EifReader::from_eif` does
 * — read the 548-byte header, then (section header, data) pairs
 * sequentially to EOF, feeding the CRC and the PCR hashers — plus the structural checks a
 * verifier wants: the header's num_sections/offsets/sizes must describe the file exactly,
 * one kernel, one cmdline, ≥ 1 ramdisk, metadata present in v4, at most one signature.
 *
 * Push chunks of any size with `push`; `finish` returns the scan. Memory is bounded: only
 * the header, the metadata (≤ 1 MiB) and the signature (≤ 32 KiB) are buffered.
 * Errors: EIF_MALFORMED (with the offset), EIF_UNSUPPORTED. A CRC mismatch is not thrown;
 * it is reported as `crcOk: false` (describe-eif prints `CheckCRC: false`).
 */
import { createHash, type Hash } from 'node:crypto';
import { VerifierError } from '../../src/errors.ts';
import {
  EIF_HEADER_SIZE,
  EIF_SECTION_HEADER_SIZE,
  EIF_CRC_OFFSET,
  EIF_MAX_SIGNATURE_SIZE,
  SECTION_TYPE_NAMES,
  SectionType,
  crc32,
  decodeHeader,
  decodeSectionHeader,
  type EifHeader,
  type SectionHeader,
} from './format.ts';
import { EifMeasurer, type EifPcrs } from './measure.ts';
import { decodeMetadata, type EifMetadata } from './metadata.ts';
import { decodeSignatureSection, checkSignature, type EifSignature } from './signature.ts';

export const EIF_MAX_METADATA_SIZE = 1 << 20;

export interface ScannedSection {
  index: number;
  type: SectionHeader['type'];
  typeName: string;
  /** File offset of the 12-byte section header. */
  offset: number;
  size: number;
  sha384: string;
}

export interface EifScan {
  header: EifHeader;
  sections: ScannedSection[];
  crcComputed: number;
  crcOk: boolean;
  pcrs: EifPcrs;
  metadata?: EifMetadata;
  metadataBytes?: Uint8Array;
  signature?: EifSignature;
  /** Signature verifies over PCR0 (only when signed). */
  signatureOk?: boolean;
  length: number;
  sha256: string;
  sha384: string;
}

type State = { kind: 'header' } | { kind: 'shdr' } | { kind: 'data'; sec: SectionHeader; left: number };

export class EifScanner {
  private state: State = { kind: 'header' };
  private pend: Uint8Array[] = [];
  private pendLen = 0;
  private offset = 0;
  private crc = 0;
  private header: EifHeader | undefined;
  private readonly sections: ScannedSection[] = [];
  private readonly measurer = new EifMeasurer();
  private readonly fileSha256 = createHash('sha256');
  private readonly fileSha384 = createHash('sha384');
  private secHash: Hash | undefined;
  private keep: Uint8Array[] | undefined;
  private metadataBytes: Uint8Array | undefined;
  private signatureBytes: Uint8Array | undefined;

  private fail(msg: string, ev: Record<string, unknown> = {}): never {
    throw new VerifierError('EIF_MALFORMED', msg, { offset: this.offset, ...ev });
  }

  push(chunk: Uint8Array): void {
    this.fileSha256.update(chunk);
    this.fileSha384.update(chunk);
    let c = chunk;
    while (c.length > 0) {
      if (this.state.kind === 'data') c = this.data(c, this.state);
      else c = this.fixed(c, this.state.kind === 'header' ? EIF_HEADER_SIZE : EIF_SECTION_HEADER_SIZE);
    }
  }

  /** Buffers a fixed-size record (header or section header) and dispatches it when whole. */
  private fixed(c: Uint8Array, need: number): Uint8Array {
    const take = Math.min(need - this.pendLen, c.length);
    this.pend.push(c.subarray(0, take));
    this.pendLen += take;
    if (this.pendLen === need) {
      const rec = Buffer.concat(this.pend);
      this.pend = [];
      this.pendLen = 0;
      if (this.state.kind === 'header') this.onHeader(new Uint8Array(rec));
      else this.onSectionHeader(new Uint8Array(rec));
      this.offset += need;
    }
    return c.subarray(take);
  }

  private onHeader(rec: Uint8Array): void {
    this.header = decodeHeader(rec);
    this.crc = crc32(rec.subarray(0, EIF_CRC_OFFSET));
    this.state = { kind: 'shdr' };
  }

  private onSectionHeader(rec: Uint8Array): void {
    const h = this.header!;
    const index = this.sections.length;
    if (index >= h.numSections)
      this.fail('more sections in the file than num_sections', { numSections: h.numSections });
    const sec = decodeSectionHeader(rec, this.offset);
    if (h.sectionOffsets[index] !== this.offset)
      this.fail(`section ${index} header is not where section_offsets says`, { expected: h.sectionOffsets[index] });
    if (h.sectionSizes[index] !== sec.size)
      this.fail(`section ${index} size disagrees with section_sizes`, {
        header: h.sectionSizes[index],
        section: sec.size,
      });
    this.checkOrder(sec);
    this.crc = crc32(rec, this.crc);
    this.measurer.begin(sec.type);
    this.secHash = createHash('sha384');
    this.keep = sec.type === SectionType.Metadata || sec.type === SectionType.Signature ? [] : undefined;
    this.sections.push({
      index,
      type: sec.type,
      typeName: SECTION_TYPE_NAMES[sec.type],
      offset: this.offset,
      size: sec.size,
      sha384: '',
    });
    this.state = { kind: 'data', sec, left: sec.size };
    if (sec.size === 0) this.endSection();
  }

  private checkOrder(sec: SectionHeader): void {
    const seen = (t: number) => this.sections.some((s) => s.type === t);
    const limit =
      sec.type === SectionType.Metadata
        ? EIF_MAX_METADATA_SIZE
        : sec.type === SectionType.Signature
          ? EIF_MAX_SIGNATURE_SIZE
          : Infinity;
    if (sec.size > limit) this.fail(`${SECTION_TYPE_NAMES[sec.type]} section too large`, { size: sec.size, limit });
    if (sec.type !== SectionType.Ramdisk && seen(sec.type))
      this.fail(`duplicate ${SECTION_TYPE_NAMES[sec.type]} section`);
    if (sec.type === SectionType.Ramdisk && !seen(SectionType.Kernel)) this.fail('ramdisk before the kernel');
    if (sec.type === SectionType.Metadata && this.header!.version < 4) this.fail('metadata section in a pre-v4 EIF');
    if (sec.type === SectionType.Signature && this.header!.version < 3) this.fail('signature section in a pre-v3 EIF');
  }

  private data(c: Uint8Array, st: { sec: SectionHeader; left: number }): Uint8Array {
    const take = Math.min(st.left, c.length);
    const part = c.subarray(0, take);
    this.crc = crc32(part, this.crc);
    this.measurer.update(part);
    this.secHash!.update(part);
    this.keep?.push(new Uint8Array(part)); // copy: callers may reuse their chunk
    st.left -= take;
    this.offset += take;
    if (st.left === 0) this.endSection();
    return c.subarray(take);
  }

  private endSection(): void {
    const s = this.sections[this.sections.length - 1]!;
    s.sha384 = this.secHash!.digest('hex');
    if (this.keep) {
      const bytes = new Uint8Array(Buffer.concat(this.keep));
      if (s.type === SectionType.Metadata) this.metadataBytes = bytes;
      else this.signatureBytes = bytes;
    }
    this.keep = undefined;
    this.state = { kind: 'shdr' };
  }

  /** Completes the scan. Throws EIF_MALFORMED if the file stopped mid-record or is incomplete. */
  finish(): EifScan {
    if (this.state.kind === 'header') this.fail('truncated EIF header', { length: this.pendLen });
    if (this.pendLen > 0) this.fail('truncated section header');
    if (this.state.kind === 'data') this.fail('truncated section data', { missing: this.state.left });
    const h = this.header!;
    const count = (t: number) => this.sections.filter((s) => s.type === t).length;
    if (this.sections.length !== h.numSections)
      this.fail('file ends before num_sections sections', { numSections: h.numSections, found: this.sections.length });
    if (count(SectionType.Kernel) !== 1 || count(SectionType.Cmdline) !== 1)
      this.fail('an EIF needs exactly one kernel and one cmdline section');
    if (count(SectionType.Ramdisk) < 1) this.fail('an EIF needs at least one ramdisk');
    if (h.version >= 4 && !this.metadataBytes) this.fail('EIF v4 without a metadata section');
    return this.result(h);
  }

  private result(h: EifHeader): EifScan {
    const signature = this.signatureBytes ? decodeSignatureSection(this.signatureBytes) : undefined;
    if (signature) this.measurer.signingCertificate(signature.certificateDer);
    const pcrs = this.measurer.digest();
    const out: EifScan = {
      header: h,
      sections: this.sections,
      crcComputed: this.crc,
      crcOk: this.crc === h.crc32,
      pcrs,
      length: this.offset,
      sha256: this.fileSha256.digest('hex'),
      sha384: this.fileSha384.digest('hex'),
    };
    if (this.metadataBytes) {
      out.metadataBytes = this.metadataBytes;
      out.metadata = decodeMetadata(this.metadataBytes);
    }
    if (signature) {
      out.signature = signature;
      out.signatureOk = checkSignature(signature, Buffer.from(pcrs.pcr0, 'hex'));
    }
    return out;
  }
}

/** Scans a whole in-memory EIF. */
export function scanEif(bytes: Uint8Array): EifScan {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('scanEif: bytes must be a Uint8Array');
  const s = new EifScanner();
  s.push(bytes);
  return s.finish();
}
