/**
 * The build's byte path in small pieces: SlotSink writes exactly what MemorySink collects,
 * across slot boundaries (tiny slots); file content that grows or shrinks between listing
 * and streaming is refused in both sinks, including when a file ends exactly on a slot
 * boundary (the end-of-file probe path); the hash worker's SHA-384 equals a one-thread hash
 * of the same stream and its per-file SHA-256s equal each file's (files split across slots,
 * empty, or ending on a boundary); an image built through tiny slots equals one built
 * through the default pool.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { readCpio } from '#verifier/build';
import { streamCpio, type SourcedMember } from '../src/cpio-stream.ts';
import { MemorySink, SlotSink } from '../src/sink.ts';
import { SlotPool } from '../src/slots.ts';
import { HashWorker } from '../src/hash-worker.ts';
import { BuildHashers, writeEifStreaming } from '../src/eif-stream.ts';
import { isBuilderError } from '../src/errors.ts';

const V = resolve(import.meta.dirname, '../../testdata/nitro/eif');
const SIZES = [0, 1, 63, 64, 65, 127, 128, 129, 200, 1000];

function fixture(dir: string): SourcedMember[] {
  return SIZES.map((n, i): SourcedMember => {
    const source = join(dir, `f${i}`);
    writeFileSync(source, randomBytes(n));
    return { name: `f${String(i).padStart(2, '0')}`, type: 'file' as const, perm: 0o644, size: n, source };
  }).concat([{ name: 'inline', type: 'file', perm: 0o644, size: 5, content: new Uint8Array(Buffer.from('hello')) }]);
}

async function viaSlots(dir: string, members: SourcedMember[], pool: SlotPool, files?: HashWorker): Promise<Buffer> {
  const out = join(dir, 'slots.out');
  const fd = openSync(out, 'w');
  try {
    const sink = new SlotSink(fd, 0, pool);
    if (files) await sink.route([], [files], files);
    await streamCpio(sink, members, 'canonical');
    await sink.flush();
  } finally {
    closeSync(fd);
  }
  return readFileSync(out);
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

test('SlotSink writes the same archive as MemorySink across 64-byte slot boundaries; the archive holds each file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kc-stream-'));
  try {
    const members = fixture(dir);
    const mem = new MemorySink();
    await streamCpio(mem, members, 'canonical');
    const viaMem = Buffer.from(mem.bytes());
    const tiny = new SlotPool(3, 64);
    const w = new HashWorker(tiny);
    try {
      assert.deepEqual(await viaSlots(dir, members, tiny, w), viaMem);
      const d = await w.digest();
      assert.deepEqual(
        Buffer.from(d.sha384),
        createHash('sha384').update(viaMem).digest(),
        'the worker saw every byte, in order',
      );
      assert.deepEqual(
        [...d.files.keys()],
        members.map((m) => m.name),
      );
      for (const m of members)
        assert.equal(
          d.files.get(m.name),
          sha256(m.content ?? readFileSync(m.source!)),
          `${m.name}: digest of the file as archived`,
        );
    } finally {
      await w.close();
    }
    assert.deepEqual(await viaSlots(dir, members, new SlotPool()), viaMem);
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
        const refused = (e: unknown) =>
          isBuilderError(e) &&
          e.code === 'INPUT_UNREADABLE' &&
          (e.evidence as { expected: number }).expected === listed;
        await assert.rejects(
          streamCpio(new MemorySink(), members, 'canonical'),
          refused,
          `memory ${actual} listed ${listed}`,
        );
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
    await assert.rejects(
      viaSlots(dir, member, new SlotPool(3, 64)),
      (e: unknown) => isBuilderError(e) && e.code === 'INPUT_UNREADABLE',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('hash worker: files closed on a slot boundary, empty files, and digests that start afresh', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kc-stream-'));
  const pool = new SlotPool(2, 100);
  const w = new HashWorker(pool);
  try {
    const a = randomBytes(250);
    const b = randomBytes(100);
    const fd = openSync(join(dir, 'copy'), 'w');
    const sink = new SlotSink(fd, 0, pool);
    await sink.route([], [w], w);
    await sink.write(randomBytes(50)); // not file content
    sink.contentStart();
    for (let i = 0; i < a.length; i += 33) await sink.write(a.subarray(i, i + 33));
    sink.contentEnd('a');
    sink.contentStart();
    sink.contentEnd('empty');
    await sink.write(randomBytes(100)); // fills the slot exactly: 'b' starts a fresh one
    sink.contentStart();
    await sink.write(b); // ends exactly on the slot boundary: its name travels alone
    sink.contentEnd('b');
    await sink.flush();
    closeSync(fd);
    const d = await w.digest();
    assert.deepEqual(
      [...d.files],
      [
        ['a', sha256(a)],
        ['empty', sha256(new Uint8Array())],
        ['b', sha256(b)],
      ],
    );
    assert.deepEqual(
      Buffer.from(d.sha384),
      createHash('sha384')
        .update(readFileSync(join(dir, 'copy')))
        .digest(),
    );
    const again = await w.digest();
    assert.deepEqual(Buffer.from(again.sha384), createHash('sha384').digest(), 'digest starts afresh');
    assert.equal(again.files.size, 0);
    await assert.rejects(sink.route([], [], w), /must also be routed/);
    assert.throws(() => w.marks([[0, 1]]), /need a slot/);
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
      arch: 'x86_64' as const,
      kernelPath: join(V, 'kernel.fake'),
      kernelSize: 3000,
      cmdline: new Uint8Array(Buffer.from('console=ttyS0')),
      metadata: new Uint8Array(Buffer.from('{}')),
      ramdisk0: new Uint8Array(readFileSync(join(V, 'ramdisk0.linuxkit.cpio'))),
      writeRamdisk1: async (sink: Parameters<Parameters<typeof writeEifStreaming>[1]['writeRamdisk1']>[0]) => {
        await streamCpio(sink, members, 'canonical');
      },
      ...(hashers ? { hashers } : {}),
    });
    const tiny = new BuildHashers(new SlotPool(2, 100));
    const a = await writeEifStreaming(join(dir, 'a.eif'), input(tiny)).finally(() => tiny.close());
    const b = await writeEifStreaming(join(dir, 'b.eif'), input());
    assert.deepEqual(readFileSync(join(dir, 'a.eif')), readFileSync(join(dir, 'b.eif')));
    assert.deepEqual(a.pcrs, b.pcrs);
    assert.equal(a.ramdisk1Size, b.ramdisk1Size);
    assert.equal(a.sha256, sha256(readFileSync(join(dir, 'a.eif'))));
    assert.deepEqual(a.files, b.files);
    assert.equal(a.files.get('f03'), sha256(readFileSync(members[3]!.source!)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
