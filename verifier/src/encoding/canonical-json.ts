/**
 * Canonical JSON in the style of RFC 8785 (JCS) for the values release entries contain:
 * objects with keys sorted by UTF-16 code units, arrays, strings (serialized exactly as
 * ECMAScript JSON.stringify does, which is what JCS specifies), booleans, null and safe
 * integers. Non-integer numbers are refused rather than approximated: no field of a release
 * entry is fractional, and refusing them keeps "same value ⇒ same bytes" trivially true.
 *
 * Also a bounded JSON parser: size-limited, refuses duplicate object keys (which JSON.parse
 * would silently resolve, letting two byte strings mean the same thing).
 */
import { VerifierError } from '../errors.ts';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Canonical JSON text of `v`. Throws RELEASE_MALFORMED on values JCS cannot carry here. */
export function canonicalize(v: unknown): string {
  if (v === null || typeof v === 'boolean') return JSON.stringify(v);
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v))
      throw new VerifierError('RELEASE_MALFORMED', 'only safe integers are allowed in canonical JSON', {
        value: String(v),
      });
    return String(v);
  }
  if (Array.isArray(v)) return `[${v.map(canonicalize).join(',')}]`;
  if (typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonicalize(x)}`).join(',')}}`;
  }
  throw new VerifierError('RELEASE_MALFORMED', `value of type ${typeof v} cannot be canonicalized`);
}

/**
 * Parses JSON text of at most `maxBytes` UTF-8 bytes. Throws OVERSIZED when larger and
 * RELEASE_MALFORMED when it is not well-formed UTF-8 JSON, starts with a byte-order mark
 * (JSON forbids it; strict in-toto parsers refuse it, so a statement one reader accepts and
 * another refuses must not be logged), nests deeper than MAX_JSON_DEPTH, or repeats a key
 * within one object.
 */
// ignoreBOM keeps a leading U+FEFF in the text (the default silently drops it), so it is refused below.
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function parseJsonStrict(text: string | Uint8Array, maxBytes: number, what: string): unknown {
  const size = typeof text === 'string' ? Buffer.byteLength(text, 'utf8') : text.byteLength;
  if (size > maxBytes)
    throw new VerifierError('OVERSIZED', `${what} is ${size} bytes, over the ${maxBytes}-byte limit`, {
      size,
      limit: maxBytes,
    });
  let value: unknown;
  let s: string;
  try {
    s = typeof text === 'string' ? text : STRICT_UTF8.decode(text);
  } catch (e) {
    throw new VerifierError('RELEASE_MALFORMED', `${what} is not well-formed UTF-8`, {}, { cause: e });
  }
  if (s.charCodeAt(0) === 0xfeff) throw new VerifierError('RELEASE_MALFORMED', `${what} starts with a byte-order mark`);
  try {
    value = JSON.parse(s);
  } catch (e) {
    throw new VerifierError('RELEASE_MALFORMED', `${what} is not UTF-8 JSON`, {}, { cause: e });
  }
  const shape = jsonStructure(s);
  if (shape.tooDeep)
    throw new VerifierError('RELEASE_MALFORMED', `${what} nests deeper than ${MAX_JSON_DEPTH} levels`, {
      limit: MAX_JSON_DEPTH,
    });
  if (shape.duplicateKey !== undefined)
    throw new VerifierError('RELEASE_MALFORMED', `${what} repeats a key within one object`);
  return value;
}

/**
 * The deepest nesting of arrays and objects accepted: serde_json's (its recursion limit of 128
 * refuses the 128th level), so nitro-cli and Keycast refuse the same metadata; no Keycast JSON
 * comes near it.
 */
export const MAX_JSON_DEPTH = 127;

/**
 * One iterative pass over the JSON text `s`: whether arrays and objects nest deeper than
 * `maxDepth`, and the first key some object names twice (keys compared decoded: "\u0061" and
 * "a" are the same key). `s` must be valid JSON (JSON.parse it first: V8's parser is
 * iterative, so deep input parses; it is the recursive consumers after it — JSON.stringify,
 * canonical re-encoding — that overflow the stack, which this check keeps them from seeing).
 */
export function jsonStructure(s: string, maxDepth = MAX_JSON_DEPTH): { tooDeep: boolean; duplicateKey?: string } {
  const stack: Array<Set<string> | null> = [];
  let expectKey = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22 /* " */) {
      let j = i + 1;
      let escaped = false;
      for (let d = s.charCodeAt(j); d !== 0x22 && j < s.length; d = s.charCodeAt(j)) {
        if (d === 0x5c /* \ */) {
          escaped = true;
          j += 2;
        } else j++;
      }
      const top = stack[stack.length - 1];
      if (expectKey && top) {
        const key = escaped ? (JSON.parse(s.slice(i, j + 1)) as string) : s.slice(i + 1, j);
        if (top.has(key)) return { tooDeep: false, duplicateKey: key };
        top.add(key);
        expectKey = false;
      }
      i = j;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (stack.length >= maxDepth) return { tooDeep: true };
      stack.push(c === 0x7b ? new Set() : null);
      expectKey = c === 0x7b;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
      expectKey = false;
    } else if (c === 0x2c /* , */) expectKey = stack[stack.length - 1] instanceof Set;
  }
  return { tooDeep: false };
}

/** A plain object (not null, not an array). */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Throws `code` unless `o` has exactly the `required` keys plus any of `optional`. */
export function exactKeys(
  o: Record<string, unknown>,
  required: string[],
  optional: string[],
  where: string,
  code: 'RELEASE_MALFORMED' | 'PREDICATE_INVALID' = 'RELEASE_MALFORMED',
): void {
  for (const k of required)
    if (!(k in o)) throw new VerifierError(code, `${where}: missing field ${k}`, { field: `${where}.${k}` });
  for (const k of Object.keys(o)) {
    if (!required.includes(k) && !optional.includes(k))
      throw new VerifierError(code, `${where}: unknown field ${k}`, { field: `${where}.${k}` });
  }
}
