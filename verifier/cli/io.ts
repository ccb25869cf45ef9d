/**
 * The verifier CLI's file and stdin reads (verifier/src does no I/O; these live beside the
 * commands). Every user-named input is read with a byte cap, and a file that cannot be read is
 * one coded I/O error (name IoError, the system's code, the path in the message and evidence),
 * which cli/exit-codes.ts maps to exit 6. Inline input is explicit: `-` means stdin, nothing
 * else is ever taken as the value itself.
 */
import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { VerifierError } from '../index.ts';

export interface IoErrorShape extends Error {
  code: string;
  evidence: Record<string, unknown>;
}

const REASONS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EISDIR: 'is a directory',
  ENOTDIR: 'not a directory, or a parent is not',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EINVAL: 'not a regular file',
};

/** A file the user named could not be read (exit 6 through cli/exit-codes.ts). */
export function ioError(code: string, message: string, evidence: Record<string, unknown>): IoErrorShape {
  const e = new Error(message) as IoErrorShape;
  e.name = 'IoError';
  Object.assign(e, { code, evidence });
  return e;
}

export function fileError(code: string, path: string, what: string): IoErrorShape {
  return ioError(code, `${what} ${path}: ${REASONS[code] ?? code}`, { file: path });
}

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
      throw ioError((e as { code?: string }).code ?? 'EIO', `${what}: cannot read stdin`, { file: '-' });
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

/**
 * An output path's directory must exist: `--out /nonexistent/dir/file` is refused (exit 6, naming
 * the missing directory) rather than creating directories the user did not ask for. The same rule
 * in every command (verifier/cli/kit.ts, `#cli-kit`, holds the other folders' copy); an output DIR itself may be new.
 */
export function requireOutParent(path: string, what = '--out'): void {
  const dir = dirname(resolve(path));
  let st;
  try {
    st = statSync(dir);
  } catch (e) {
    const code = (e as { code?: string }).code ?? 'EIO';
    throw ioError(
      code,
      `${what} ${path}: directory ${dir} ${code === 'ENOENT' ? 'does not exist (create it first)' : `cannot be used (${REASONS[code] ?? code})`}`,
      {
        file: path,
        directory: dir,
      },
    );
  }
  if (!st.isDirectory())
    throw ioError('ENOTDIR', `${what} ${path}: ${dir} is not a directory`, { file: path, directory: dir });
}

/** Stdin can be read once: more than one input named `-` in one command is a usage error. */
export function oneStdin(...inputs: Array<string | string[] | boolean | undefined>): void {
  const n = inputs.flat().filter((a) => a === '-').length;
  if (n > 1) {
    const e = new Error(`only one input can be - (stdin); ${n} were given`);
    e.name = 'UsageError';
    (e as Error & { code: string }).code = 'USAGE';
    throw e;
  }
}
