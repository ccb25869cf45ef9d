import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RecordList } from '../src/encoding/record-list.ts';
import { MemoryTree } from '../src/tlog/memory-tree.ts';
import { hashLeaf } from '../src/tlog/hash.ts';

const rec = (w: number, v: number) => new Uint8Array(w).fill(v);

test('RecordList keeps copies of fixed-width records across growth; views stay valid', () => {
  const l = new RecordList(4, 1);
  const first = rec(4, 1);
  l.push(first);
  const view = l.get(0)!;
  first.fill(9); // the list kept a copy
  for (let i = 1; i < 1000; i++) l.push(rec(4, i % 256));
  assert.equal(l.length, 1000);
  assert.deepEqual(view, rec(4, 1));
  assert.deepEqual(l.get(0), rec(4, 1));
  assert.deepEqual(l.get(999), rec(4, 999 % 256));
  assert.equal(l.get(1000), undefined);
  assert.equal(l.get(-1), undefined);
});

test('RecordList refuses records of another width and writes past the end', () => {
  const l = new RecordList(32);
  assert.throws(() => l.push(new Uint8Array(31)), RangeError);
  assert.throws(() => l.set(1, new Uint8Array(32)), RangeError);
  assert.throws(() => new RecordList(0), RangeError);
  assert.equal(l.length, 0);
});

test('MemoryTree on record lists: entries, hash-only leaves, roots of every prefix', () => {
  const t = new MemoryTree();
  const ref = new MemoryTree();
  for (let i = 0; i < 37; i++) {
    const e = new TextEncoder().encode(`entry ${i}`);
    if (i % 3 === 0) t.appendLeafHash(hashLeaf(e));
    else t.append(e);
    ref.append(e);
  }
  assert.equal(t.size, 37);
  for (let n = 0; n <= 37; n++) assert.deepEqual(t.root(n), ref.root(n));
  assert.equal(t.entry(3).length, 0);
  assert.equal(new TextDecoder().decode(t.entry(4)), 'entry 4');
  assert.throws(() => t.entry(37), RangeError);
  assert.throws(() => t.appendLeafHash(new Uint8Array(20)), RangeError);
});
