/**
 * The verifier CLI's file and stdin reads (verifier/src does no I/O; these live beside the
 * commands). Every user-named input is read with a byte cap, and a file that cannot be read is
 * one coded I/O error (name IoError, the system's code, the path in the message and evidence),
 * which cli/exit-codes.ts maps to exit 6. Inline input is explicit: `-` means stdin, nothing
 * else is ever taken as the value itself.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { VerifierError } from '../index.ts';
import { IoError, fileError } from '../kit/flags.ts';

function readCapped(fd: number, limit: number, what: string, path: string): Uint8Array {
  const buf = new Uint8Array(limit + 1);
  let n = 0;
  for (let r; n < buf.length && (r = readSync(fd, buf, n, buf.length - n, null)) > 0; ) n += r;
  if (n > limit)
    throw new VerifierError('OVERSIZED', `${what} ${path} is more than the ${limit} bytes allowed`, {
      file: path,
      limit,
    });
  return buf.subarray(0, n);
}

/**
 * Reads a user-named file of at most `limit` bytes. The size is checked with fstat on the open
 * descriptor before anything is read, and the read itself stops at limit + 1 bytes (a file that
 * grows in between is still refused), so a huge file costs no memory. A directory or any
 * other non-regular file is a coded I/O error, never a stack trace.
 */
export function readUserFile(path: string, limit: number, what: string): Uint8Array {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw fileError((e as { code?: string }).code ?? 'EIO', path, what);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw fileError(st.isDirectory() ? 'EISDIR' : 'EINVAL', path, what);
    if (st.size > limit)
      throw new VerifierError('OVERSIZED', `${what} ${path} is ${st.size} bytes, more than the ${limit} allowed`, {
        file: path,
        size: st.size,
        limit,
      });
    return readCapped(fd, limit, what, path);
  } finally {
    closeSync(fd);
  }
}

/** `-` reads stdin (capped), anything else is a file path. */
export function readInput(arg: string, limit: number, what: string): Uint8Array {
  if (arg === '-') {
    try {
      return readCapped(0, limit, what, '(stdin)');
    } catch (e) {
      if (e instanceof VerifierError) throw e;
      throw new IoError((e as { code?: string }).code ?? 'EIO', `${what}: cannot read stdin`, { file: '-' });
    }
  }
  return readUserFile(arg, limit, what);
}

export const MAX_KEY_FILE_BYTES = 4096;

/**
 * A note verifier key: the vkey itself when the argument has a vkey's shape
 * (name+8 hex+base64; a malformed one is then refused as KEY_MALFORMED by its parser),
 * else a file holding one, which must exist and be readable.
 */
export function readVkey(s: string, what = 'key file'): string {
  if (/^[^+\s]+\+[0-9a-fA-F]{8}\+[A-Za-z0-9+/]+=*$/.test(s)) return s;
  return new TextDecoder().decode(readInput(s, MAX_KEY_FILE_BYTES, what)).trim();
}
