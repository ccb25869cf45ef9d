/**
 * Reading a private key file (the log's and the witness's note keys) under the verifier's
 * secret-file policy: mode checked on the open descriptor before the content is read.
 */
import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { secretFileModeProblem, secretFileText } from '#verifier/build';
import { LogError } from './errors.ts';

/**
 * The trimmed key text of `path`; DATA_MISSING if it cannot be opened (caused by the system error,
 * which the CLI reports as its I/O error, exit 6), KEY_INVALID if exposed or not text.
 */
export function readSecretFile(path: string, what: string): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new LogError(
      'DATA_MISSING',
      `cannot read the ${what} ${path}`,
      { path, errno: (e as NodeJS.ErrnoException).code },
      { cause: e },
    );
  }
  try {
    const mode = fstatSync(fd).mode;
    const problem = secretFileModeProblem(mode);
    if (problem) throw new LogError('KEY_INVALID', `${what} ${path} is ${problem}`, { path, mode: mode & 0o777 });
    const text = secretFileText(readFileSync(fd));
    if (text === null) throw new LogError('KEY_INVALID', `${what} ${path} is empty or not UTF-8 text`, { path });
    return text;
  } finally {
    closeSync(fd);
  }
}
