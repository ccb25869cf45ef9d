/**
 * The boot gate's pure decision (#verifier decideGate): it opens for exactly this image when
 * logged, witnessed, fresh and active, and each way of failing that is refused with its own
 * stable code — one test per refusal.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { advanceGateHold, decideGate, parseProofBundle, type GateDecision, type GateInput } from '#verifier';
import { generateNoteKey, noteSigner, formatProofBundle } from '#verifier/build';
import { GateWorld, measurements, newPublisher, pcrMap } from '#test-kit';

const mine = measurements('v1');

function setup(): { w: GateWorld; index: number; input: GateInput } {
  const w = new GateWorld();
  const index = w.publish(mine);
  w.publish(measurements('unrelated'));
  return { w, index, input: { pcrs: pcrMap(mine), config: w.config(), bundle: w.bundle(index), now: w.now } };
}

function refused(d: GateDecision, code: string): Record<string, unknown> {
  assert.equal(d.open, false, `expected a refusal ${code}`);
  if (d.open) throw new Error('unreachable');
  assert.equal(d.code, code, d.message);
  return d.evidence;
}

test('opens for a logged, witnessed, fresh, active release of exactly these PCRs', () => {
  const { w, index, input } = setup();
  const d = decideGate(input);
  assert.equal(d.open, true, d.open ? '' : `${d.code} ${d.message}`);
  if (!d.open) return;
  assert.equal(d.index, index);
  assert.equal(d.pcr0, mine.pcr0);
  assert.equal(d.held.checkpoint.size, w.tree.size);
  assert.equal(d.cosigners.length, 2);
  assert.equal(d.freshUntil, w.now + 600);
});

test('the bundle round-trips through its JSON format', () => {
  const { input } = setup();
  const again = parseProofBundle(formatProofBundle(input.bundle!));
  assert.equal(decideGate({ ...input, bundle: again }).open, true);
});

test('no proof: PROOF_MISSING', () => {
  refused(decideGate({ ...setup().input, bundle: null }), 'PROOF_MISSING');
});

test('a proof for another PCR0: PCR_MISMATCH on PCR0', () => {
  const { w, input } = setup();
  const other = w.publish(measurements('someone-else'));
  const ev = refused(decideGate({ ...input, bundle: w.bundle(other) }), 'PCR_MISMATCH');
  assert.equal(ev.pcr, 0);
});

test('PCR1 or PCR2 differ from the logged release: PCR_MISMATCH naming the PCR', () => {
  const { input } = setup();
  for (const i of [1, 2]) {
    const pcrs = new Map(input.pcrs);
    pcrs.set(i, new Uint8Array(48).fill(i));
    assert.equal(refused(decideGate({ ...input, pcrs }), 'PCR_MISMATCH').pcr, i);
  }
});

test('a signed image (PCR8) must match a release that names it', () => {
  const w = new GateWorld();
  const signed = { ...mine, pcr8: '8'.repeat(96) };
  const i = w.publish(signed);
  const input = { pcrs: pcrMap(signed), config: w.config(), bundle: w.bundle(i), now: w.now };
  assert.equal(decideGate(input).open, true);
  const pcrs = new Map(input.pcrs);
  pcrs.set(8, new Uint8Array(48).fill(1));
  assert.equal(refused(decideGate({ ...input, pcrs }), 'PCR_MISMATCH').pcr, 8);
  const unsignedRelease = w.publish(mine);
  assert.equal(refused(decideGate({ ...input, bundle: w.bundle(unsignedRelease) }), 'PCR_MISMATCH').pcr, 8);
});

test('a bad inclusion proof: ROOT_MISMATCH', () => {
  const { w, index, input } = setup();
  refused(decideGate({ ...input, bundle: w.bundle(index, { breakInclusion: true }) }), 'ROOT_MISMATCH');
});

test('a checkpoint signed by another key: NOTE_UNVERIFIED', () => {
  const { w, index, input } = setup();
  const impostor = noteSigner(generateNoteKey('log.keycast.test/releases').skey);
  refused(decideGate({ ...input, bundle: w.bundle(index, { checkpointSigner: impostor }) }), 'NOTE_UNVERIFIED');
});

test('too few witnesses: WITNESS_POLICY', () => {
  const { w, index, input } = setup();
  const ev = refused(decideGate({ ...input, bundle: w.bundle(index, { witnesses: 1 }) }), 'WITNESS_POLICY');
  assert.deepEqual(ev.missing, ['witness-b.keycast.test']);
});

test('stale cosignatures: CHECKPOINT_STALE', () => {
  const { w, index, input } = setup();
  refused(decideGate({ ...input, bundle: w.bundle(index, { cosignedAt: w.now - 601 }) }), 'CHECKPOINT_STALE');
  refused(decideGate({ ...input, now: w.now + 601 }), 'CHECKPOINT_STALE');
});

test('revoked: RELEASE_REVOKED with the revoking entry', () => {
  const { w, index, input } = setup();
  const by = w.revoke(index);
  const ev = refused(decideGate({ ...input, bundle: w.bundle(index) }), 'RELEASE_REVOKED');
  assert.equal(ev.revokedBy, by);
});

test('a refusal after the checkpoint verified carries it; the hold advances to it and a revocation latches', () => {
  const { w, index, input } = setup();
  const first = decideGate(input);
  assert.ok(first.open);
  let hold = advanceGateHold({ held: null, latch: null }, first);
  const by = w.revoke(index);
  const d = decideGate({
    ...input,
    held: hold.held,
    bundle: w.bundle(index, { fromSize: hold.held!.checkpoint.size }),
  });
  refused(d, 'RELEASE_REVOKED');
  assert.ok(!d.open && d.checkpoint, 'the revoked bundle proved a checkpoint');
  assert.equal(d.checkpoint.checkpoint.size, by + 1);
  hold = advanceGateHold(hold, d);
  assert.equal(hold.held!.checkpoint.size, by + 1, 'the held tree advanced past the revocation');
  assert.equal(hold.latch?.code, 'RELEASE_REVOKED');
  // the pre-revocation bundle is older than the held tree now: it no longer extends it
  refused(decideGate({ ...input, held: hold.held }), 'CHECKPOINT_STALE');
  // even an opening decision neither moves the hold back nor lifts the latch
  const again = advanceGateHold(hold, first);
  assert.equal(again.held!.checkpoint.size, by + 1);
  assert.equal(again.latch?.code, 'RELEASE_REVOKED');
  // refusals before the checkpoint verified carry none: an unwitnessed or stale tree moves nothing
  for (const o of [{ witnesses: 1 }, { cosignedAt: w.now - 601 }]) {
    const u = decideGate({ ...input, bundle: w.bundle(index, o) });
    assert.ok(!u.open && u.checkpoint === undefined, JSON.stringify(o));
    assert.equal(advanceGateHold({ held: null, latch: null }, u).held, null);
  }
  // other refusals after verification advance the hold without latching
  const other = w.publish(measurements('someone-else'));
  const pm = decideGate({
    ...input,
    held: hold.held,
    bundle: w.bundle(other, { fromSize: hold.held!.checkpoint.size }),
  });
  refused(pm, 'PCR_MISMATCH');
  assert.equal(advanceGateHold({ held: hold.held, latch: null }, pm).latch, null);
  assert.equal(advanceGateHold({ held: hold.held, latch: null }, pm).held!.checkpoint.size, w.tree.size);
});

test('a status for an older tree size: STATUS_TREE_MISMATCH', () => {
  const { w, index, input } = setup();
  w.revoke(index);
  // the host shows the current proof but the status from before the revocation
  refused(decideGate({ ...input, bundle: w.bundle(index, { statusSize: w.tree.size - 1 }) }), 'STATUS_TREE_MISMATCH');
});

test('an inconsistent newer checkpoint: INCONSISTENT', () => {
  const { w, index, input } = setup();
  const first = decideGate(input);
  assert.ok(first.open);
  const forged = { ...first.held, checkpoint: { ...first.held.checkpoint, rootHash: new Uint8Array(32).fill(3) } };
  w.publish(measurements('later'));
  refused(
    decideGate({ ...input, held: forged, bundle: w.bundle(index, { fromSize: forged.checkpoint.size }) }),
    'INCONSISTENT',
  );
});

test('a newer checkpoint extends the held one with a consistency proof; without one, or rolled back, refused', () => {
  const { w, index, input } = setup();
  const first = decideGate(input);
  assert.ok(first.open);
  const heldSize = first.held.checkpoint.size;
  w.publish(measurements('later'));
  assert.equal(decideGate({ ...input, held: first.held, bundle: w.bundle(index, { fromSize: heldSize }) }).open, true);
  refused(decideGate({ ...input, held: first.held, bundle: w.bundle(index) }), 'PROOF_MISSING');
  refused(
    decideGate({ ...input, held: first.held, bundle: w.bundle(index, { size: heldSize - 1 }) }),
    'CHECKPOINT_STALE',
  );
  assert.equal(decideGate({ ...input, held: first.held, bundle: w.bundle(index, { size: heldSize }) }).open, true);
});

test('debug-mode PCRs: DEBUG_MODE, even with a valid proof', () => {
  const { input } = setup();
  refused(decideGate({ ...input, pcrs: pcrMap('debug') }), 'DEBUG_MODE');
});

test('a release signed by a key the image does not pin: SIGNER_NOT_ALLOWED', () => {
  const w = new GateWorld();
  const i = w.publish(mine, newPublisher());
  refused(
    decideGate({ pcrs: pcrMap(mine), config: w.config(), bundle: w.bundle(i), now: w.now }),
    'SIGNER_NOT_ALLOWED',
  );
});

test('the decision for a revocation entry is a refusal, not an opening', () => {
  const { w, index, input } = setup();
  const r = w.revoke(index);
  refused(decideGate({ ...input, bundle: w.bundle(r) }), 'PCR_MISMATCH');
});

test('the pinned config parses strictly: a typo fails the boot instead of weakening the gate', async () => {
  const { parseEnclaveConfig, isVerifierError } = await import('#verifier');
  const { formatEnclaveConfig } = await import('#verifier/build');
  const w = new GateWorld();
  const good = w.config();
  assert.deepEqual(parseEnclaveConfig(formatEnclaveConfig(good)), good);
  const bad: unknown[] = [
    { ...good, version: 2 },
    { ...good, witnesses: { ...good.witnesses, threshold: 3 } },
    { ...good, witnesses: { ...good.witnesses, threshold: 0 } },
    { ...good, witnesses: { vkeys: [good.log.vkey], threshold: 1 } }, // a note key is not a cosignature key
    { ...good, publishers: [] },
    { ...good, publishers: ['not a key'] },
    { ...good, maxCheckpointAgeSeconds: 0 },
    { ...good, kms: { ...good.kms, region: 'US East' } },
    { ...good, extra: true },
  ];
  for (const b of bad)
    assert.throws(
      () => parseEnclaveConfig(JSON.stringify(b)),
      (e) => isVerifierError(e, 'GATE_CONFIG_MALFORMED'),
      JSON.stringify(b).slice(0, 80),
    );
  assert.throws(
    () => parseEnclaveConfig('{"version":1,"version":1}'),
    (e) => isVerifierError(e, 'GATE_CONFIG_MALFORMED'),
  );
});

test('malformed bundles are GATE_BUNDLE_MALFORMED or OVERSIZED', async () => {
  const { isVerifierError } = await import('#verifier');
  const { input } = setup();
  const good = JSON.parse(formatProofBundle(input.bundle!)) as Record<string, unknown>;
  for (const b of [
    { ...good, version: 2 },
    { ...good, entry: '***' },
    { ...good, proof: 5 },
    { ...good, more: 1 },
    { ...good, consistency: { fromSize: -1, hashes: [] } },
    { ...good, consistency: { fromSize: 1, hashes: ['AAAA'] } },
    [],
    'x',
  ]) {
    assert.throws(
      () => parseProofBundle(JSON.stringify(b)),
      (e) => isVerifierError(e, 'GATE_BUNDLE_MALFORMED'),
    );
  }
  assert.throws(
    () => parseProofBundle('x'.repeat(300 * 1024)),
    (e) => isVerifierError(e, 'OVERSIZED'),
  );
});
