/**
 * The verifier CLI's flag plumbing: its copy of the Command shape (verifier/ imports nothing
 * internal, so not #cli-kit), the UsageError cli/exit-codes.ts maps to exit 2, strict parsing,
 * and the flags several `keycast verify …` commands share (log, witnesses, hex).
 */
import { X509Certificate } from 'node:crypto';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { MAX_CERTIFICATE_BYTES, fromHex } from '../build.ts';
import { readUserFile, readVkey } from './io.ts';

export interface Command {
  path: string[];
  summary: string;
  help: string;
  run(args: string[]): Promise<number>;
}

export function usageError(message: string): Error {
  const e = new Error(message);
  e.name = 'UsageError';
  (e as Error & { code: string }).code = 'USAGE';
  return e;
}

export type Options = NonNullable<ParseArgsConfig['options']>;
export type Values = Record<string, string | boolean | string[] | boolean[] | undefined>;

/** Option configs made by urlOption: their values must be http(s) URLs (checked by parse). */
const URL_OPTIONS = new WeakSet<object>();

/** A string flag whose value is an http(s) URL: anything else is a usage error at parse time (exit 2). */
export function urlOption<M extends boolean = false>(multiple?: M): { type: 'string'; multiple: M } {
  const o = { type: 'string' as const, multiple: (multiple ?? false) as M };
  URL_OPTIONS.add(o);
  return o;
}

/** `s` as an http(s) URL, or a UsageError naming the flag (a URL without a scheme included). */
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

/** Strict parsing (unknown flags are usage errors); `--json` is always accepted. */
export function parse(args: string[], options: Options, maxPositionals = 0): { v: Values; positionals: string[] } {
  let r: { values: Record<string, unknown>; positionals: string[] };
  try {
    r = parseArgs({
      args,
      options: { ...options, json: { type: 'boolean' } },
      strict: true,
      allowPositionals: maxPositionals > 0,
    });
  } catch (e) {
    throw usageError((e as Error).message);
  }
  if (r.positionals.length > maxPositionals) throw usageError(`unexpected argument ${r.positionals[maxPositionals]}`);
  for (const [name, o] of Object.entries(options)) {
    if (!URL_OPTIONS.has(o)) continue;
    const val = r.values[name];
    for (const s of Array.isArray(val) ? val : val === undefined ? [] : [val]) checkUrl(String(s), name);
  }
  return { v: r.values as Values, positionals: r.positionals };
}

export function str(v: Values, name: string): string | undefined {
  const s = v[name];
  return typeof s === 'string' ? s : undefined;
}

export function need(v: Values, name: string): string {
  const s = str(v, name);
  if (s === undefined || s === '') throw usageError(`--${name} is required`);
  return s;
}

export function list(v: Values, name: string): string[] {
  const s = v[name];
  return Array.isArray(s) ? (s as string[]) : [];
}

export function hexArg(flag: string, v: string, len?: number): Uint8Array {
  try {
    const b = fromHex(v);
    if (len === undefined || b.length === len) return b;
  } catch {
    /* fall through */
  }
  throw usageError(`${flag}: expected ${len === undefined ? '' : `${len} bytes of `}hex`);
}

export function positiveInt(s: string | undefined, name: string, dflt: number): number {
  if (s === undefined) return dflt;
  if (!/^[1-9][0-9]{0,9}$/.test(s)) throw usageError(`--${name} must be a positive integer`);
  return Number(s);
}

export interface WitnessFlags {
  vkeys: string[];
  threshold: number;
  maxAgeSeconds: number;
}

export const WITNESS_HELP = `  --witness VKEY        the checkpoint must be cosigned (cosignature/v1) by this witness (vkey or
                        a file holding it); repeatable
  --witness-threshold K how many of the --witness keys must cosign (default: all of them)
  --max-checkpoint-age SECONDS
                        the freshest required cosignature must be at most this old (default 3600):
                        a log cannot keep showing you an old view of itself`;

/** --witness/--witness-threshold/--max-checkpoint-age: the checkpoint must be cosigned, and recently. */
export function witnessFlags(v: {
  witness?: string[];
  'witness-threshold'?: string;
  'max-checkpoint-age'?: string;
}): WitnessFlags | null {
  const vkeys = (v.witness ?? []).map((s) => readVkey(s, '--witness'));
  if (vkeys.length === 0) {
    if (v['witness-threshold'] !== undefined || v['max-checkpoint-age'] !== undefined)
      throw usageError('--witness-threshold and --max-checkpoint-age need --witness');
    return null;
  }
  const threshold = positiveInt(v['witness-threshold'], 'witness-threshold', vkeys.length);
  if (threshold > vkeys.length)
    throw usageError(`--witness-threshold ${threshold} exceeds the ${vkeys.length} witnesses given`);
  return { vkeys, threshold, maxAgeSeconds: positiveInt(v['max-checkpoint-age'], 'max-checkpoint-age', 3600) };
}

/** --trust-root FILE: a PEM or DER certificate to trust INSTEAD of the AWS root (test PKIs). */
export function readRoot(file: string): Uint8Array {
  const bytes = readUserFile(file, MAX_CERTIFICATE_BYTES * 2, '--trust-root');
  try {
    return new Uint8Array(new X509Certificate(bytes).raw);
  } catch {
    throw usageError(`--trust-root ${file}: not a PEM or DER certificate`);
  }
}
