/**
 * Cross-check against an independent implementation: golang.org/x/mod/sumdb/{note,tlog}
 * (Debian golang-go + golang-golang-x-mod-dev, used fully offline in GOPATH mode). The TypeScript verifier builds a log, signs a checkpoint, makes
 * proofs and tiles; the Go program opens the note, checks every proof, re-derives every
 * proof and tile, reads proofs through x/mod's verifying TileHashReader over our tiles, and
 * re-signs the note. Skips when `go` or x/mod is absent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  MemoryTree,
  generateNoteKey,
  noteSigner,
  signNote,
  formatCheckpoint,
  proveInclusion,
  proveConsistency,
  tilesForSize,
  readTileData,
  tilePath,
  toBase64,
  utf8,
  cosignatureSigner,
  signatureLines,
} from '#verifier/build';

const GOPATH = '/usr/share/gocode';
const XMOD = join(GOPATH, 'src/golang.org/x/mod/sumdb/tlog');

const GO_MAIN = String.raw`package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type Input struct {
	Entries     [][]byte
	Vkey, Skey  string
	Note, Text  string
	LogOnlyNote string
	Size        int64
	Root        []byte
	Inclusion   []struct{ Index, Size int64; Proof [][]byte; Root []byte }
	Consistency []struct{ Old, New int64; Proof [][]byte; OldRoot, NewRoot []byte }
	Tiles       map[string][]byte
}

type tiles struct{ m map[string][]byte }

func (t tiles) Height() int { return 8 }
func (t tiles) ReadTiles(ts []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(ts))
	for i, x := range ts {
		p := strings.Replace(x.Path(), "tile/8/", "tile/", 1)
		d, ok := t.m[p]
		if !ok {
			return nil, fmt.Errorf("missing tile %s", p)
		}
		out[i] = d
	}
	return out, nil
}
func (t tiles) SaveTiles([]tlog.Tile, [][]byte) {}

func hash(b []byte) tlog.Hash { var h tlog.Hash; copy(h[:], b); return h }
func proof(ps [][]byte) []tlog.Hash { out := make([]tlog.Hash, len(ps)); for i, p := range ps { out[i] = hash(p) }; return out }

func main() {
	var in Input
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil { panic(err) }
	var fails []string
	fail := func(f string, a ...interface{}) { fails = append(fails, fmt.Sprintf(f, a...)) }
	var stored []tlog.Hash
	hr := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx { out[i] = stored[x] }
		return out, nil
	})
	for i, e := range in.Entries {
		hs, err := tlog.StoredHashes(int64(i), e, hr)
		if err != nil { panic(err) }
		stored = append(stored, hs...)
	}
	root, _ := tlog.TreeHash(in.Size, hr)
	if root != hash(in.Root) { fail("root differs") }
	v, err := note.NewVerifier(in.Vkey)
	if err != nil { fail("vkey: %v", err) }
	n, err := note.Open([]byte(in.Note), note.VerifierList(v))
	if err != nil { fail("note.Open: %v", err) } else if n.Text != in.Text || len(n.Sigs) != 1 || len(n.UnverifiedSigs) != 1 { fail("note content") }
	s, err := note.NewSigner(in.Skey)
	if err != nil { fail("skey: %v", err) } else if msg, _ := note.Sign(&note.Note{Text: in.Text}, s); string(msg) != in.LogOnlyNote { fail("re-signed note differs") }
	thr := tlog.TileHashReader(tlog.Tree{N: in.Size, Hash: root}, tiles{in.Tiles})
	for _, p := range in.Inclusion {
		if err := tlog.CheckRecord(proof(p.Proof), p.Size, hash(p.Root), p.Index, hash(in.Entries[p.Index][:0:0])); err == nil { fail("accepted a wrong leaf") }
		if err := tlog.CheckRecord(proof(p.Proof), p.Size, hash(p.Root), p.Index, tlog.RecordHash(in.Entries[p.Index])); err != nil { fail("CheckRecord %d/%d: %v", p.Index, p.Size, err) }
		mine, _ := tlog.ProveRecord(p.Size, p.Index, hr)
		if fmt.Sprint(mine) != fmt.Sprint(proof(p.Proof)) { fail("ProveRecord %d/%d differs", p.Index, p.Size) }
		if p.Size == in.Size {
			viaTiles, err := tlog.ProveRecord(p.Size, p.Index, thr)
			if err != nil || fmt.Sprint(viaTiles) != fmt.Sprint(mine) { fail("tile-read proof %d: %v", p.Index, err) }
		}
	}
	for _, p := range in.Consistency {
		if err := tlog.CheckTree(proof(p.Proof), p.New, hash(p.NewRoot), p.Old, hash(p.OldRoot)); err != nil { fail("CheckTree %d->%d: %v", p.Old, p.New, err) }
		mine, _ := tlog.ProveTree(p.New, p.Old, hr)
		if fmt.Sprint(mine) != fmt.Sprint(proof(p.Proof)) { fail("ProveTree %d->%d differs", p.Old, p.New) }
	}
	checked := 0
	for _, t := range tlog.NewTiles(8, 0, in.Size) {
		p := strings.Replace(t.Path(), "tile/8/", "tile/", 1)
		mine, ok := in.Tiles[p]
		if !ok { continue } // x/mod also lists every narrower partial width
		want, err := tlog.ReadTileData(t, hr)
		if err != nil || !bytes.Equal(want, mine) { fail("tile %s differs", p) }
		checked++
	}
	if checked != len(in.Tiles) { fail("checked %d of %d tiles", checked, len(in.Tiles)) }
	json.NewEncoder(os.Stdout).Encode(map[string]interface{}{"failures": fails, "tiles": checked})
}
`;

function goAvailable(): string | undefined {
  const r = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return 'go is not installed (Debian golang-go)';
  if (!existsSync(XMOD)) return 'golang.org/x/mod is not installed (Debian golang-golang-x-mod-dev)';
  return undefined;
}

test('x/mod sumdb note and tlog agree with the TypeScript verifier', { timeout: 120_000 }, (t) => {
  const missing = goAvailable();
  if (missing) {
    t.skip(missing);
    return;
  }
  const SIZE = 70_000;
  const tree = new MemoryTree();
  for (let i = 0; i < SIZE; i++) tree.append(utf8(`keycast entry ${i}`));
  const read = tree.hashReader();
  const log = generateNoteKey('log.keycast.test');
  const witness = generateNoteKey('witness.keycast.test');
  const text = formatCheckpoint({ origin: 'log.keycast.test', size: SIZE, rootHash: tree.root(), extensions: [] });
  const logOnly = signNote(text, [noteSigner(log.skey)]);
  const note = logOnly + signatureLines(text, [cosignatureSigner(witness.skey, () => 1_800_000_000)]);
  const b64 = (a: Uint8Array[]) => a.map(toBase64);
  const inclusion = [
    [0, 1],
    [5, 8],
    [255, 256],
    [256, 257],
    [1000, 65537],
    [69_999, SIZE],
    [65_536, SIZE],
    [12_345, SIZE],
    [0, SIZE],
  ].map(([index, size]) => ({
    Index: index,
    Size: size,
    Proof: b64(proveInclusion(index!, size!, read)),
    Root: toBase64(tree.root(size)),
  }));
  const consistency = [
    [1, 2],
    [3, 7],
    [256, 257],
    [1000, 65537],
    [65_536, SIZE],
    [69_999, SIZE],
    [777, SIZE],
  ].map(([o, n]) => ({
    Old: o,
    New: n,
    Proof: b64(proveConsistency(o!, n!, read)),
    OldRoot: toBase64(tree.root(o)),
    NewRoot: toBase64(tree.root(n)),
  }));
  const tiles = Object.fromEntries(tilesForSize(SIZE).map((x) => [tilePath(x), toBase64(readTileData(x, read))]));
  const input = {
    Entries: Array.from({ length: SIZE }, (_, i) => toBase64(tree.entry(i))),
    Vkey: log.vkey,
    Skey: log.skey,
    Note: note,
    Text: text,
    LogOnlyNote: logOnly,
    Size: SIZE,
    Root: toBase64(tree.root()),
    Inclusion: inclusion,
    Consistency: consistency,
    Tiles: tiles,
  };
  const dir = mkdtempSync(join(tmpdir(), 'keycast-gocheck-'));
  try {
    writeFileSync(join(dir, 'main.go'), GO_MAIN);
    const r = spawnSync('go', ['run', 'main.go'], {
      cwd: dir,
      input: JSON.stringify(input),
      encoding: 'utf8',
      maxBuffer: 1 << 24,
      env: { ...process.env, GO111MODULE: 'off', GOPATH, GOPROXY: 'off', GOFLAGS: '', GOCACHE: join(dir, 'cache') },
    });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { failures: string[] | null; tiles: number };
    assert.deepEqual(out.failures ?? [], []);
    assert.equal(out.tiles, tilesForSize(SIZE).length);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
