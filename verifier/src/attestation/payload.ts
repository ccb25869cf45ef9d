/**
 * The Nitro attestation document payload (aws-nitro-enclaves-nsm-api src/api/mod.rs
 * `AttestationDoc`, docs/attestation_process.md §2.2; notes/nitro.md §3.2): a CBOR map of
 * exactly nine keys in this order — module_id, digest, timestamp, pcrs, certificate, cabundle,
 * public_key, user_data, nonce — with the timestamp always in 8-byte form, PCR keys ascending,
 * and public_key/user_data/nonce null or a byte string of 0..1024 bytes (null ≠ empty).
 *
 * Decoding: the strict CBOR codec (encoding/cbor.ts: shortest heads except the 8-byte
 * timestamp, no duplicate keys, no tags or floats), then type/size checks, then a byte
 * comparison with our own canonical encoding, so there is exactly one accepted spelling of
 * every payload (no reordered maps, no timestamp in another width).
 * Pure; throws VerifierError ATTESTATION_MALFORMED with the failing field.
 */
import { VerifierError } from '../errors.ts';
import { WideUint, decodeCbor, encodeCbor, type CborValue } from '../encoding/cbor.ts';

/** Bytes in a Nitro PCR (SHA-384): attestation documents, EIF measurements and the NSM alike. */
export const PCR_BYTES = 48;
export const MAX_PCR_INDEX = 31;
/** PCRs 0..15 are locked at boot, so every genuine document carries them (NSM nsm-check). */
export const BOOT_LOCKED_PCRS = 16;
export const MAX_OPTIONAL_BYTES = 1024;
export const MAX_CERT_BYTES = 1024;
export const MAX_CABUNDLE = 8;
const MAX_MODULE_ID = 128;

export interface AttestationPayload {
  moduleId: string;
  digest: 'SHA384';
  /** ms since the Unix epoch */
  timestamp: number;
  /** locked PCRs, index → 48 bytes, ascending */
  pcrs: Map<number, Uint8Array>;
  /** the per-document leaf certificate (DER) */
  certificate: Uint8Array;
  /** [root, intermediates…] (DER), root first */
  cabundle: Uint8Array[];
  publicKey: Uint8Array | null;
  userData: Uint8Array | null;
  nonce: Uint8Array | null;
}

const KEYS = [
  'module_id',
  'digest',
  'timestamp',
  'pcrs',
  'certificate',
  'cabundle',
  'public_key',
  'user_data',
  'nonce',
] as const;

/** The exact bytes the NSM emits for these fields. Throws RangeError on out-of-profile input. */
export function encodeAttestationPayload(p: AttestationPayload): Uint8Array {
  checkFields(p, (field, reason) => {
    throw new RangeError(`encodeAttestationPayload: ${field}: ${reason}`);
  });
  const pcrs = [...p.pcrs.entries()].sort((a, b) => a[0] - b[0]);
  return encodeCbor(
    new Map<string, CborValue>([
      ['module_id', p.moduleId],
      ['digest', p.digest],
      ['timestamp', new WideUint(p.timestamp, 8)],
      ['pcrs', new Map(pcrs)],
      ['certificate', p.certificate],
      ['cabundle', p.cabundle],
      ['public_key', p.publicKey],
      ['user_data', p.userData],
      ['nonce', p.nonce],
    ]),
  );
}

function malformed(field: string, reason: string): never {
  throw new VerifierError('ATTESTATION_MALFORMED', `attestation payload: ${field}: ${reason}`, { field, reason });
}

/** Decodes and strictly checks a payload. */
export function decodeAttestationPayload(bytes: Uint8Array): AttestationPayload {
  const m = decodeCbor(bytes, { code: 'ATTESTATION_MALFORMED', maxDepth: 3, wideUints: true });
  if (!(m instanceof Map)) malformed('payload', 'not a map');
  if (m.size !== KEYS.length) malformed('payload', `expected ${KEYS.length} keys, got ${m.size}`);
  for (const k of KEYS) if (!m.has(k)) malformed(k, 'missing');
  const p: AttestationPayload = {
    moduleId: m.get('module_id') as string,
    digest: m.get('digest') as 'SHA384',
    timestamp: integer(m.get('timestamp')),
    pcrs: pcrMap(m.get('pcrs')),
    certificate: bytesOf(m.get('certificate'), 'certificate'),
    cabundle: cabundle(m.get('cabundle')),
    publicKey: nullable(m.get('public_key'), 'public_key'),
    userData: nullable(m.get('user_data'), 'user_data'),
    nonce: nullable(m.get('nonce'), 'nonce'),
  };
  checkFields(p, malformed);
  const canonical = encodeAttestationPayload(p);
  if (Buffer.compare(canonical, bytes) !== 0)
    malformed('payload', 'not in the canonical NSM encoding (key order or timestamp width differ)');
  return p;
}

