/**
 * Streaming EIF assembly (format: verifier/build/eif/format.ts; testdata/nitro/eif/ pins whole images).
 * The customer ramdisk is written straight into the image, so its size is only known at the
 * end; the header (which lists every size and comes first in the CRC) is therefore written
 * last: sections are CRC'd piecewise as they stream and joined with crc32Combine, and the
 * header and the ramdisk's section header are patched in place.
 *
 * One pass over the rootfs: the main thread reads each byte into a shared slot, CRCs it and
 * writes it; one worker folds it into PCR0's SHA-384 (kernel ‖ cmdline ‖ ramdisks) and
 * another into PCR2's (ramdisk1) and into each file's SHA-256; PCR1's (kernel ‖ cmdline ‖
 * ramdisk0, small) stays on the main thread. The image's own SHA-256 needs a second read
 * (the header, first in the file, holds the CRC of everything), done on the main thread
 * while the workers drain. Memory stays at the slot pool whatever the size.
 * The output goes to `<out>.partial` and is renamed only when complete, so a failed build
 * never leaves a truncated image under the final name. Durability: no fsync — an image is
 * reproducible from its lock and measurements.json pins its hash; a power cut may lose it.
 */
import { open, rename, rm } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import {
  EIF_CRC_OFFSET,
  EIF_HEADER_SIZE,
  SectionType,
  crc32,
  crc32Combine,
  encodeSectionHeader,
  encodeSignatureSection,
  layoutEif,
  pcrFromDigest,
  pcrOf,
  pemToDer,
  planSections,
  type EifArch,
  type EifPcrs,
  type EifSigning,
  type SectionTypeCode,
} from '#verifier/build';
import { BuilderError } from './errors.ts';
import { SlotSink, type ByteSink, type Observer } from './sink.ts';
import { SlotPool } from './slots.ts';
import { HashWorker } from './hash-worker.ts';
import { copyFile } from './cpio-stream.ts';
import { fileSha256 } from './inputs.ts';

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
  /** Hash threads to use (and leave running for the caller); by default the writer starts and stops its own. */
  hashers?: BuildHashers;
}

export interface StreamedEif {
  pcrs: EifPcrs;
  /** SHA-256 of the image file (hex). */
  sha256: string;
  /** SHA-256 (hex) of each file's content in the customer ramdisk, by archive name (as marked by the writer). */
  files: Map<string, string>;
  length: number;
  ramdisk1Size: number;
}

/** The slot pool and the two SHA-384 workers of one build. */
export class BuildHashers {
  readonly image: HashWorker;
  readonly app: HashWorker;
  /** `pool`: tests pass tiny slots to exercise slot boundaries. */
  constructor(readonly pool = new SlotPool()) {
    this.image = new HashWorker(pool);
    this.app = new HashWorker(pool);
  }
  async close(): Promise<void> {
    await Promise.all([this.image.close(), this.app.close()]);
  }
}

class Crc {
  crc = 0;
  len = 0;
  readonly observe: Observer = (c) => {
    this.crc = crc32(c, this.crc);
    this.len += c.length;
  };
  add(piece: { crc: number; len: number }): void {
    this.crc = crc32Combine(this.crc, piece.crc, piece.len);
    this.len += piece.len;
  }
}

