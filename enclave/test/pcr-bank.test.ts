/**
 * The PCR bank against the device's semantics (nsm-check.rs) and the extend vectors in
 * testdata/nitro/pcr-formulas.json.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { PcrBank, PcrRefusal, extendDigest, measureContent, MAX_PCRS } from '../dev/nsm/pcr-bank.ts';

const formulas = JSON.parse(
  readFileSync(resolve(import.meta.dirname, '../../testdata/nitro/pcr-formulas.json'), 'utf8'),
);
const hex = (u: Uint8Array) => Buffer.from(u).toString('hex');
const refusal = (name: string) => (e: unknown) => e instanceof PcrRefusal && e.nsmError === name;

test('extend = SHA384(old ‖ raw data): the pcr-formulas vectors', () => {
  for (const ex of formulas.nsm_extend.examples) {
    assert.equal(
      hex(extendDigest(Buffer.from(ex.pcr_old_hex, 'hex'), Buffer.from(ex.data_hex, 'hex'))),
      ex.pcr_new_hex,
    );
  }
  const bank = new PcrBank();
  bank.extend(16, Uint8Array.of(1, 2, 3));
  assert.equal(hex(bank.extend(16, Uint8Array.of(1, 2, 3))), formulas.nsm_extend.examples[1].pcr_new_hex);
});

test('measureContent gives the empty-content PCR; PCR3/PCR4 are one raw extend from zero', () => {
  assert.equal(hex(measureContent(new Uint8Array(0))), formulas.eif_measurement.empty_content.pcr);
  const zero = new Uint8Array(48);
  assert.equal(
    hex(extendDigest(zero, Buffer.from(formulas.pcr3_role_arn.example_arn))),
    formulas.pcr3_role_arn.example_pcr3,
  );
  for (const doc of formulas.pcr4_instance_id.verified_against_real_documents) {
    assert.equal(hex(extendDigest(zero, Buffer.from(doc.instance_id))), doc.computed_pcr4);
  }
});

test('boot state: 0..15 locked with the given values, 16..31 zero and unlocked', () => {
  const bank = new PcrBank({ 0: 'aa'.repeat(48), 4: new Uint8Array(48).fill(4) });
  assert.deepEqual(bank.lockedIndexes(), [...Array(16).keys()]);
  assert.equal(hex(bank.describe(0).data), 'aa'.repeat(48));
  assert.equal(bank.describe(4).data[0], 4);
  for (let i = 0; i < MAX_PCRS; i++) {
    const d = bank.describe(i);
    assert.equal(d.lock, i < 16);
    assert.equal(d.data.length, 48);
    if (i !== 0 && i !== 4) assert.equal(hex(d.data), '00'.repeat(48));
  }
  assert.deepEqual([...bank.lockedValues().keys()], [...Array(16).keys()]);
});

test('boot values must be 48 bytes for PCRs 0..15', () => {
  assert.throws(() => new PcrBank({ 0: 'aa' }), RangeError);
  assert.throws(() => new PcrBank({ 1: 'zz'.repeat(48) }), RangeError);
  assert.throws(() => new PcrBank({ 16: 'aa'.repeat(48) }), RangeError);
  assert.throws(() => new PcrBank({ 2: new Uint8Array(32) }), RangeError);
});

test('PCRs 0..15 cannot be extended or locked again (ReadOnlyIndex)', () => {
  const bank = new PcrBank();
  for (let i = 0; i < 16; i++) {
    assert.throws(() => bank.extend(i, Uint8Array.of(1)), refusal('ReadOnlyIndex'));
    assert.throws(() => bank.lock(i), refusal('ReadOnlyIndex'));
  }
});

test('user PCRs: extend until locked, then read-only; lock twice refused', () => {
  const bank = new PcrBank();
  const v = bank.extend(20, Uint8Array.of(9));
  assert.notEqual(hex(v), '00'.repeat(48));
  bank.lock(20);
  assert.deepEqual(bank.describe(20), { lock: true, data: v });
  assert.throws(() => bank.extend(20, Uint8Array.of(9)), refusal('ReadOnlyIndex'));
  assert.throws(() => bank.lock(20), refusal('ReadOnlyIndex'));
  assert.deepEqual(bank.describe(20).data, v, 'a refused extend leaves the value alone');
  assert.deepEqual([...bank.lockedValues().keys()].at(-1), 20);
});

test('lockRange locks [0, range), is idempotent, and refuses range > 32', () => {
  const bank = new PcrBank();
  bank.lock(17);
  bank.lockRange(20);
  assert.deepEqual(bank.lockedIndexes(), [...Array(20).keys()]);
  bank.lockRange(20);
  bank.lockRange(0);
  assert.throws(() => bank.lockRange(33), refusal('InvalidIndex'));
  assert.deepEqual(bank.lockedIndexes(), [...Array(20).keys()], 'a refused range locks nothing');
  bank.lockRange(32);
  assert.equal(bank.lockedIndexes().length, 32);
  for (let i = 0; i < 32; i++) assert.throws(() => bank.extend(i, Uint8Array.of(1)), refusal('ReadOnlyIndex'));
});

test('indexes outside 0..31 are InvalidIndex for every operation', () => {
  const bank = new PcrBank();
  for (const i of [32, 100, 65535, -1]) {
    assert.throws(() => bank.describe(i), refusal('InvalidIndex'));
    assert.throws(() => bank.extend(i, Uint8Array.of(1)), refusal('InvalidIndex'));
    assert.throws(() => bank.lock(i), refusal('InvalidIndex'));
  }
});

test('describe returns copies: mutating them does not change the bank', () => {
  const bank = new PcrBank();
  bank.describe(16).data.fill(1);
  bank.lockedValues().get(0)!.fill(1);
  assert.equal(hex(bank.describe(16).data), '00'.repeat(48));
  assert.equal(hex(bank.describe(0).data), '00'.repeat(48));
});