/** The timestamp: an unsigned integer, in 8 bytes even when small (the re-encoding checks the width). */
function integer(v: unknown): number {
  if (v instanceof WideUint) return v.value;
  return typeof v === 'number' ? v : malformed('timestamp', 'must be an unsigned integer');
}

function bytesOf(v: unknown, field: string): Uint8Array {
  if (!(v instanceof Uint8Array)) malformed(field, 'must be a byte string');
  return v; // the codec hands out copies
}

function nullable(v: unknown, field: string): Uint8Array | null {
  return v === null ? null : bytesOf(v, field);
}

function pcrMap(v: unknown): Map<number, Uint8Array> {
  if (!(v instanceof Map)) malformed('pcrs', 'must be a map');
  const out = new Map<number, Uint8Array>();
  for (const [k, val] of v) {
    if (typeof k !== 'number') malformed('pcrs', 'keys must be unsigned integers');
    out.set(k, bytesOf(val, `pcrs[${k}]`));
  }
  return out;
}

function cabundle(v: unknown): Uint8Array[] {
  if (!Array.isArray(v)) malformed('cabundle', 'must be an array');
  return v.map((c, i) => bytesOf(c, `cabundle[${i}]`));
}

type Fail = (field: string, reason: string) => never;

function checkFields(p: AttestationPayload, fail: Fail): void {
  if (typeof p.moduleId !== 'string' || !/^[\x21-\x7e]+$/.test(p.moduleId) || p.moduleId.length > MAX_MODULE_ID)
    fail('module_id', `must be 1..${MAX_MODULE_ID} printable ASCII characters`);
  if (p.digest !== 'SHA384') fail('digest', 'must be "SHA384"');
  if (!Number.isSafeInteger(p.timestamp) || p.timestamp <= 0) fail('timestamp', 'must be a positive integer (ms)');
  if (!(p.pcrs instanceof Map) || p.pcrs.size > MAX_PCR_INDEX + 1)
    fail('pcrs', `must be a map of at most ${MAX_PCR_INDEX + 1} entries`);
  let last = -1;
  for (const [i, v] of p.pcrs) {
    if (!Number.isInteger(i) || i < 0 || i > MAX_PCR_INDEX) fail('pcrs', `index ${i} out of 0..${MAX_PCR_INDEX}`);
    if (i <= last) fail('pcrs', 'indexes must be ascending');
    last = i;
    if (!(v instanceof Uint8Array) || v.length !== PCR_BYTES)
      fail(`pcrs[${i}]`, `must be ${PCR_BYTES} bytes for SHA384`);
  }
  for (let i = 0; i < BOOT_LOCKED_PCRS; i++)
    if (!p.pcrs.has(i)) fail(`pcrs[${i}]`, 'missing (PCRs 0..15 are always present)');
  sized(p.certificate, 'certificate', 1, MAX_CERT_BYTES, fail);
  if (!Array.isArray(p.cabundle) || p.cabundle.length < 1 || p.cabundle.length > MAX_CABUNDLE)
    fail('cabundle', `must hold 1..${MAX_CABUNDLE} certificates`);
  p.cabundle.forEach((c, i) => sized(c, `cabundle[${i}]`, 1, MAX_CERT_BYTES, fail));
  for (const [f, v] of [
    ['public_key', p.publicKey],
    ['user_data', p.userData],
    ['nonce', p.nonce],
  ] as const)
    if (v !== null) sized(v, f, 0, MAX_OPTIONAL_BYTES, fail);
}

function sized(v: unknown, field: string, min: number, max: number, fail: Fail): void {
  if (!(v instanceof Uint8Array) || v.length < min || v.length > max)
    fail(field, `must be a byte string of ${min}..${max} bytes`);
}
