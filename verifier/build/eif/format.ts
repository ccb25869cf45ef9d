/**
 * EIF v4 container format, exactly as aws/aws-nitro-enclaves-image-format v0.5.0 writes it
 * (src/defs/mod.rs `EifHeader`/`EifSectionHeader`, src/utils/mod.rs `EifBuilder::write_to`,
 * `compute_crc`; vectors in testdata/nitro/eif/). All integers are big-endian.
 *
 *   header (548 bytes): magic ".eif" | u16 version | u16 flags | u64 default_mem |
 *     u64 default_cpus | u16 reserved | u16 num_sections | u64 offsets[32] | u64 sizes[32] |
 *     u32 unused | u32 crc32
 *   then per section, contiguous: section header (u16 type | u16 flags | u64 size) ‖ data.
 *   File order: kernel, cmdline, metadata, ramdisk0, ramdisk1…, [signature].
 *   offsets[i] is the file offset of section i's 12-byte header; sizes[i] is its data size.
 *   crc32 = CRC-32/ISO-HDLC over every byte of the file except bytes [544, 548).
 *
 * Pure: encoders/decoders over bytes, no I/O. Offsets and sizes are JS numbers (files here
 * are far below 2^53 bytes); a decoded value ≥ 2^53 is refused as EIF_MALFORMED.
 */
import { crc32 as zcrc32 } from 'node:zlib';
import { VerifierError } from '../../src/errors.ts';

export const EIF_MAGIC = new Uint8Array([0x2e, 0x65, 0x69, 0x66]);
export const EIF_VERSION = 4;
export const EIF_HEADER_SIZE = 548;
export const EIF_SECTION_HEADER_SIZE = 12;
export const EIF_MAX_SECTIONS = 32;
export const EIF_CRC_OFFSET = 544;
/** flags bit 0: aarch64 image (`EIF_HDR_ARCH_ARM64`). */
export const EIF_FLAG_ARM64 = 0x1;
export const EIF_DEFAULT_MEM = 1024 * 1024 * 1024;
export const EIF_DEFAULT_CPUS = 2;
/** The README caps the signature section at 32 KiB. */
export const EIF_MAX_SIGNATURE_SIZE = 32768;

/** `EifSectionType` (#[repr(u16)]); values ≥ 6 are invalid. */
export const SectionType = { Invalid: 0, Kernel: 1, Cmdline: 2, Ramdisk: 3, Signature: 4, Metadata: 5 } as const;
export type SectionTypeCode = (typeof SectionType)[keyof typeof SectionType];
export const SECTION_TYPE_NAMES = [
  'EifSectionInvalid',
  'EifSectionKernel',
  'EifSectionCmdline',
  'EifSectionRamdisk',
  'EifSectionSignature',
  'EifSectionMetadata',
] as const;

export type EifArch = 'x86_64' | 'aarch64';

export interface EifHeader {
  version: number;
  flags: number;
  defaultMem: number;
  defaultCpus: number;
  reserved: number;
  numSections: number;
  /** num_sections entries used; the unused slots must be 0 and are not listed here. */
  sectionOffsets: number[];
  sectionSizes: number[];
  unused: number;
  crc32: number;
}

export interface SectionHeader {
  type: SectionTypeCode;
  flags: number;
  size: number;
}

function malformed(message: string, evidence: Record<string, unknown> = {}): VerifierError {
  return new VerifierError('EIF_MALFORMED', message, evidence);
}

function readU64(dv: DataView, off: number, field: string): number {
  const v = dv.getBigUint64(off);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw malformed(`${field} is too large`, { field, value: v.toString() });
  return Number(v);
}

/** Encodes a header; `crc32` is written as given (0 while it is being computed). */
export function encodeHeader(h: EifHeader): Uint8Array {
  if (
    h.numSections > EIF_MAX_SECTIONS ||
    h.sectionOffsets.length !== h.numSections ||
    h.sectionSizes.length !== h.numSections
  ) {
    throw new RangeError('encodeHeader: num_sections must match offsets/sizes and be ≤ 32');
  }
  const out = new Uint8Array(EIF_HEADER_SIZE);
  const dv = new DataView(out.buffer);
  out.set(EIF_MAGIC, 0);
  dv.setUint16(4, h.version);
  dv.setUint16(6, h.flags);
  dv.setBigUint64(8, BigInt(h.defaultMem));
  dv.setBigUint64(16, BigInt(h.defaultCpus));
  dv.setUint16(24, h.reserved);
  dv.setUint16(26, h.numSections);
  h.sectionOffsets.forEach((o, i) => dv.setBigUint64(28 + 8 * i, BigInt(o)));
  h.sectionSizes.forEach((s, i) => dv.setBigUint64(284 + 8 * i, BigInt(s)));
  dv.setUint32(540, h.unused);
  dv.setUint32(EIF_CRC_OFFSET, h.crc32 >>> 0);
  return out;
}