export async function writeEifStreaming(out: string, i: StreamedEifInput): Promise<StreamedEif> {
  const partial = `${out}.partial`;
  const fh = await open(partial, 'w', 0o644).catch((e) => {
    throw new BuilderError('OUTPUT_FAILED', `cannot create ${partial}`, { path: partial }, { cause: e });
  });
  const own = i.hashers ? undefined : new BuildHashers();
  const h = (i.hashers ?? own)!;
  let renamed = false;
  try {
    const sink = new SlotSink(fh.fd, EIF_HEADER_SIZE, h.pool);
    const before = new Crc(); // kernel section header … ramdisk0 data
    const boot = createHash('sha384'); // PCR1
    const bootObs: Observer = (c) => {
      boot.update(c);
    };
    // Section headers reach the CRC only; section data also the PCR streams it belongs to.
    const section = async (t: SectionTypeCode, size: number, measured: boolean) => {
      await sink.route([before.observe], []);
      await sink.write(encodeSectionHeader(t, size));
      await sink.route(measured ? [before.observe, bootObs] : [before.observe], measured ? [h.image] : []);
    };
    await section(SectionType.Kernel, i.kernelSize, true);
    await copyFile(sink, i.kernelPath, i.kernelSize);
    await section(SectionType.Cmdline, i.cmdline.length, true);
    await sink.write(i.cmdline);
    await section(SectionType.Metadata, i.metadata.length, false);
    await sink.write(i.metadata);
    await section(SectionType.Ramdisk, i.ramdisk0.length, true);
    await sink.write(i.ramdisk0);
    await sink.route([], []);
    const r1HeaderAt = EIF_HEADER_SIZE + sink.length;
    await sink.write(new Uint8Array(12)); // patched below once the size is known
    const r1 = new Crc();
    await sink.route([r1.observe], [h.image, h.app], h.app);
    await i.writeRamdisk1(sink);
    await sink.route([], []);
    const r1Header = encodeSectionHeader(SectionType.Ramdisk, r1.len);
    const pieces = new Crc();
    pieces.add(before);
    pieces.add({ crc: crc32(r1Header), len: 12 });
    pieces.add(r1);
    const digests = Promise.all([h.image.digest(), h.app.digest()]);
    digests.catch(() => {});
    let sigLen: number | undefined;
    let pcr0: string | undefined;
    if (i.signing) {
      // The signature covers PCR0, so a signed image waits for the PCR0 worker here.
      pcr0 = pcrFromDigest((await digests)[0].sha384);
      const sig = encodeSignatureSection(i.signing.certificatePem, Buffer.from(pcr0, 'hex'), i.signing.sign);
      sigLen = sig.length;
      const s = new Crc();
      await sink.route([s.observe], []);
      await sink.write(encodeSectionHeader(SectionType.Signature, sig.length));
      await sink.write(sig);
      await sink.route([], []);
      pieces.add(s);
    }
    const lay = layoutEif(
      i.arch,
      planSections(i.kernelSize, i.cmdline.length, i.metadata.length, [i.ramdisk0.length, r1.len], sigLen),
    );
    const crc = crc32Combine(crc32(lay.headerBytes.subarray(0, EIF_CRC_OFFSET)), pieces.crc, pieces.len);
    new DataView(lay.headerBytes.buffer).setUint32(EIF_CRC_OFFSET, crc);
    await fh.write(lay.headerBytes, 0, EIF_HEADER_SIZE, 0);
    await fh.write(r1Header, 0, 12, r1HeaderAt);
    // No fsync: a build output is reproducible from its lock, and measurements.json pins its hash.
    await fh.close();
    await rename(partial, out);
    renamed = true;
    // The image's SHA-256 needs the header, which needs every byte's CRC: one more pass, on
    // this thread, while the workers finish their backlog.
    const whole = await fileSha256(out);
    const [image, app] = await digests;
    const pcrs: EifPcrs = {
      pcr0: pcr0 ?? pcrFromDigest(image.sha384),
      pcr1: pcrFromDigest(boot.digest()),
      pcr2: pcrFromDigest(app.sha384),
    };
    if (i.signing) pcrs.pcr8 = pcrOf(pemToDer(i.signing.certificatePem));
    return { pcrs, sha256: whole.sha256, length: lay.length, ramdisk1Size: r1.len, files: app.files };
  } catch (e) {
    await fh.close().catch(() => {});
    await rm(renamed ? out : partial, { force: true });
    throw e;
  } finally {
    await own?.close();
  }
}
