/**
 * The /dev/nsm backend without a device: struct nsm_raw layout (checked against koffi's own C
 * layout of struct {struct iovec; struct iovec}), the ioctl call path through koffi on a
 * device that refuses it, the full client path through an injected ioctl, and missing-device
 * behaviour.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import {
  DeviceTransport,
  NSM_IOCTL_RAW,
  NSM_RAW_SIZE,
  decodeNsmRaw,
  encodeNsmRaw,
  openDeviceNsm,
  type IoctlFfi,
} from '../runtime/nsm/device.ts';
import { decodeRequest, encodeResponse } from '../runtime/nsm/codec.ts';
import { EnclaveError } from '../common/errors.ts';

const coded = (code: string) => (e: unknown) => e instanceof EnclaveError && e.code === code;

test('ioctl number is _IOWR(0x0A, 0, 32-byte struct)', () => {
  const IOC_WRITE = 1,
    IOC_READ = 2;
  assert.equal((((IOC_READ | IOC_WRITE) << 30) | (NSM_RAW_SIZE << 16) | (0x0a << 8) | 0) >>> 0, NSM_IOCTL_RAW);
});

test('struct nsm_raw: four little-endian u64s, same layout as C struct { iovec; iovec }', async (t) => {
  const raw = encodeNsmRaw({
    requestAddr: 0x1122334455667788n,
    requestLen: 3n,
    responseAddr: 0xaabbn,
    responseLen: 0x3000n,
  });
  assert.equal(raw.length, 32);
  assert.equal(
    Buffer.from(raw).toString('hex'),
    '8877665544332211' + '0300000000000000' + 'bbaa000000000000' + '0030000000000000',
  );
  assert.deepEqual(decodeNsmRaw(raw), {
    requestAddr: 0x1122334455667788n,
    requestLen: 3n,
    responseAddr: 0xaabbn,
    responseLen: 0x3000n,
  });
  assert.throws(() => decodeNsmRaw(new Uint8Array(31)), RangeError);
  let koffi;
  try {
    koffi = (await import('koffi')).default;
  } catch {
    t.skip('koffi is not installed');
    return;
  }
  const iovec = koffi.struct({ iov_base: 'void *', iov_len: 'size_t' });
  const msg = koffi.struct({ request: iovec, response: iovec });
  assert.equal(koffi.sizeof(msg), NSM_RAW_SIZE);
  assert.equal(koffi.offsetof(msg, 'response'), 16);
  assert.equal(koffi.offsetof(iovec, 'iov_len'), 8);
});

test('a missing device is NSM_UNAVAILABLE with the path and errno as evidence', async () => {
  await assert.rejects(openDeviceNsm({ path: '/nonexistent/nsm' }), (e: unknown) => {
    assert.ok(coded('NSM_UNAVAILABLE')(e));
    assert.deepEqual((e as EnclaveError).evidence, { path: '/nonexistent/nsm', errno: 'ENOENT' });
    return true;
  });
});

test('on this machine /dev/nsm is absent or, if present, describes a 32-PCR SHA384 module', async () => {
  if (!existsSync('/dev/nsm')) {
    await assert.rejects(openDeviceNsm(), coded('NSM_UNAVAILABLE'));
    return;
  }
  const nsm = await openDeviceNsm();
  const d = await nsm.describeNsm();
  assert.equal(d.maxPcrs, 32);
  assert.equal(d.digest, 'SHA384');
  await nsm.close();
});

test('the real koffi ioctl is issued: /dev/null refuses it with ENOTTY, coded NSM_IOCTL_FAILED', async (t) => {
  try {
    await import('koffi');
  } catch {
    t.skip('koffi is not installed');
    return;
  }
  const nsm = await openDeviceNsm({ path: '/dev/null' });
  await assert.rejects(nsm.getRandom(), (e: unknown) => {
    assert.ok(coded('NSM_IOCTL_FAILED')(e));
    assert.equal((e as EnclaveError).evidence.errnoName, 'ENOTTY');
    return true;
  });
  await nsm.close();
  await assert.rejects(nsm.getRandom(), coded('NSM_UNAVAILABLE'));
});

/** A fake ioctl that reads the request through the struct's addresses like the kernel does. */
function fakeIoctl(
  answer: (req: Uint8Array) => Uint8Array,
  seen: { request?: number; len?: bigint; cap?: bigint },
): IoctlFfi {
  const mem = new Map<bigint, Uint8Array>();
  let next = 0x1000n;
  return {
    address(b) {
      const a = next;
      next += 0x10000n;
      mem.set(a, b);
      return a;
    },
    ioctl(_fd, request, arg) {
      const raw = decodeNsmRaw(arg);
      seen.request = request;
      seen.len = raw.requestLen;
      seen.cap = raw.responseLen;
      const req = mem.get(raw.requestAddr)!.subarray(0, Number(raw.requestLen));
      const out = answer(Uint8Array.from(req));
      const resp = mem.get(raw.responseAddr)!;
      const n = Math.min(out.length, Number(raw.responseLen));
      resp.set(out.subarray(0, n));
      Buffer.from(arg.buffer, arg.byteOffset).writeBigUInt64LE(BigInt(n), 24);
      return 0;
    },
    errno: () => 0,
    errnoName: (n) => `errno ${n}`,
  };
}

