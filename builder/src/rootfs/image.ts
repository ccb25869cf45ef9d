/**
 * Container image inputs → a flattened rootfs directory (extract.ts), bounded memory:
 *  - docker-save tarball: `manifest.json` [{Config, Layers: [paths in the tar]}] (Docker's
 *    save format; newer Docker nests an OCI layout inside, which the same manifest names).
 *    The outer tar is indexed once (offsets), then each layer is streamed from its offset.
 *  - OCI image layout (image-spec image-layout.md): `index.json` → manifest → layers, each
 *    blob read from blobs/<alg>/<hex> and checked against its sha256 as it streams.
 * Layers may be plain tar or gzip (zstd is refused: ROOTFS_UNSUPPORTED). Exactly one image
 * must be present (else ROOTFS_UNSUPPORTED: pin the one you mean in its own file).
 */
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { createGunzip } from 'node:zlib';
import { Readable } from 'node:stream';
import { join } from 'node:path';
import { BuilderError } from '../errors.ts';
import { ByteReader, tarEntries } from './tar.ts';
import { applyLayer } from './extract.ts';

async function peek(path: string, start: number): Promise<Buffer> {
  for await (const c of createReadStream(path, { start, end: start + 3 })) return c as Buffer;
  return Buffer.alloc(0);
}

async function layerReader(
  path: string,
  start: number,
  size: number,
  expectSha256?: string,
): Promise<{ reader: ByteReader; check: () => void }> {
  const head = await peek(path, start);
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528)
    throw new BuilderError(
      'ROOTFS_UNSUPPORTED',
      'zstd layers are not supported; re-save the image with gzip or uncompressed layers',
      { path },
    );
  const raw =
    size === 0 ? Readable.from([]) : createReadStream(path, { start, end: start + size - 1, highWaterMark: 1 << 20 });
  const h = createHash('sha256');
  raw.on('data', (c: Buffer) => h.update(c));
  const stream = head[0] === 0x1f && head[1] === 0x8b ? raw.pipe(createGunzip()) : raw;
  const check = () => {
    const actual = h.digest('hex');
    if (expectSha256 && actual !== expectSha256)
      throw new BuilderError('INPUT_DIGEST_MISMATCH', 'OCI blob does not match its digest', {
        path,
        expected: expectSha256,
        actual,
      });
  };
  return { reader: new ByteReader(stream[Symbol.asyncIterator]()), check };
}

/** Index of a tar file: member name → data offset and size. */
async function indexTar(path: string): Promise<Map<string, { offset: number; size: number }>> {
  const idx = new Map<string, { offset: number; size: number }>();
  const r = new ByteReader(createReadStream(path, { highWaterMark: 1 << 20 })[Symbol.asyncIterator]());
  for await (const e of tarEntries(r)) {
    if (e.type === 'file') {
      idx.set(e.name.replace(/^\.\//, ''), { offset: r.position, size: e.size });
      await r.pipe(e.size, () => {});
    }
  }
  return idx;
}

export async function extractDockerSave(tarPath: string, dest: string, note: (m: string) => void): Promise<void> {
  const idx = await indexTar(tarPath);
  const m = idx.get('manifest.json');
  if (!m) throw new BuilderError('ROOTFS_MALFORMED', 'docker-save tarball has no manifest.json', { path: tarPath });
  const text = Buffer.alloc(m.size);
  const fh = await (await import('node:fs/promises')).open(tarPath, 'r');
  try {
    await fh.read(text, 0, m.size, m.offset);
  } finally {
    await fh.close();
  }
  let manifest: Array<{ Layers?: unknown }>;
  try {
    manifest = JSON.parse(text.toString('utf8'));
  } catch {
    throw new BuilderError('ROOTFS_MALFORMED', 'manifest.json is not JSON', { path: tarPath });
  }
  if (!Array.isArray(manifest) || manifest.length !== 1 || !Array.isArray(manifest[0]!.Layers)) {
    throw new BuilderError('ROOTFS_UNSUPPORTED', 'docker-save tarball must hold exactly one image', {
      images: Array.isArray(manifest) ? manifest.length : 0,
    });
  }
  for (const [i, layer] of (manifest[0]!.Layers as unknown[]).entries()) {
    const at = typeof layer === 'string' ? idx.get(layer) : undefined;
    if (!at) throw new BuilderError('ROOTFS_MALFORMED', 'layer named in manifest.json is missing', { layer });
    note(`layer ${i + 1}: ${layer}`);
    const { reader } = await layerReader(tarPath, at.offset, at.size);
    await applyLayer(dest, reader, note);
  }
}

interface Descriptor {
  digest?: unknown;
  mediaType?: unknown;
}

function blobPath(layout: string, d: Descriptor): { path: string; hex: string } {
  const m = typeof d.digest === 'string' ? /^sha256:([0-9a-f]{64})$/.exec(d.digest) : null;
  if (!m) throw new BuilderError('ROOTFS_UNSUPPORTED', 'OCI descriptor without a sha256 digest', { digest: d.digest });
  return { path: join(layout, 'blobs', 'sha256', m[1]!), hex: m[1]! };
}

async function readBlobJson(layout: string, d: Descriptor): Promise<Record<string, unknown>> {
  const { path, hex } = blobPath(layout, d);
  const b = await readFile(path).catch((e) => {
    throw new BuilderError('ROOTFS_MALFORMED', 'OCI blob missing', { path }, { cause: e });
  });
  const actual = createHash('sha256').update(b).digest('hex');
  if (actual !== hex)
    throw new BuilderError('INPUT_DIGEST_MISMATCH', 'OCI blob does not match its digest', {
      path,
      expected: hex,
      actual,
    });
  return JSON.parse(b.toString('utf8'));
}

export async function extractOci(layout: string, dest: string, note: (m: string) => void): Promise<void> {
  const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as { manifests?: Descriptor[] };
  if (!Array.isArray(index.manifests) || index.manifests.length !== 1)
    throw new BuilderError('ROOTFS_UNSUPPORTED', 'OCI layout must hold exactly one manifest', {
      manifests: index.manifests?.length ?? 0,
    });
  const manifest = await readBlobJson(layout, index.manifests[0]!);
  if (!Array.isArray(manifest.layers))
    throw new BuilderError('ROOTFS_UNSUPPORTED', 'OCI index entry is not an image manifest', {});
  for (const [i, d] of (manifest.layers as Descriptor[]).entries()) {
    const { path, hex } = blobPath(layout, d);
    note(`layer ${i + 1}: sha256:${hex.slice(0, 12)}`);
    const { size } = await (await import('node:fs/promises')).stat(path);
    const { reader, check } = await layerReader(path, 0, size, hex);
    await applyLayer(dest, reader, note);
    check();
  }
}
