/**
 * Streaming EIF assembly (format: verifier/src/eif/format.ts; shared/notes/nitro.md §1.3–1.6).
 * The customer ramdisk is written straight into the image, so its size is only known at the
 * end; the header (which lists every size and comes first in the CRC) is therefore written
 * last: sections are CRC'd piecewise as they stream and joined with crc32Combine, and the
 * header and the ramdisk's section header are patched in place. One pass over the rootfs
 * feeds the file, the PCR hashers and the CRC; memory stays at a few MiB whatever the size.
 * The output goes to `<out>.partial` and is renamed only when complete, so a failed build
 * never leaves a truncated image under the final name. Durability: no fsync — an image is
 * reproducible from its lock and measurements.json pins its hash; a power cut may lose it.
 */
import { open, rename, rm } from 'node:fs/promises';
import {
  EIF_CRC_OFFSET, EIF_HEADER_SIZE, EifMeasurer, SectionType, crc32, crc32Combine, encodeSectionHeader, encodeSignatureSection,
  layoutEif, pemToDer, planSections, type EifArch, type EifPcrs, type EifSigning, type SectionTypeCode,
} from '#verifier';
import { BuilderError } from './errors.ts';
import { FileSink, type ByteSink } from './sink.ts';
import type { OffThreadHashes } from './hash-worker.ts';

export interface StreamedEifInput {
  arch: EifArch;
  kernelPath: string;
  kernelSize: number;
  cmdline: Uint8Array;
  metadata: Uint8Array;
  ramdisk0: Uint8Array;
  /** Writes the customer ramdisk into the sink; resolves when done. */
  writeRamdisk1: (sink: ByteSink) => Promise<void>;
  signing?: EifSigning;
  /** Hash PCR2's stream (and the caller's per-file digests) on this worker. */
  offThread?: OffThreadHashes;
}

export interface StreamedEif { pcrs: EifPcrs; length: number; ramdisk1Size: number; fileDigests?: Map<string, string> }

class CrcPieces {
  crc = 0;
  len = 0;
  add(piece: { crc: number; len: number }): void {
    this.crc = crc32Combine(this.crc, piece.crc, piece.len);
    this.len += piece.len;
  }
}

function runningCrc(): { crc: number; len: number; observe: (c: Uint8Array) => void } {
  const r = { crc: 0, len: 0, observe: (c: Uint8Array) => { r.crc = crc32(c, r.crc); r.len += c.length; } };
  return r;
}

export async function writeEifStreaming(out: string, i: StreamedEifInput): Promise<StreamedEif> {
  const partial = `${out}.partial`;
  const fh = await open(partial, 'w', 0o644).catch((e) => { throw new BuilderError('OUTPUT_FAILED', `cannot create ${partial}`, { path: partial }, { cause: e }); });
  try {
    const off = i.offThread;
    const m = new EifMeasurer({ appHashedElsewhere: off !== undefined });
    const sink = new FileSink(fh, EIF_HEADER_SIZE);
    sink.observers.push((c) => m.update(c));
    const before = runningCrc();
    sink.observers.push((c) => before.observe(c));
    // The measurer must not see section headers: it is parked on an unmeasured section type
    // (Metadata) while a header goes through, and switched to the section's type after.
    const section = async (t: SectionTypeCode, size: number, data?: Uint8Array) => {
      m.begin(SectionType.Metadata);
      await sink.write(encodeSectionHeader(t, size));
      await sink.flush();
      m.begin(t);
      if (data) await sink.write(data);
      await sink.flush();
    };
    await section(SectionType.Kernel, i.kernelSize);
    await copyInto(sink, i.kernelPath, i.kernelSize);
    await sink.flush();
    await section(SectionType.Cmdline, i.cmdline.length, i.cmdline);
    await section(SectionType.Metadata, i.metadata.length, i.metadata);
    await section(SectionType.Ramdisk, i.ramdisk0.length, i.ramdisk0);
    const pieces = new CrcPieces();
    pieces.add(before); // kernel header … ramdisk0 data
    sink.observers.splice(1); // keep only the measurer
    m.begin(SectionType.Metadata);
    const r1HeaderAt = EIF_HEADER_SIZE + sink.length;
    await sink.write(new Uint8Array(12)); // patched below once the size is known
    await sink.flush();
    const r1 = runningCrc();
    sink.observers.push((c) => r1.observe(c));
    if (off) sink.observers.push((c) => off.app(c));
    m.begin(SectionType.Ramdisk);
    await i.writeRamdisk1(sink);
    await sink.flush();
    const r1Header = encodeSectionHeader(SectionType.Ramdisk, r1.len);
    pieces.add({ crc: crc32(r1Header), len: 12 });
    pieces.add({ crc: r1.crc, len: r1.len });
    let sigLen: number | undefined;
    if (i.signing) m.signingCertificate(pemToDer(i.signing.certificatePem));
    const fin = off ? await off.finish() : undefined;
    const pcrs = m.digest(fin?.app);
    if (i.signing) {
      const sig = encodeSignatureSection(i.signing.certificatePem, Buffer.from(pcrs.pcr0, 'hex'), i.signing.sign);
      sigLen = sig.length;
      sink.observers.length = 0;
      const s = runningCrc();
      sink.observers.push((c) => s.observe(c));
      await sink.write(encodeSectionHeader(SectionType.Signature, sig.length));
      await sink.write(sig);
      await sink.flush();
      pieces.add(s);
    }
    const lay = layoutEif(i.arch, planSections(i.kernelSize, i.cmdline.length, i.metadata.length, [i.ramdisk0.length, r1.len], sigLen));
    const crc = crc32Combine(crc32(lay.headerBytes.subarray(0, EIF_CRC_OFFSET)), pieces.crc, pieces.len);
    new DataView(lay.headerBytes.buffer).setUint32(EIF_CRC_OFFSET, crc);
    await fh.write(lay.headerBytes, 0, EIF_HEADER_SIZE, 0);
    await fh.write(r1Header, 0, 12, r1HeaderAt);
    // No fsync: a build output is reproducible from its lock, and measurements.json pins its hash.
    await fh.close();
    await rename(partial, out);
    return { pcrs, length: lay.length, ramdisk1Size: r1.len, ...(fin ? { fileDigests: fin.files } : {}) };
  } catch (e) {
    await i.offThread?.abort();
    await fh.close().catch(() => {});
    await rm(partial, { force: true });
    throw e;
  }
}

async function copyInto(sink: ByteSink, path: string, size: number): Promise<void> {
  const fh = await open(path, 'r').catch((e) => { throw new BuilderError('INPUT_UNREADABLE', `cannot open ${path}`, { path }, { cause: e }); });
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    let done = 0;
    while (done < size) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, size - done), done);
      if (bytesRead === 0) throw new BuilderError('INPUT_UNREADABLE', 'input shrank while building', { path, expected: size });
      await sink.write(buf.subarray(0, bytesRead));
      done += bytesRead;
    }
  } finally {
    await fh.close();
  }
}
