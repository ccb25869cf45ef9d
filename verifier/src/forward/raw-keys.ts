/**
 * The `keycast-raw-keys/v1` frame both raw formats share (raw-hpke.ts, raw-rsa-oaep.ts): a JSON
 * object naming its format and encryption, the recipient, CPL and window as strings, the format's
 * own string fields, and 1..16 keys of { id, type, ciphertext }. Parsing the frame is one strict
 * step for both readers: bounded size, exact fields, every header field a string. Throws
 * RAW_DELIVERY_MALFORMED, prefixed with the format's name.
 */
import { VerifierError } from '../errors.ts';
import { exactKeys, isObject, parseJsonStrict } from '../encoding/canonical-json.ts';
import { MAX_CONTENT_KEYS } from './sealed-keys.ts';

export const RAW_KEYS_FORMAT = 'keycast-raw-keys/v1';
export const MAX_RAW_DELIVERY_BYTES = 256 * 1024;

export interface RawKeysFrame {
  recipient: string;
  cplId: string;
  notBefore: string;
  notAfter: string;
  keys: Array<{ id: string; type: string; ciphertext: string }>;
  /** the format's own header fields, as strings */
  extra: Record<string, string>;
}

export function rawMalformed(name: string, m: string, cause?: unknown): never {
  throw new VerifierError('RAW_DELIVERY_MALFORMED', `${name} delivery: ${m}`, {}, cause ? { cause } : undefined);
}

/** Parses the frame of a raw delivery of format `name` whose "encryption" must be `encryption`. */
export function parseRawKeysFrame(
  bytes: Uint8Array | string,
  name: string,
  encryption: string,
  extraFields: readonly string[] = [],
): RawKeysFrame {
  let o: unknown;
  try {
    o = parseJsonStrict(bytes, MAX_RAW_DELIVERY_BYTES, `${name} delivery`);
  } catch (e) {
    rawMalformed(name, 'not JSON', e);
  }
  if (!isObject(o)) return rawMalformed(name, 'not a JSON object');
  const header = ['recipient', 'cplId', 'notBefore', 'notAfter', ...extraFields];
  try {
    exactKeys(o, ['format', 'encryption', ...header, 'keys'], [], name);
  } catch (e) {
    rawMalformed(name, (e as Error).message, e);
  }
  if (o.format !== RAW_KEYS_FORMAT || o.encryption !== encryption)
    rawMalformed(name, `format must be ${RAW_KEYS_FORMAT} with ${encryption}`);
  for (const f of header) if (typeof o[f] !== 'string') rawMalformed(name, `${f} must be a string`);
  const keys = o.keys;
  if (!Array.isArray(keys) || keys.length === 0 || keys.length > MAX_CONTENT_KEYS)
    return rawMalformed(name, `keys must be a list of 1..${MAX_CONTENT_KEYS}`);
  for (const k of keys)
    if (!isObject(k) || typeof k.id !== 'string' || typeof k.type !== 'string' || typeof k.ciphertext !== 'string')
      rawMalformed(name, 'each key needs id, type and ciphertext strings');
  return {
    recipient: o.recipient as string,
    cplId: o.cplId as string,
    notBefore: o.notBefore as string,
    notAfter: o.notAfter as string,
    keys: keys as RawKeysFrame['keys'],
    extra: Object.fromEntries(extraFields.map((f) => [f, o[f] as string])),
  };
}
