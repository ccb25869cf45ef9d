/**
 * The real Nitro Security Module: /dev/nsm through ioctl 0xC0200A00.
 *
 * Linux include/uapi/linux/nsm.h: `NSM_IOCTL_RAW = _IOWR(0x0A, 0, struct nsm_raw)` with
 * struct nsm_raw { struct nsm_iovec request; struct nsm_iovec response; } — four little-endian
 * u64s: request.addr, request.len (≤ 0x1000, else EMSGSIZE), response.addr, response.len (in:
 * capacity, out: bytes written, truncated to capacity). The legacy nsm.ko `struct nsm_message`
 * of two `struct iovec`s has the same layout and ioctl number. notes/nitro.md §5.2.
 *
 * Node has no ioctl, so the call goes through koffi (an optional dependency with prebuilt
 * binaries), loaded lazily so that nothing else in the repo needs it. The ioctl is issued
 * synchronously: it blocks the event loop for the duration of one NSM request (typically a few
 * milliseconds; the driver's own timeout is 2 minutes).
 */
import { closeSync, openSync } from 'node:fs';
import { EnclaveError } from '../../common/errors.ts';
import { NsmClient } from './client.ts';
import { NSM_LIMITS, type NsmTransport } from './types.ts';

export const NSM_DEVICE_PATH = '/dev/nsm';
/** _IOWR(0x0A, 0, 32 bytes) = (3 << 30) | (32 << 16) | (0x0A << 8) | 0 */
export const NSM_IOCTL_RAW = 0xc0200a00;
export const NSM_RAW_SIZE = 32;

/** The two iovecs of one ioctl call. Addresses are process virtual addresses. */
export interface NsmRaw {
  requestAddr: bigint;
  requestLen: bigint;
  responseAddr: bigint;
  responseLen: bigint;
}

/** Lays out struct nsm_raw: four little-endian u64s at offsets 0, 8, 16, 24. */
export function encodeNsmRaw(r: NsmRaw): Uint8Array {
  const b = Buffer.alloc(NSM_RAW_SIZE);
  b.writeBigUInt64LE(r.requestAddr, 0);
  b.writeBigUInt64LE(r.requestLen, 8);
  b.writeBigUInt64LE(r.responseAddr, 16);
  b.writeBigUInt64LE(r.responseLen, 24);
  return new Uint8Array(b.buffer, b.byteOffset, b.length);
}

/** Reads struct nsm_raw back (after the call, responseLen is the number of bytes written). */
export function decodeNsmRaw(b: Uint8Array): NsmRaw {
  if (b.length !== NSM_RAW_SIZE) throw new RangeError(`struct nsm_raw is ${NSM_RAW_SIZE} bytes, got ${b.length}`);
  const v = Buffer.from(b.buffer, b.byteOffset, b.length);
  return {
    requestAddr: v.readBigUInt64LE(0),
    requestLen: v.readBigUInt64LE(8),
    responseAddr: v.readBigUInt64LE(16),
    responseLen: v.readBigUInt64LE(24),
  };
}

/** What device.ts needs from koffi; injectable so tests can check the call without a device. */
export interface IoctlFfi {
  /** ioctl(fd, request, arg) → 0 or -1 */
  ioctl(fd: number, request: number, arg: Uint8Array): number;
  /** errno of the last failed call on this thread */
  errno(): number;
  /** the virtual address of a Buffer's first byte */
  address(b: Uint8Array): bigint;
  /** errno name for evidence, e.g. 'ENOTTY' */
  errnoName(n: number): string;
}

