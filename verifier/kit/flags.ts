/**
 * The one command-line kit (as `#flag-kit`; verifier/cli/ imports it relatively): the Command
 * shape, strict flag parsing that always accepts --json, flag readers, the UsageError the CLI maps
 * to exit 2, and the I/O error it maps to exit 6. Shell plumbing only — no trust decisions live
 * here. It sits on the ground floor (verifier/ imports nothing internal, and every folder may
 * import it), so builder/, log-server/, enclave/, cli/ and the verifier's own commands share it
 * without reaching up into cli/.
 */
import { statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';

export interface Command {
  /** Words after `keycast`, e.g. ['log', 'init']. */
  path: string[];
  /** One line for `keycast --help`. */
  summary: string;
  /** Full help text for `keycast <path> --help`. */
  help: string;
  /** Runs the command; resolves to an exit code. Throws coded errors (mapped by exit-codes.ts). */
  run(args: string[]): Promise<number>;
}

/** Bad flags or arguments: exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  readonly code = 'USAGE';
}

export function usageError(message: string): UsageError {
  return new UsageError(message);
}

export type FlagOptions = NonNullable<ParseArgsConfig['options']>;
export type Flags = Record<string, string | boolean | string[] | boolean[] | undefined>;

/** Option configs made by urlOption: their values must be http(s) URLs (checked by parseFlags). */
const URL_OPTIONS = new WeakSet<object>();

/** A string flag whose value is an http(s) URL: anything else is a usage error at parse time (exit 2). */
export function urlOption<M extends boolean = false>(multiple?: M): { type: 'string'; multiple: M } {
  const o = { type: 'string' as const, multiple: (multiple ?? false) as M };
  URL_OPTIONS.add(o);
  return o;
}

/**
 * `s` as an http(s) URL, or a UsageError naming the flag (a URL without a scheme included).
 * `flag` is a flag's name (`log` → `--log`) or an argument's own spelling (`-x`, `HOST_URL`).
 */
export function checkUrl(s: string, flag: string): URL {
  let u: URL | undefined;
  try {
    u = new URL(s);
  } catch {
    u = undefined;
  }
  if (u === undefined || (u.protocol !== 'http:' && u.protocol !== 'https:') || u.hostname === '')
    throw usageError(
      `${flag.startsWith('-') || flag === 'HOST_URL' ? flag : `--${flag}`} ${JSON.stringify(s)} is not an http:// or https:// URL`,
    );
  return u;
}

/**
 * Strict parsing (unknown flags are usage errors); `--json` is always accepted. `positionals` is
 * how many positional arguments are allowed: at most N (default none; more is "unexpected
 * argument X"), `{ exactly: N }` (anything else is "expected N argument(s), got M"), or
 * `{ any: true }` for a command that counts them itself.
 */
export function parseFlags(
  args: string[],
  options: FlagOptions,
  positionals: number | { exactly: number } | { any: true } = 0,
): { values: Flags; positionals: string[] } {
  const max = typeof positionals === 'number' ? positionals : 'exactly' in positionals ? positionals.exactly : Infinity;
  let r: { values: Record<string, unknown>; positionals: string[] };
  try {
    r = parseArgs({
      args,
      options: { ...options, json: { type: 'boolean' } },
      strict: true,
      allowPositionals: typeof positionals !== 'number' || positionals > 0,
    });
  } catch (e) {
    throw usageError((e as Error).message);
  }
  if (typeof positionals === 'object' && 'exactly' in positionals) {
    if (r.positionals.length !== max) throw usageError(`expected ${max} argument(s), got ${r.positionals.length}`);
  } else if (r.positionals.length > max) throw usageError(`unexpected argument ${r.positionals[max]}`);
  for (const [name, o] of Object.entries(options)) {
    if (!URL_OPTIONS.has(o)) continue;
    const val = r.values[name];
    for (const s of Array.isArray(val) ? val : val === undefined ? [] : [val]) checkUrl(String(s), name);
  }
  return { values: r.values as Flags, positionals: r.positionals };
}

/** The value of a string flag, if given. */
export function stringFlag(values: Record<string, unknown>, name: string): string | undefined {
  const s = values[name];
  return typeof s === 'string' ? s : undefined;
}

/** The value of a required string flag. */
export function requireFlag(values: Record<string, unknown>, name: string): string {
  const s = values[name];
  if (typeof s !== 'string' || s === '') throw usageError(`--${name} is required`);
  return s;
}

/** The values of a repeatable string flag (none: empty). */
export function listFlag(values: Record<string, unknown>, name: string): string[] {
  const s = values[name];
  return Array.isArray(s) ? (s as string[]) : [];
}

/** A positive integer flag's value (1 to 10 digits, no sign or leading zero), or `dflt` when absent. */
export function positiveInt(s: unknown, name: string, dflt: number): number {
  if (s === undefined) return dflt;
  if (typeof s !== 'string' || !/^[1-9][0-9]{0,9}$/.test(s)) throw usageError(`--${name} must be a positive integer`);
  return Number(s);
}

/** Stdin can be read once: more than one input named `-` in one command is a usage error. */
export function oneStdin(...inputs: Array<string | string[] | boolean | undefined>): void {
  const n = inputs.flat().filter((a) => a === '-').length;
  if (n > 1) throw usageError(`only one input can be - (stdin); ${n} were given`);
}

/** `HOST:PORT` (IPv6 hosts in brackets) for --listen. */
export function hostPort(s: string, flag = 'listen'): { host: string; port: number } {
  const m = /^(.*):(\d{1,5})$/.exec(s);
  if (!m || Number(m[2]) > 65535) throw usageError(`--${flag} must be HOST:PORT`);
  return { host: m[1]!.replace(/^\[(.*)\]$/, '$1'), port: Number(m[2]) };
}

/**
 * A file or peer the user named could not be read (exit 6): `code` is the system's (ENOENT,
 * EISDIR, EACCES, ECONNREFUSED, …) and the evidence names the file. The one I/O error every
 * command reports, whichever folder's code hit it.
 */
export class IoError extends Error {
  override readonly name = 'IoError';
  constructor(
    readonly code: string,
    message: string,
    readonly evidence: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

const REASONS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EISDIR: 'is a directory',
  ENOTDIR: 'not a directory, or a parent is not',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EINVAL: 'not a regular file',
  ELOOP: 'too many symbolic links',
  ENAMETOOLONG: 'name too long',
};

/** The IoError for a failed file read of `path` (a Node system error code). */
export function fileError(code: string, path: string, what = 'file'): IoError {
  return new IoError(code, `${what} ${path}: ${REASONS[code] ?? code}`, { file: path });
}

/**
 * An output path's directory must exist: `--out /nonexistent/dir/file` is refused (exit 6, naming
 * the missing directory) rather than creating directories the user did not ask for. The same rule
 * in every command; an output DIR itself may be new.
 */
export function requireOutParent(path: string, what = '--out'): void {
  const dir = dirname(resolve(path));
  let st;
  try {
    st = statSync(dir);
  } catch (e) {
    const code = (e as { code?: string }).code ?? 'EIO';
    throw new IoError(
      code,
      `${what} ${path}: directory ${dir} ${code === 'ENOENT' ? 'does not exist (create it first)' : `cannot be used (${REASONS[code] ?? code})`}`,
      { file: path, directory: dir },
    );
  }
  if (!st.isDirectory())
    throw new IoError('ENOTDIR', `${what} ${path}: ${dir} is not a directory`, { file: path, directory: dir });
}