test('client over the device transport: request bytes reach the ioctl, the written length is honoured', async () => {
  const seen: { request?: number; len?: bigint; cap?: bigint } = {};
  const ffi = fakeIoctl((req) => {
    const r = decodeRequest(req);
    assert.deepEqual(r, { type: 'DescribePCR', index: 3 });
    return encodeResponse({ type: 'DescribePCR', lock: true, data: new Uint8Array(48).fill(3) });
  }, seen);
  const nsm = await openDeviceNsm({ path: '/dev/null', ffi });
  assert.deepEqual(await nsm.describePcr(3), { lock: true, data: new Uint8Array(48).fill(3) });
  assert.equal(seen.request, 0xc0200a00);
  assert.equal(seen.len, 21n);
  assert.equal(seen.cap, 0x3000n);
  await nsm.close();
});

test('device refusals become coded errors; a wrong-variant answer is malformed', async () => {
  const nsm = await openDeviceNsm({
    path: '/dev/null',
    ffi: fakeIoctl(() => encodeResponse({ type: 'Error', error: 'ReadOnlyIndex' }), {}),
  });
  await assert.rejects(nsm.extendPcr(0, Uint8Array.of(1)), (e: unknown) => {
    assert.ok(coded('NSM_READ_ONLY_INDEX')(e));
    assert.deepEqual((e as EnclaveError).evidence, {
      request: 'ExtendPCR',
      index: 0,
      dataLength: 1,
      nsmError: 'ReadOnlyIndex',
    });
    return true;
  });
  const wrong = await openDeviceNsm({
    path: '/dev/null',
    ffi: fakeIoctl(() => encodeResponse({ type: 'LockPCR' }), {}),
  });
  await assert.rejects(wrong.getRandom(), coded('NSM_RESPONSE_MALFORMED'));
  const trunc = await openDeviceNsm({
    path: '/dev/null',
    ffi: fakeIoctl(() => encodeResponse({ type: 'GetRandom', random: new Uint8Array(0x4000) }), {}),
  });
  await assert.rejects(
    trunc.getRandom(),
    coded('NSM_RESPONSE_MALFORMED'),
    'a response truncated to the buffer is refused, not misread',
  );
});

test('a request over 4096 encoded bytes never reaches the driver', async () => {
  let called = false;
  const nsm = await openDeviceNsm({
    path: '/dev/null',
    ffi: fakeIoctl(() => {
      called = true;
      return new Uint8Array();
    }, {}),
  });
  await assert.rejects(nsm.extendPcr(16, new Uint8Array(5000)), coded('NSM_REQUEST_TOO_LARGE'));
  await assert.rejects(
    new DeviceTransport(
      -1,
      fakeIoctl(() => new Uint8Array(), {}),
      'x',
    ).roundTrip(new Uint8Array(4097)),
    coded('NSM_REQUEST_TOO_LARGE'),
  );
  assert.equal(called, false);
  await nsm.close();
});
