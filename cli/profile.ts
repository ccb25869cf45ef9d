/**
 * `--profile FILE` (or `KEYCAST_PROFILE=FILE`): a studio pins the log it trusts once — its URL, its
 * key, the witnesses and the release publishers — instead of repeating `--log --log-key --witness
 * --publisher` on every call. The profile is JSON with exactly those flag names as keys:
 *
 *   { "log": "https://log.example.com/keycast", "log-key": "LOG_VKEY or a file",
 *     "witness": ["W_VKEY or a file", …], "publisher": ["release.pem.pub", …] }
 *
 * Relative file paths are relative to the profile's directory. A flag given on the command line
 * wins over the profile's (for the repeatable ones, the command line's list replaces the
 * profile's). Each command takes only the flags it has: `endorse` takes the log and its key,
 * `verify attestation` no publisher. This is argument plumbing only: the flags then go through
 * the command's own parsing and checks, exactly as if typed.
 */
import { dirname, isAbsolute, join } from 'node:path';
import { readFileSync } from 'node:fs';
import { fileError, usageError } from '#flag-kit';

const ALL = ['log', 'log-key', 'witness', 'publisher'] as const;
type ProfileFlag = (typeof ALL)[number];

/** The studio commands a profile applies to, and which of its flags each takes. */
export const PROFILE_COMMANDS: Readonly<Record<string, readonly ProfileFlag[]>> = {
  'verify release': ALL,
  'verify enclave': ALL,
  'verify rebuild': ALL,
  monitor: ALL,
  'verify attestation': ['log', 'log-key', 'witness'],
  'kms-policy': ['log', 'log-key', 'witness'],
  endorse: ['log', 'log-key'],
};

const MAX_PROFILE_BYTES = 256 * 1024;
const VKEY = /^[^+\s]+\+[0-9a-fA-F]{8}\+[A-Za-z0-9+/]+=*$/;

export type Profile = Partial<Record<ProfileFlag, string[]>>;

/** Reads and checks a profile file (unknown keys and wrong types are usage errors; a missing file is exit 6). */
export function readProfile(file: string): Profile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw fileError((e as { code?: string }).code ?? 'EIO', file, '--profile');
  }
  if (text.length > MAX_PROFILE_BYTES) throw usageError(`--profile ${file} is larger than ${MAX_PROFILE_BYTES} bytes`);
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch (e) {
    throw usageError(`--profile ${file} is not JSON: ${(e as Error).message}`);
  }
  if (typeof j !== 'object' || j === null || Array.isArray(j))
    throw usageError(`--profile ${file} must be a JSON object`);
  const base = dirname(file);
  const path = (s: string) => (s === '-' || isAbsolute(s) ? s : join(base, s));
  const out: Profile = {};
  for (const [k, v] of Object.entries(j)) {
    if (!(ALL as readonly string[]).includes(k))
      throw usageError(`--profile ${file}: unknown key ${JSON.stringify(k)} (a profile holds ${ALL.join(', ')})`);
    const list = Array.isArray(v) ? v : [v];
    if (list.length === 0 || list.some((x) => typeof x !== 'string' || x === ''))
      throw usageError(
        `--profile ${file}: ${k} must be a non-empty string${k === 'witness' || k === 'publisher' ? ' or list of them' : ''}`,
      );
    if (list.length > 1 && (k === 'log' || k === 'log-key'))
      throw usageError(`--profile ${file}: ${k} takes one value`);
    const flag = k as ProfileFlag;
    out[flag] = (list as string[]).map((s) =>
      flag === 'log' ? s : flag === 'publisher' ? path(s) : VKEY.test(s) ? s : path(s),
    );
  }
  return out;
}

const given = (args: string[], flag: string) => args.some((a) => a === `--${flag}` || a.startsWith(`--${flag}=`));

/**
 * `args` with `--profile FILE` taken out and the profile's flags (from --profile, else
 * `env.KEYCAST_PROFILE`) added wherever the command line does not give them. Commands that take
 * no profile get their arguments back unchanged, and `--profile` on them is a usage error.
 */
export function applyProfile(path: string[], args: string[], env: NodeJS.ProcessEnv = process.env): string[] {
  const rest: string[] = [];
  let file: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') {
      rest.push(...args.slice(i));
      break;
    }
    if (a === '--profile') {
      file = args[++i];
      if (file === undefined || file.startsWith('--')) throw usageError('--profile needs a FILE');
    } else if (a.startsWith('--profile=')) file = a.slice('--profile='.length);
    else rest.push(a);
  }
  const flags = PROFILE_COMMANDS[path.join(' ')];
  if (!flags) {
    if (file !== undefined) throw usageError(`keycast ${path.join(' ')} takes no --profile`);
    return args;
  }
  file ??= env.KEYCAST_PROFILE || undefined;
  if (file === undefined) return rest;
  const profile = readProfile(file);
  const added: string[] = [];
  for (const f of flags) {
    if (given(rest, f)) continue;
    for (const value of profile[f] ?? []) added.push(`--${f}`, value);
  }
  const end = rest.indexOf('--');
  return end < 0 ? [...rest, ...added] : [...rest.slice(0, end), ...added, ...rest.slice(end)];
}
