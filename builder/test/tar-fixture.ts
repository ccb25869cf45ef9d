/** A minimal ustar writer for tests (crafted layers: whiteouts, links, hostile paths). */
import { gzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TarItem {
  name: string;
  type?: '0' | '1' | '2' | '5';
  data?: string | Uint8Array;
  mode?: number;
  link?: string;
}

function header(it: TarItem, size: number): Buffer {
  const h = Buffer.alloc(512);
  h.write(it.name, 0, 100, 'utf8');
  h.write((it.mode ?? (it.type === '5' ? 0o755 : 0o644)).toString(8).padStart(7, '0') + '\0', 100, 'ascii');
  h.write('0000000\0', 108, 'ascii');
  h.write('0000000\0', 116, 'ascii');
  h.write(size.toString(8).padStart(11, '0') + '\0', 124, 'ascii');
  h.write('14000000000\0', 136, 'ascii');
  h.write('        ', 148, 'ascii');
  h.write(it.type ?? '0', 156, 'ascii');
  if (it.link) h.write(it.link, 157, 100, 'utf8');
  h.write('ustar\0' + '00', 257, 'latin1');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
  return h;
}

export function tarOf(items: TarItem[]): Buffer {
  const parts: Buffer[] = [];
  for (const it of items) {
    const data = it.type === '0' || it.type === undefined ? Buffer.from(it.data ?? '') : Buffer.alloc(0);
    parts.push(header(it, data.length), data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

export function dockerSave(layers: Buffer[]): Buffer {
  const names = layers.map((_, i) => `layer${i}/layer.tar`);
  const manifest = JSON.stringify([{ Config: 'config.json', RepoTags: ['t:1'], Layers: names }]);
  return tarOf([
    ...layers.map((l, i) => ({ name: names[i]!, data: l })),
    { name: 'config.json', data: '{}' },
    { name: 'manifest.json', data: manifest },
  ]);
}

/** Writes an OCI image layout with gzip layers into `dir`; returns the layer digests. */
export function ociLayout(dir: string, layers: Buffer[]): string[] {
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  const put = (b: Buffer) => {
    const d = createHash('sha256').update(b).digest('hex');
    writeFileSync(join(dir, 'blobs', 'sha256', d), b);
    return d;
  };
  const ls = layers.map((l) => {
    const g = gzipSync(l);
    return { d: put(g), size: g.length };
  });
  const config = put(Buffer.from('{}'));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${config}`, size: 2 },
      layers: ls.map((l) => ({
        mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
        digest: `sha256:${l.d}`,
        size: l.size,
      })),
    }),
  );
  const md = put(manifest);
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${md}`, size: manifest.length },
      ],
    }),
  );
  return ls.map((l) => l.d);
}
