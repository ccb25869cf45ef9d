/**
 * Pinned-input checks: stream each file through SHA-256 (never loaded whole) and compare
 * with the lock. A mismatch refuses with the input's name, path, expected and actual digest
 * (INPUT_DIGEST_MISMATCH); a missing file is INPUT_MISSING.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { isAbsolute, resolve } from 'node:path';
import { BuilderError } from './errors.ts';

export function resolveInput(lockDir: string, p: string): string {
  return isAbsolute(p) ? p : resolve(lockDir, p);
}

export async function fileSha256(path: string): Promise<{ sha256: string; size: number }> {
  const st = await stat(path).catch((e) => {
    throw new BuilderError('INPUT_MISSING', `input not found: ${path}`, { path }, { cause: e });
  });
  // caused by a system-style error naming the path, so the CLI reports it as its one I/O error (exit 6)
  if (!st.isFile()) {
    const code = st.isDirectory() ? 'EISDIR' : 'EINVAL';
    const cause = Object.assign(new Error(`${code}: not a regular file, '${path}'`), { code, path });
    throw new BuilderError('INPUT_UNREADABLE', `input is not a regular file: ${path}`, { path }, { cause });
  }
  const h = createHash('sha256');
  let size = 0;
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(4 << 20);
    for (let n; (n = readSync(fd, buf, 0, buf.length, size)) > 0; size += n) h.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return { sha256: h.digest('hex'), size };
}

/** Throws INPUT_DIGEST_MISMATCH unless `actual` equals `expected` (when one is pinned). */
export function checkDigest(input: string, path: string, expected: string | undefined, actual: string): void {
  if (expected !== undefined && expected !== actual) {
    throw new BuilderError('INPUT_DIGEST_MISMATCH', `${input} ${path}: sha256 ${actual}, lock pins ${expected}`, {
      input,
      path,
      expected,
      actual,
    });
  }
}

/** nitro-cli's OperatingSystem/KernelVersion from line 3 of the kernel config (identity.rs:31,37). */
export function kernelIdentity(config: string): { os: string; kernel: string } {
  const line = config.split('\n')[2] ?? '';
  const words = line.split(/[ /-]/);
  return { os: words[1] ?? 'OS', kernel: words[3] ?? 'kernel' };
}