/** Decodes and sanity-checks a 548-byte header. Throws EIF_MALFORMED / EIF_UNSUPPORTED. */
export function decodeHeader(b: Uint8Array): EifHeader {
  if (b.length < EIF_HEADER_SIZE) throw malformed('file shorter than the 548-byte EIF header', { length: b.length });
  for (let i = 0; i < 4; i++)
    if (b[i] !== EIF_MAGIC[i])
      throw malformed('bad magic (not an EIF)', { magic: Buffer.from(b.subarray(0, 4)).toString('hex') });
  const dv = new DataView(b.buffer, b.byteOffset, EIF_HEADER_SIZE);
  const version = dv.getUint16(4);
  if (version < 1 || version > EIF_VERSION)
    throw new VerifierError('EIF_UNSUPPORTED', `EIF version ${version} is not supported (1..4)`, { version });
  const numSections = dv.getUint16(26);
  if (numSections > EIF_MAX_SECTIONS) throw malformed('num_sections exceeds 32', { numSections });
  const sectionOffsets: number[] = [];
  const sectionSizes: number[] = [];
  for (let i = 0; i < EIF_MAX_SECTIONS; i++) {
    const o = readU64(dv, 28 + 8 * i, `section_offsets[${i}]`);
    const s = readU64(dv, 284 + 8 * i, `section_sizes[${i}]`);
    if (i < numSections) {
      sectionOffsets.push(o);
      sectionSizes.push(s);
    }
  }
  return {
    version,
    flags: dv.getUint16(6),
    defaultMem: readU64(dv, 8, 'default_mem'),
    defaultCpus: readU64(dv, 16, 'default_cpus'),
    reserved: dv.getUint16(24),
    numSections,
    sectionOffsets,
    sectionSizes,
    unused: dv.getUint32(540),
    crc32: dv.getUint32(EIF_CRC_OFFSET),
  };
}

export function encodeSectionHeader(type: SectionTypeCode, size: number): Uint8Array {
  const out = new Uint8Array(EIF_SECTION_HEADER_SIZE);
  const dv = new DataView(out.buffer);
  dv.setUint16(0, type);
  dv.setUint16(2, 0);
  dv.setBigUint64(4, BigInt(size));
  return out;
}

/** Decodes a 12-byte section header. `at` is the file offset, for evidence only. */
export function decodeSectionHeader(b: Uint8Array, at = 0): SectionHeader {
  if (b.length < EIF_SECTION_HEADER_SIZE) throw malformed('truncated section header', { offset: at });
  const dv = new DataView(b.buffer, b.byteOffset, EIF_SECTION_HEADER_SIZE);
  const type = dv.getUint16(0);
  if (type === SectionType.Invalid || type > SectionType.Metadata)
    throw malformed(`invalid section type ${type}`, { offset: at, type });
  return { type: type as SectionTypeCode, flags: dv.getUint16(2), size: readU64(dv, 4, 'section_size') };
}

/** Offsets of each section header given data sizes in file order (nitro.md §1.3). */
export function sectionOffsets(sizes: readonly number[]): number[] {
  const out: number[] = [];
  let off = EIF_HEADER_SIZE;
  for (const s of sizes) {
    out.push(off);
    off += EIF_SECTION_HEADER_SIZE + s;
  }
  return out;
}

/** Continue a CRC-32/ISO-HDLC (zlib crc32) over `data`. */
export function crc32(data: Uint8Array, prev = 0): number {
  return zcrc32(data, prev) >>> 0;
}

/** CRC of a whole in-memory EIF as the header stores it (bytes [544,548) skipped). */
export function eifCrc32(file: Uint8Array): number {
  return crc32(file.subarray(EIF_CRC_OFFSET + 4), crc32(file.subarray(0, EIF_CRC_OFFSET)));
}

export function archFromFlags(flags: number): EifArch {
  return (flags & EIF_FLAG_ARM64) !== 0 ? 'aarch64' : 'x86_64';
}
