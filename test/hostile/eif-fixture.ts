/**
 * Hand-made EIFs for the hostile tests: raw metadata bytes and raw newc ramdisks (member names
 * as bytes, so names that repeat or are not UTF-8 can be written), laid out with the verifier's
 * own layoutEif and CRC.
 */
import {
  CPIO_HEADER_SIZE,
  CPIO_MAGIC,
  CPIO_TRAILER_NAME,
  S_IFREG,
  eifCrc32,
  layoutEif,
  pad4,
  planSections,
} from '#verifier/build';

export const GOOD_METADATA =
  '{"ImageName":"n","ImageVersion":"v","BuildMetadata":{"BuildTime":"t","BuildTool":"k","BuildToolVersion":"1","OperatingSystem":"o","KernelVersion":"kv"},"DockerInfo":null,"CustomMetadata":null}';

/** A newc archive of regular files with these raw names and contents, then the trailer. */
export function rawCpio(members: Array<{ name: Uint8Array; data: Uint8Array; mode?: number }>): Uint8Array {
  const parts: Buffer[] = [];
  let ino = 1;
  const add = (name: Uint8Array, data: Uint8Array, mode: number) => {
    const fields = [ino++, mode, 0, 0, 1, 0, data.length, 0, 0, 0, 0, name.length + 1, 0];
    const head = Buffer.from(CPIO_MAGIC + fields.map((f) => f.toString(16).padStart(8, '0')).join(''), 'ascii');
    const total = CPIO_HEADER_SIZE + name.length + 1;
    parts.push(
      head,
      Buffer.from(name),
      Buffer.alloc(1 + pad4(total)),
      Buffer.from(data),
      Buffer.alloc(pad4(data.length)),
    );
  };
  for (const m of members) add(m.name, m.data, m.mode ?? S_IFREG | 0o644);
  add(Buffer.from(CPIO_TRAILER_NAME), new Uint8Array(0), 0);
  const body = Buffer.concat(parts);
  return new Uint8Array(Buffer.concat([body, Buffer.alloc((512 - (body.length % 512)) % 512)]));
}

/** An x86_64 EIF with the given metadata section bytes and ramdisks. */
export function rawEif(
  metadata: Uint8Array,
  ramdisks: Uint8Array[] = [rawCpio([{ name: Buffer.from('init'), data: Buffer.from('#!') }])],
): Uint8Array {
  const kernel = new Uint8Array(64).fill(7);
  const cmdline = Buffer.from('console=ttyS0');
  const datas = [kernel, cmdline, metadata, ...ramdisks];
  const lay = layoutEif(
    'x86_64',
    planSections(
      kernel.length,
      cmdline.length,
      metadata.length,
      ramdisks.map((r) => r.length),
    ),
  );
  const out = new Uint8Array(lay.length);
  out.set(lay.headerBytes, 0);
  datas.forEach((d, i) => {
    out.set(lay.sectionHeaders[i]!, lay.header.sectionOffsets[i]!);
    out.set(d, lay.header.sectionOffsets[i]! + 12);
  });
  new DataView(out.buffer).setUint32(544, eifCrc32(out));
  return out;
}
