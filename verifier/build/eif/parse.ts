/**
 * In-memory EIF API over the streaming scanner (scan.ts): `parseEif` gives the header and
 * each section's bytes (views into the input, no copies), `measureEif` the PCRs and digests
 * a release needs. Both refuse malformed files with EIF_MALFORMED / EIF_UNSUPPORTED, and
 * `parseEif` also refuses a CRC mismatch (EIF_CRC) — use `scanEif`/`describeEif` to inspect
 * a damaged file instead.
 */
import { VerifierError } from '../../src/errors.ts';
import {
  EIF_SECTION_HEADER_SIZE,
  archFromFlags,
  type EifArch,
  type EifHeader,
  type SectionTypeCode,
} from './format.ts';
import type { EifMetadata } from './metadata.ts';
import { scanEif, type EifScan } from './scan.ts';
import type { EifSignature } from './signature.ts';

export interface EifSection {
  type: SectionTypeCode;
  typeName: string;
  /** File offset of the section header; the data starts 12 bytes later. */
  offset: number;
  size: number;
  sha384: string;
  data: Uint8Array;
}

export interface ParsedEif {
  header: EifHeader;
  arch: EifArch;
  sections: EifSection[];
  kernel: Uint8Array;
  cmdline: string;
  ramdisks: Uint8Array[];
  metadata?: EifMetadata;
  signature?: EifSignature;
}

export function crcError(scan: EifScan): VerifierError {
  const hex = (n: number) => n.toString(16).padStart(8, '0');
  return new VerifierError('EIF_CRC', 'EIF CRC-32 does not match its contents', {
    header: hex(scan.header.crc32),
    computed: hex(scan.crcComputed),
  });
}

export function parseEif(bytes: Uint8Array): ParsedEif {
  const scan = scanEif(bytes);
  if (!scan.crcOk) throw crcError(scan);
  const sections = scan.sections.map((s) => ({
    ...s,
    data: bytes.subarray(s.offset + EIF_SECTION_HEADER_SIZE, s.offset + EIF_SECTION_HEADER_SIZE + s.size),
  }));
  const of = (t: number) => sections.filter((s) => s.type === t).map((s) => s.data);
  const out: ParsedEif = {
    header: scan.header,
    arch: archFromFlags(scan.header.flags),
    sections,
    kernel: of(1)[0]!,
    cmdline: Buffer.from(of(2)[0]!).toString('utf8'),
    ramdisks: of(3),
  };
  if (scan.metadata) out.metadata = scan.metadata;
  if (scan.signature) out.signature = scan.signature;
  return out;
}

export interface EifMeasurement {
  pcr0: string;
  pcr1: string;
  pcr2: string;
  pcr8?: string;
  /** SHA-256 / SHA-384 of the whole file (the release subject digest is the SHA-256). */
  sha256: string;
  sha384: string;
  sections: Array<{ type: string; size: number; sha384: string }>;
}

export function measurementOf(scan: EifScan): EifMeasurement {
  const out: EifMeasurement = {
    pcr0: scan.pcrs.pcr0,
    pcr1: scan.pcrs.pcr1,
    pcr2: scan.pcrs.pcr2,
    sha256: scan.sha256,
    sha384: scan.sha384,
    sections: scan.sections.map((s) => ({ type: s.typeName, size: s.size, sha384: s.sha384 })),
  };
  if (scan.pcrs.pcr8) out.pcr8 = scan.pcrs.pcr8;
  return out;
}

/** PCRs and digests of an in-memory EIF (CRC must match). */
export function measureEif(bytes: Uint8Array): EifMeasurement {
  const scan = scanEif(bytes);
  if (!scan.crcOk) throw crcError(scan);
  return measurementOf(scan);
}