/** Loads koffi and binds ioctl from the process's own libc (glibc or musl alike). */
export async function loadKoffiIoctl(): Promise<IoctlFfi> {
  let koffi: typeof import('koffi')['default'];
  try {
    koffi = (await import('koffi')).default;
  } catch (e) {
    throw new EnclaveError(
      'NSM_UNAVAILABLE',
      'the koffi FFI package is not installed; it is needed to issue the NSM ioctl',
      { package: 'koffi' },
      { cause: e },
    );
  }
  let fn: (fd: number, req: number, arg: Uint8Array) => unknown;
  try {
    fn = koffi.load(null).func('int ioctl(int, unsigned long, _Inout_ uint8_t *)');
  } catch (e) {
    throw new EnclaveError(
      'NSM_UNAVAILABLE',
      `koffi cannot bind ioctl from this process's libc: ${(e as Error).message}`,
      { package: 'koffi' },
      { cause: e },
    );
  }
  const names = new Map(Object.entries(koffi.os.errno).map(([k, v]) => [v, k] as const));
  return {
    ioctl: (fd, req, arg) => fn(fd, req, arg) as number,
    errno: () => koffi.errno(),
    address: (b) => koffi.address(b),
    errnoName: (n) => names.get(n) ?? `errno ${n}`,
  };
}

/** Byte-level transport over an open /dev/nsm. Use openDeviceNsm() for the Nsm interface. */
export class DeviceTransport implements NsmTransport {
  private fd: number | null;

  constructor(
    fd: number,
    private readonly ffi: IoctlFfi,
    readonly path: string,
  ) {
    this.fd = fd;
  }

  /** Opens the device read-write. A missing or unopenable device is NSM_UNAVAILABLE. */
  static async open(opts: { path?: string; ffi?: IoctlFfi } = {}): Promise<DeviceTransport> {
    const path = opts.path ?? NSM_DEVICE_PATH;
    let fd: number;
    try {
      fd = openSync(path, 'r+');
    } catch (e) {
      const sys = (e as { code?: string }).code ?? 'unknown';
      throw new EnclaveError(
        'NSM_UNAVAILABLE',
        `cannot open ${path} (${sys}): not inside a Nitro Enclave, or the nsm driver is not loaded`,
        { path, errno: sys },
        { cause: e },
      );
    }
    try {
      return new DeviceTransport(fd, opts.ffi ?? (await loadKoffiIoctl()), path);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  async roundTrip(request: Uint8Array): Promise<Uint8Array> {
    if (this.fd === null) throw new EnclaveError('NSM_UNAVAILABLE', `${this.path} is closed`, { path: this.path });
    if (request.length > NSM_LIMITS.request) {
      throw new EnclaveError(
        'NSM_REQUEST_TOO_LARGE',
        `request is ${request.length} bytes; the driver takes at most ${NSM_LIMITS.request}`,
        { encodedLength: request.length },
      );
    }
    const req = Buffer.from(request); // a private copy whose address stays valid for the call
    const resp = Buffer.alloc(NSM_LIMITS.response);
    const raw = encodeNsmRaw({
      requestAddr: this.ffi.address(req),
      requestLen: BigInt(req.length),
      responseAddr: this.ffi.address(resp),
      responseLen: BigInt(resp.length),
    });
    if (this.ffi.ioctl(this.fd, NSM_IOCTL_RAW, raw) !== 0) {
      const errno = this.ffi.errno();
      throw new EnclaveError(
        'NSM_IOCTL_FAILED',
        `ioctl(${this.path}, 0x${NSM_IOCTL_RAW.toString(16)}) failed: ${this.ffi.errnoName(errno)}`,
        { path: this.path, errno, errnoName: this.ffi.errnoName(errno) },
      );
    }
    const written = decodeNsmRaw(raw).responseLen;
    if (written > BigInt(resp.length)) {
      throw new EnclaveError(
        'NSM_RESPONSE_MALFORMED',
        `the driver reports ${written} response bytes in a ${resp.length}-byte buffer`,
        { written: String(written) },
      );
    }
    return Uint8Array.from(resp.subarray(0, Number(written)));
  }

  async close(): Promise<void> {
    if (this.fd === null) return;
    const fd = this.fd;
    this.fd = null;
    closeSync(fd);
  }
}

/** The real NSM: opens /dev/nsm (or `path`) and returns the Nsm interface over it. */
export async function openDeviceNsm(opts: { path?: string; ffi?: IoctlFfi } = {}): Promise<NsmClient> {
  return new NsmClient(await DeviceTransport.open(opts));
}
