/**
 * The simulator behaves like the device at the byte level: boot state, PCR extend/lock
 * semantics and error codes through the same client the device uses, DescribeNSM, GetRandom,
 * the 1024-byte attestation limits, malformed requests.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { SimulatedNsm } from '../dev/nsm/simulator.ts';
import { createTestPki } from '../dev/nsm/test-pki.ts';
import { decodeResponse, encodeRequest } from '../runtime/nsm/codec.ts';
import { EnclaveError } from '../common/errors.ts';

const eif = JSON.parse(
  readFileSync(resolve(import.meta.dirname, '../../testdata/nitro/eif/synthetic-x86_64.json'), 'utf8'),
);
const formulas = JSON.parse(
  readFileSync(resolve(import.meta.dirname, '../../testdata/nitro/pcr-formulas.json'), 'utf8'),
);
const hex = (u: Uint8Array) => Buffer.from(u).toString('hex');
const coded = (code: string) => (e: unknown) => e instanceof EnclaveError && e.code === code;
const pki = createTestPki({ instanceId: 'i-0918f6c55e3b61d89' });

function measurement(): { pcr0: string; pcr1: string; pcr2: string } {
  const m = eif.expected_measurements;
  return { pcr0: m.PCR0, pcr1: m.PCR1, pcr2: m.PCR2 };
}

test('boot state matches the device: 32 SHA384 PCRs, 0..15 locked, EIF PCRs, PCR3/PCR4 derived', async () => {
  const m = measurement();
  assert.match(m.pcr0, /^[0-9a-f]{96}$/, 'the synthetic EIF sidecar gives PCR0');
  const nsm = new SimulatedNsm({ pki, pcrs: m, iamRoleArn: formulas.pcr3_role_arn.example_arn });
  const d = await nsm.describeNsm();
  assert.equal(d.maxPcrs, 32);
  assert.equal(d.digest, 'SHA384');
  assert.deepEqual(d.lockedPcrs, [...Array(16).keys()]);
  assert.match(d.moduleId, /^i-0918f6c55e3b61d89-enc[0-9a-f]{16}$/);
  assert.equal(hex((await nsm.describePcr(0)).data), m.pcr0);
  assert.equal(hex((await nsm.describePcr(1)).data), m.pcr1);
  assert.equal(hex((await nsm.describePcr(2)).data), m.pcr2);
  assert.equal(hex((await nsm.describePcr(3)).data), formulas.pcr3_role_arn.example_pcr3);
  assert.equal(
    hex((await nsm.describePcr(4)).data),
    formulas.pcr4_instance_id.verified_against_real_documents[0].computed_pcr4,
  );
  for (const i of [5, 8, 15, 16, 31]) assert.equal(hex((await nsm.describePcr(i)).data), '00'.repeat(48));
  assert.equal((await nsm.describePcr(15)).lock, true);
  assert.equal((await nsm.describePcr(16)).lock, false);
});

test('debug mode zeroes PCR0/1/2/8 but keeps PCR4; PCR8 from a signed EIF', async () => {
  const m = { ...measurement(), pcr8: 'ab'.repeat(48) };
  const signed = new SimulatedNsm({ pki, pcrs: m });
  assert.equal(hex((await signed.describePcr(8)).data), 'ab'.repeat(48));
  const debug = new SimulatedNsm({ pki, pcrs: m, debug: true });
  for (const i of [0, 1, 2, 8]) assert.equal(hex((await debug.describePcr(i)).data), '00'.repeat(48));
  assert.notEqual(hex((await debug.describePcr(4)).data), '00'.repeat(48));
});

test('extend/lock through the byte-level client: device error codes', async () => {
  const nsm = new SimulatedNsm({ pki, pcrs: measurement() });
  await assert.rejects(nsm.extendPcr(0, Uint8Array.of(1)), coded('NSM_READ_ONLY_INDEX'));
  await assert.rejects(nsm.lockPcr(4), coded('NSM_READ_ONLY_INDEX'));
  await assert.rejects(nsm.describePcr(32), coded('NSM_INVALID_INDEX'));
  await assert.rejects(nsm.extendPcr(40, Uint8Array.of(1)), coded('NSM_INVALID_INDEX'));
  await assert.rejects(nsm.lockPcrs(33), coded('NSM_INVALID_INDEX'));
  const ex = formulas.nsm_extend.examples;
  assert.equal(hex(await nsm.extendPcr(16, Buffer.from(ex[0].data_hex, 'hex'))), ex[0].pcr_new_hex);
  assert.equal(hex(await nsm.extendPcr(16, Buffer.from(ex[1].data_hex, 'hex'))), ex[1].pcr_new_hex);
  await nsm.lockPcr(16);
  await assert.rejects(nsm.extendPcr(16, Uint8Array.of(1)), coded('NSM_READ_ONLY_INDEX'));
  await assert.rejects(nsm.lockPcr(16), coded('NSM_READ_ONLY_INDEX'));
  assert.deepEqual((await nsm.describeNsm()).lockedPcrs, [...Array(17).keys()]);
  await nsm.lockPcrs(20);
  await nsm.lockPcrs(20);
  assert.deepEqual((await nsm.describeNsm()).lockedPcrs, [...Array(20).keys()]);
  await nsm.extendPcr(25, Uint8Array.of(1));
  await nsm.lockPcrs(32);
  for (const i of [20, 25, 31]) await assert.rejects(nsm.extendPcr(i, Uint8Array.of(1)), coded('NSM_READ_ONLY_INDEX'));
});

test('GetRandom: 256 fresh bytes per call', async () => {
  const nsm = new SimulatedNsm({ pki, pcrs: measurement() });
  const a = await nsm.getRandom();
  const b = await nsm.getRandom();
  assert.equal(a.length, 256);
  assert.notDeepEqual(a, b);
});

test('attestation fields: 1024 bytes each accepted, 1025 refused with InputTooLarge', async () => {
  const nsm = new SimulatedNsm({ pki, pcrs: measurement() });
  const k = new Uint8Array(1024).fill(0x80);
  const doc = await nsm.attestation({ userData: k, nonce: k, publicKey: k });
  assert.equal(doc[0], 0x84);
  for (const field of ['userData', 'nonce', 'publicKey'] as const) {
    await assert.rejects(nsm.attestation({ [field]: new Uint8Array(1025) }), (e: unknown) => {
      assert.ok(coded('NSM_INPUT_TOO_LARGE')(e));
      assert.equal(
        JSON.stringify((e as EnclaveError).toJSON()).includes('8080'),
        false,
        'evidence never carries the payload',
      );
      return true;
    });
  }
});

test('a request that is not an NSM message gets Error(InvalidArgument), like a bad ioctl payload', async () => {
  const nsm = new SimulatedNsm({ pki, pcrs: measurement() });
  for (const bad of [
    new Uint8Array(0),
    Uint8Array.of(0xff),
    Buffer.from('6b4e6f7441526571756573ff', 'hex'),
    encodeRequest({ type: 'LockPCR', index: 1 }).subarray(0, 5),
  ]) {
    assert.deepEqual(decodeResponse(await nsm.device.roundTrip(bad)), { type: 'Error', error: 'InvalidArgument' });
  }
  await assert.rejects(nsm.device.roundTrip(new Uint8Array(4097)), coded('NSM_IOCTL_FAILED'));
});

test('closed simulator refuses like a closed device; bad options are caller errors', async () => {
  const nsm = new SimulatedNsm({ pki, pcrs: measurement() });
  await nsm.close();
  await assert.rejects(nsm.getRandom(), coded('NSM_UNAVAILABLE'));
  assert.throws(
    () => new SimulatedNsm({ pki, pcrs: { pcr0: 'aa'.repeat(48), pcr1: 'aa'.repeat(48) } as never }),
    RangeError,
  );
  assert.throws(() => new SimulatedNsm({ pki, pcrs: { ...measurement(), pcr4: 'aa'.repeat(48) } }), RangeError);
  assert.throws(
    () => new SimulatedNsm({ pki, pcrs: measurement(), moduleId: 'i-00000000000000000-enc0000000000000000' }),
    RangeError,
  );
});
