/**
 * Streams a planned newc archive (verifier's planArchive) into a sink: header, then the
 * member's file content read in 1 MiB slices (never whole), then padding; trailer and the
 * 512-byte block padding at the end. A file whose size changed since it was listed is
 * refused (INPUT_UNREADABLE) rather than archived inconsistently. Returns each streamed
 * file's SHA-256 so the caller can pin the rootfs (tree-digest.ts).
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { DIALECTS, encodeNewcHeader, finalPadding, pad4, planArchive, trailerHeader, type CpioDialect, type CpioMember } from '#verifier';
import { BuilderError } from './errors.ts';
import type { ByteSink } from './sink.ts';
import type { OffThreadHashes } from './hash-worker.ts';

/** A member plus where its content comes from (a host file or inline bytes). */
export interface SourcedMember extends CpioMember {
  source?: string;
  content?: Uint8Array;
}

const ZERO = new Uint8Array(512);
const SLICE = 4 << 20;

async function copyFile(sink: ByteSink, path: string, size: number, buf: Buffer, off?: OffThreadHashes): Promise<string> {
  const h = off ? undefined : createHash('sha256');
  let fd: number;
  try { fd = openSync(path, 'r'); } catch (e) { throw new BuilderError('INPUT_UNREADABLE', `cannot open ${path}`, { path }, { cause: e }); }
  try {
    let done = 0;
    while (done < size) {
      // Synchronous reads: sequential streaming without a threadpool round trip per slice.
      const bytesRead = readSync(fd, buf, 0, Math.min(buf.length, size - done), done);
      if (bytesRead === 0) break;
      const part = buf.subarray(0, bytesRead);
      if (off) await off.file(part);
      else h!.update(part);
      await sink.write(part);
      done += bytesRead;
    }
    const extra = readSync(fd, buf, 0, 1, done);
    if (done !== size || extra !== 0) throw new BuilderError('INPUT_UNREADABLE', 'file changed size while building', { path, expected: size });
  } finally {
    closeSync(fd);
  }
  return h ? h.digest('hex') : '';
}

/**
 * With `off`, per-file SHA-256s are computed by the worker (read them from its `finish`);
 * the returned map is then empty.
 */
export async function streamCpio(sink: ByteSink, members: SourcedMember[], dialect: CpioDialect, onProgress?: (bytes: number) => void, off?: OffThreadHashes): Promise<Map<string, string>> {
  const { planned, nextIno } = planArchive(members, dialect);
  const upper = DIALECTS[dialect].upper;
  const digests = new Map<string, string>();
  const buf = Buffer.allocUnsafe(SLICE);
  const start = sink.length;
  for (const p of planned) {
    await sink.write(encodeNewcHeader(p.header, upper));
    const m = p.member as SourcedMember;
    if (p.data === 'source') {
      if (m.content) {
        await sink.write(m.content);
        if (off) await off.file(m.content);
        else digests.set(m.name, createHash('sha256').update(m.content).digest('hex'));
      } else {
        const d = await copyFile(sink, m.source!, p.header.size, buf, off);
        if (!off) digests.set(m.name, d);
      }
      off?.fileEnd(m.name); // only members that carry their data get a digest
    } else if (p.data !== 'none') await sink.write(p.data);
    await sink.write(ZERO.subarray(0, pad4(p.header.size)));
    onProgress?.(sink.length - start);
  }
  await sink.write(trailerHeader(dialect, nextIno));
  await sink.write(ZERO.subarray(0, finalPadding(sink.length - start)));
  return digests;
}
