/**
 * The build's byte path in small pieces: SlotSink writes exactly what MemorySink collects,
 * across slot boundaries (tiny slots); file content that grows or shrinks between listing
 * and streaming is refused in both sinks, including when a file ends exactly on a slot
 * boundary (the end-of-file probe path); the hash workers' digests equal a one-thread hash
 * of the same stream; hashRanges reads back the right bytes and refuses ranges past the end;
 * a full image built through tiny slots equals one built through the default pool.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { readCpio } from '#verifier';
import { streamCpio, type SourcedMember } from '../src/cpio-stream.ts';
import { MemorySink, SlotSink } from '../src/sink.ts';
import { SlotPool } from '../src/slots.ts';
import { HashWorker } from '../src/hash-worker.ts';
import { BuildHashers, writeEifStreaming } from '../src/eif-stream.ts';
import { isBuilderError } from '../src/errors.ts';

const V = resolve(import.meta.dirname, '../../../shared/testvectors/nitro/eif');
const SIZES = [0, 1, 63, 64, 65, 127, 128, 129, 200, 1000];

function fixture(dir: string): SourcedMember[] {
  return SIZES.map((n, i) => {
    const source = join(dir, `f${i}`);
    writeFileSync(source, randomBytes(n));
    return { name: `f${String(i).padStart(2, '0')}`, type: 'file' as const, perm: 0o644, size: n, source };
  }).concat([{ name: 'inline', type: 'file', perm: 0o644, size: 5, content: new Uint8Array(Buffer.from('hello')) }]);
}

async function viaSlots(dir: string, members: SourcedMember[], pool: SlotPool): Promise<Buffer> {
  const out = join(dir, 'slots.out');
  const fd = openSync(out, 'w');
  try {
    const sink = new SlotSink(fd, 0, pool);
    await streamCpio(sink, members, 'canonical');
    await sink.flush();
  } finally {
    closeSync(fd);
  }
  return readFileSync(out);
}

test('SlotSink writes the same archive as MemorySink across 64-byte slot boundaries; ranges point at each file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kc-stream-'));
  try {
    const members = fixture(dir);
    const mem = new MemorySink();
    const ranges = await streamCpio(mem, members, 'canonical');
    const viaMem = Buffer.from(mem.bytes());
    assert.deepEqual(await viaSlots(dir, members, new SlotPool(3, 64)), viaMem);
    assert.deepEqual(await viaSlots(dir, members, new SlotPool()), viaMem);
    assert.equal(ranges.length, members.length);
    for (const r of ranges) {
      const m = members.find((x) => x.name === r.name)!;
      const want = m.content ? Buffer.from(m.content) : readFileSync(m.source!);
      assert.deepEqual(viaMem.subarray(r.offset, r.offset + r.size), want, r.name);
    }
    assert.equal(readCpio(new Uint8Array(viaMem)).entries.filter((e) => e.name.startsWith('f')).length, SIZES.length);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a file that grew or shrank since it was listed is refused (INPUT_UNREADABLE), in both sinks and on slot boundaries', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kc-stream-'));
  try {
    for (const actual of [0, 10, 63, 64, 65, 128]) {
      for (const listed of [actual - 1, actual + 1]) {
        if (listed < 0) continue;
        const source = join(dir, `g${actual}`);
        writeFileSync(source, randomBytes(actual));
        const members: SourcedMember[] = [{ name: 'g', type: 'file', perm: 0o644, size: listed, source }];
        const refused = (e: unknown) => isBuilderError(e) && e.code === 'INPUT_UNREADABLE' && (e.evidence as { expected: number }).expected === listed;
        await assert.rejects(streamCpio(new MemorySink(), members, 'canonical'), refused, `memory ${actual} listed ${listed}`);
        await assert.rejects(viaSlots(dir, members, new SlotPool(3, 64)), refused, `slots ${actual} listed ${listed}`);
      }
    }
    // 64-byte slots: the 112-byte header leaves 16 bytes in the second slot, so an 80-byte
    // file ends exactly on the next boundary — no room for the one-byte-more read, and the
    // end is proven by a separate probe, which must both accept the exact file and catch growth.
    const edge = join(dir, 'edge');
    const member: SourcedMember[] = [{ name: 'e', type: 'file', perm: 0o644, size: 80, source: edge }];
    writeFileSync(edge, randomBytes(80));
    const ok = await viaSlots(dir, member, new SlotPool(3, 64));
    const mem = new MemorySink();
    await streamCpio(mem, member, 'canonical');
    assert.deepEqual(ok, Buffer.from(mem.bytes()));
    writeFileSync(edge, randomBytes(81));
    await assert.rejects(viaSlots(dir, member, new SlotPool(3, 64)), (e: unknown) => isBuilderError(e) && e.code === 'INPUT_UNREADABLE');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('hash workers: digest equals one-thread SHA-384 of the same slots; hashRanges reads back ranges and refuses past the end', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kc-stream-'));
  const pool = new SlotPool(2, 1000);
  const w = new HashWorker(pool);
  try {
    const data = randomBytes(10_000);
    const path = join(dir, 'data');
    writeFileSync(path, data);
    const fd = openSync(join(dir, 'copy'), 'w');
    const sink = new SlotSink(fd, 0, pool);
    await sink.route([], [w]);
    for (let i = 0; i < data.length; i += 333) await sink.write(data.subarray(i, i + 333));
    await sink.flush();
    closeSync(fd);
    assert.deepEqual(Buffer.from(await w.digest()), createHash('sha384').update(data).digest());
    assert.deepEqual(Buffer.from(await w.digest()), createHash('sha384').digest(), 'digest starts afresh');
    assert.deepEqual(readFileSync(join(dir, 'copy')), data);
    const ranges = [[0, 0], [5, 100], [9_000, 1_000]] as const;
    assert.deepEqual(await w.hashRanges(path, ranges), ranges.map(([o, n]) => createHash('sha256').update(data.subarray(o, o + n)).digest('hex')));
    await assert.rejects(w.hashRanges(path, [[9_999, 2]]), /shorter than expected/);
    await assert.rejects(w.hashRanges(join(dir, 'missing'), [[0, 1]]), /ENOENT/);
  } finally {
    await w.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an image streamed through tiny slots is byte-identical to one through the default pool, with equal PCRs', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kc-stream-'));
  try {
    const members = fixture(dir);
    const input = (hashers?: BuildHashers) => ({
      arch: 'x86_64' as const, kernelPath: join(V, 'kernel.fake'), kernelSize: 3000, cmdline: new Uint8Array(Buffer.from('console=ttyS0')), metadata: new Uint8Array(Buffer.from('{}')),
      ramdisk0: new Uint8Array(readFileSync(join(V, 'ramdisk0.linuxkit.cpio'))),
      writeRamdisk1: async (sink: Parameters<Parameters<typeof writeEifStreaming>[1]['writeRamdisk1']>[0]) => { await streamCpio(sink, members, 'canonical'); },
      ...(hashers ? { hashers } : {}),
    });
    const tiny = new BuildHashers(new SlotPool(2, 100));
    const a = await writeEifStreaming(join(dir, 'a.eif'), input(tiny)).finally(() => tiny.close());
    const b = await writeEifStreaming(join(dir, 'b.eif'), input());
    assert.deepEqual(readFileSync(join(dir, 'a.eif')), readFileSync(join(dir, 'b.eif')));
    assert.deepEqual(a.pcrs, b.pcrs);
    assert.equal(a.ramdisk1Offset, b.ramdisk1Offset);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
