/**
 * Streams a planned newc archive (verifier's planArchive) into a sink: header, then the
 * member's file content read straight into the sink's buffer in slices (never whole), then
 * padding; trailer and the 512-byte block padding at the end. A file whose size changed
 * since it was listed is refused (INPUT_UNREADABLE) rather than archived inconsistently.
 * Each data-carrying member's content is marked on the sink (contentStart/End), so a sink
 * that hashes per file (SlotSink) digests exactly what was archived — the rootfs pin,
 * tree-digest.ts.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import {
  DIALECTS,
  encodeNewcHeader,
  finalPadding,
  pad4,
  planArchive,
  trailerHeader,
  type CpioDialect,
  type CpioMember,
} from '#verifier/build';
import { BuilderError } from './errors.ts';
import type { ByteSink } from './sink.ts';

/** A member plus where its content comes from (a host file or inline bytes). */
export interface SourcedMember extends CpioMember {
  source?: string;
  content?: Uint8Array;
}

const ZERO = new Uint8Array(512);

/**
 * Streams the `size` bytes of the file at `path` into the sink, refusing (INPUT_UNREADABLE) a
 * file that cannot be opened or whose size is no longer `size`. Also used for the kernel.
 */
export async function copyFile(sink: ByteSink, path: string, size: number): Promise<void> {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new BuilderError('INPUT_UNREADABLE', `cannot open ${path}`, { path }, { cause: e });
  }
  try {
    let done = 0;
    let atEof = false; // a read asked for more than was left and got exactly what was left
    let grew = false;
    while (done < size) {
      // Synchronous reads: sequential streaming without a threadpool round trip per slice.
      // Ask for one byte more than is left, so the usual last read also proves the end of
      // the file (a file that grew is caught without a second read per file).
      const n = await sink.fillFrom(size - done + 1, (dst) => {
        const left = size - done;
        const r = readSync(fd, dst, 0, dst.length, done);
        if (r > left) {
          grew = true;
          return left;
        }
        if (dst.length > left) atEof = r === left;
        return r;
      });
      if (n === 0 || grew) break;
      done += n;
    }
    if (!atEof && !grew && done === size) atEof = readSync(fd, Buffer.alloc(1), 0, 1, done) === 0;
    if (done !== size || !atEof)
      throw new BuilderError('INPUT_UNREADABLE', 'file changed size while building', { path, expected: size });
  } finally {
    closeSync(fd);
  }
}

export async function streamCpio(
  sink: ByteSink,
  members: SourcedMember[],
  dialect: CpioDialect,
  onProgress?: (bytes: number) => void,
): Promise<void> {
  const { planned, nextIno } = planArchive(members, dialect);
  const upper = DIALECTS[dialect].upper;
  const start = sink.length;
  for (const p of planned) {
    await sink.write(encodeNewcHeader(p.header, upper));
    const m = p.member as SourcedMember;
    if (p.data === 'source') {
      sink.contentStart();
      if (m.content) await sink.write(m.content);
      else await copyFile(sink, m.source!, p.header.size);
      sink.contentEnd(m.name);
    } else if (p.data !== 'none') await sink.write(p.data);
    await sink.write(ZERO.subarray(0, pad4(p.header.size)));
    onProgress?.(sink.length - start);
  }
  await sink.write(trailerHeader(dialect, nextIno));
  await sink.write(ZERO.subarray(0, finalPadding(sink.length - start)));
}
