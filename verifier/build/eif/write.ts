/**
 * EIF v4 writer, byte-compatible with IMGFMT src/utils/mod.rs `EifBuilder::write_to` and
 * `EifSigner::write_signature` (vectors in testdata/nitro/eif/): header, then kernel,
 * cmdline, metadata, ramdisks…, [signature], contiguous; CRC-32 over all but [544,548).
 * `layoutEif` is the streaming half (header and section headers from sizes alone);
 * `writeEif` assembles a small image in memory (tests, fixtures).
 */
import {
  EIF_DEFAULT_CPUS,
  EIF_DEFAULT_MEM,
  EIF_FLAG_ARM64,
  EIF_VERSION,
  SectionType,
  encodeHeader,
  encodeSectionHeader,
  eifCrc32,
  sectionOffsets,
  type EifArch,
  type EifHeader,
  type SectionTypeCode,
} from './format.ts';
import { encodeMetadata, type EifMetadata } from './metadata.ts';
import { EifMeasurer, type EifPcrs } from './measure.ts';
import { encodeSignatureSection, pemToDer } from './signature.ts';

export interface SectionPlan {
  type: SectionTypeCode;
  size: number;
}

/** The section list in file order for a kernel, cmdline, metadata, ramdisks, [signature]. */
export function planSections(
  kernel: number,
  cmdline: number,
  metadata: number,
  ramdisks: readonly number[],
  signature?: number,
): SectionPlan[] {
  const out: SectionPlan[] = [
    { type: SectionType.Kernel, size: kernel },
    { type: SectionType.Cmdline, size: cmdline },
    { type: SectionType.Metadata, size: metadata },
    ...ramdisks.map((size) => ({ type: SectionType.Ramdisk, size })),
  ];
  if (signature !== undefined) out.push({ type: SectionType.Signature, size: signature });
  return out;
}

/** Header (crc32 = 0) and section headers for `sections`; the caller streams the data. */
export function layoutEif(
  arch: EifArch,
  sections: readonly SectionPlan[],
): { header: EifHeader; headerBytes: Uint8Array; sectionHeaders: Uint8Array[]; length: number } {
  const sizes = sections.map((s) => s.size);
  const offsets = sectionOffsets(sizes);
  const header: EifHeader = {
    version: EIF_VERSION,
    flags: arch === 'aarch64' ? EIF_FLAG_ARM64 : 0,
    defaultMem: EIF_DEFAULT_MEM,
    defaultCpus: EIF_DEFAULT_CPUS,
    reserved: 0,
    numSections: sections.length,
    sectionOffsets: offsets,
    sectionSizes: sizes,
    unused: 0,
    crc32: 0,
  };
  const last = sections.length - 1;
  const length = last < 0 ? 548 : offsets[last]! + 12 + sizes[last]!;
  return {
    header,
    headerBytes: encodeHeader(header),
    sectionHeaders: sections.map((s) => encodeSectionHeader(s.type, s.size)),
    length,
  };
}

export interface EifSigning {
  certificatePem: string;
  /** Raw r‖s signature of `tbs` with the certificate's key using `hash`. */
  sign: (tbs: Uint8Array, hash: string) => Uint8Array;
}

export interface EifParts {
  arch: EifArch;
  kernel: Uint8Array;
  /** The cmdline exactly as stored (nitro-cli trims the blob file; no NUL). */
  cmdline: string;
  metadata: EifMetadata;
  ramdisks: Uint8Array[];
  signing?: EifSigning;
}

/** Builds a whole EIF in memory; returns the bytes and the PCRs. */
export function writeEif(p: EifParts): { bytes: Uint8Array; pcrs: EifPcrs } {
  const cmdline = new Uint8Array(Buffer.from(p.cmdline, 'utf8'));
  const metadata = encodeMetadata(p.metadata);
  const m = new EifMeasurer();
  const feed = (t: SectionTypeCode, b: Uint8Array) => {
    m.begin(t);
    m.update(b);
  };
  feed(SectionType.Kernel, p.kernel);
  feed(SectionType.Cmdline, cmdline);
  for (const r of p.ramdisks) feed(SectionType.Ramdisk, r);
  let signature: Uint8Array | undefined;
  if (p.signing) m.signingCertificate(pemToDer(p.signing.certificatePem));
  const pcrs = m.digest();
  if (p.signing)
    signature = encodeSignatureSection(p.signing.certificatePem, Buffer.from(pcrs.pcr0, 'hex'), p.signing.sign);
  const datas = [p.kernel, cmdline, metadata, ...p.ramdisks, ...(signature ? [signature] : [])];
  const plan = planSections(
    p.kernel.length,
    cmdline.length,
    metadata.length,
    p.ramdisks.map((r) => r.length),
    signature?.length,
  );
  const lay = layoutEif(p.arch, plan);
  const out = new Uint8Array(lay.length);
  out.set(lay.headerBytes, 0);
  datas.forEach((d, i) => {
    out.set(lay.sectionHeaders[i]!, lay.header.sectionOffsets[i]!);
    out.set(d, lay.header.sectionOffsets[i]! + 12);
  });
  new DataView(out.buffer).setUint32(544, eifCrc32(out));
  return { bytes: out, pcrs };
}
