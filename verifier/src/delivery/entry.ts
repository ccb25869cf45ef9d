/**
 * Delivery entries (issue 19; the shared spec /work/helpers/delivery-spec.md): what an enclave that
 * logs its deliveries signs for each forward request, before any output leaves it usable. A DSSE
 * envelope (forward/envelope.ts) of payload type DELIVERY_PAYLOAD_TYPE, signed by the enclave's
 * receipt key, over canonical JSON:
 *
 * ```json
 * { "type": "keycast-delivery/v1", "pcr0": "<96 hex>", "releaseIndex": N,
 *   "receiptKey": "<base64 SPKI DER>", "rulesDigest": "<64 hex>", "rulesSigner": "<64 hex>",
 *   "cplIdDigest": "<64 hex>", "count": N, "root": "<64 hex>", "requestDigest": "<64 hex>",
 *   "time": "<ISO UTC>", "manifest": { "sha256": "<64 hex>", "size": N } }
 * ```
 * `rulesSigner` is the hex SHA-256 of the rules signer's SPKI DER (what a studio watches for),
 * `cplIdDigest` the SHA-256 of the lowercase `urn:uuid:` CPL id, `root` the receipt's Merkle root
 * over the deliveries (forward/receipt.ts), `manifest` the digest and size of the SEALED manifest
 * (manifest.ts). Nothing here names a recipient: the public sees counts and digests only.
 *
 * The log leaf of a delivery is canonical JSON `{"kind":"delivery","envelope":<envelope>}`.
 * Pure: node:crypto computation only.
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { VerifierError } from '../errors.ts';
import { canonicalize, exactKeys, isObject, parseJsonStrict } from '../encoding/canonical-json.ts';
import { fromBase64, toBase64, toHex, utf8 } from '../encoding/bytes.ts';
import { parseTrustedKey, type ReleaseSigner } from '../release/dsse.ts';
import { openEnvelope, signEnvelope, type SignedEnvelope } from '../forward/envelope.ts';
import { UUID_URN } from '../forward/rules.ts';

export const DELIVERY_TYPE = 'keycast-delivery/v1';
export const DELIVERY_PAYLOAD_TYPE = 'application/vnd.keycast.delivery+json';
/** A sealed manifest is at most this many bytes (the log refuses larger). */
export const MAX_MANIFEST_BYTES = 32 * 1024 * 1024;
/** A delivery envelope (and its leaf) is small: a few hundred bytes of payload and one signature. */
export const MAX_DELIVERY_ENVELOPE_BYTES = 16 * 1024;

export interface DeliveryEntry {
  type: typeof DELIVERY_TYPE;
  pcr0: string;
  releaseIndex: number;
  /** base64 SPKI DER of the enclave's receipt key (the key that signs this entry) */
  receiptKey: string;
  rulesDigest: string;
  /** hex SHA-256 of the rules signer's SPKI DER */
  rulesSigner: string;
  cplIdDigest: string;
  /** recipients in this request (≥ 1) */
  count: number;
  /** the receipt's Merkle root over the deliveries */
  root: string;
  requestDigest: string;
  /** ISO UTC, seconds or milliseconds */
  time: string;
  manifest: { sha256: string; size: number };
}

/** A delivery entry whose envelope verified under the receipt key it names. */
export interface OpenedDelivery {
  entry: DeliveryEntry;
  envelope: SignedEnvelope;
  /** the receipt key, parsed */
  signer: ReleaseSigner;
  /** hex SHA-256 of the receipt key's SPKI DER */
  receiptKeySha256: string;
}

const ENTRY_KEYS = [
  'type',
  'pcr0',
  'releaseIndex',
  'receiptKey',
  'rulesDigest',
  'rulesSigner',
  'cplIdDigest',
  'count',
  'root',
  'requestDigest',
  'time',
  'manifest',
];
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$/;

function bad(message: string, field?: string): never {
  throw new VerifierError('DELIVERY_INVALID', message, field ? { field } : {});
}

function keys(o: Record<string, unknown>, required: string[], where: string): void {
  try {
    exactKeys(o, required, [], where);
  } catch (e) {
    bad((e as Error).message, where);
  }
}

function hex(v: unknown, n: number, field: string): void {
  if (typeof v !== 'string' || !new RegExp(`^[0-9a-f]{${n}}$`).test(v))
    bad(`${field} must be ${n} lowercase hex`, field);
}

function count(v: unknown, field: string, min: number): void {
  if (!Number.isSafeInteger(v) || (v as number) < min) bad(`${field} must be an integer ≥ ${min}`, field);
}

/** Checks a parsed value against the schema; returns it typed. Throws DELIVERY_INVALID. */
export function validateDeliveryEntry(v: unknown): DeliveryEntry {
  if (!isObject(v)) bad('delivery entry must be an object');
  keys(v, ENTRY_KEYS, 'delivery');
  if (v.type !== DELIVERY_TYPE) bad(`delivery.type must be ${DELIVERY_TYPE}`, 'delivery.type');
  hex(v.pcr0, 96, 'delivery.pcr0');
  count(v.releaseIndex, 'delivery.releaseIndex', 0);
  if (typeof v.receiptKey !== 'string' || v.receiptKey.length > 1024)
    bad('delivery.receiptKey is missing', 'delivery.receiptKey');
  for (const f of ['rulesDigest', 'rulesSigner', 'cplIdDigest', 'root', 'requestDigest'])
    hex(v[f], 64, `delivery.${f}`);
  count(v.count, 'delivery.count', 1);
  if (typeof v.time !== 'string' || !ISO_UTC.test(v.time) || !Number.isFinite(Date.parse(v.time)))
    bad('delivery.time must be an ISO UTC time', 'delivery.time');
  const m = v.manifest;
  if (!isObject(m)) bad('delivery.manifest must be an object', 'delivery.manifest');
  keys(m, ['sha256', 'size'], 'delivery.manifest');
  hex(m.sha256, 64, 'delivery.manifest.sha256');
  count(m.size, 'delivery.manifest.size', 1);
  if ((m.size as number) > MAX_MANIFEST_BYTES)
    bad(`delivery.manifest.size is over ${MAX_MANIFEST_BYTES} bytes`, 'delivery.manifest.size');
  return v as unknown as DeliveryEntry;
}

/** The receipt key as base64 SPKI DER, the way entries name it. */
export function receiptKeyBase64(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return toBase64(new Uint8Array(pub.export({ type: 'spki', format: 'der' })));
}

/** `cplIdDigest`: hex SHA-256 of the CPL id as a lowercase `urn:uuid:` string. Throws DELIVERY_INVALID. */
export function cplIdDigest(cplId: string): string {
  if (!UUID_URN.test(cplId)) bad('the CPL id must be a lowercase urn:uuid: string', 'cplId');
  return toHex(createHash('sha256').update(cplId, 'utf8').digest());
}

/**
 * Signs a delivery entry with the enclave's receipt key. The key must be the one the entry names
 * (`receiptKey`): an entry a log could attribute to another key is refused here (TypeError).
 */
export function signDeliveryEntry(entry: DeliveryEntry, receiptKey: KeyObject): SignedEnvelope {
  const e = validateDeliveryEntry(entry);
  if (receiptKeyBase64(receiptKey) !== e.receiptKey)
    throw new TypeError('signDeliveryEntry: the signing key is not the receiptKey the entry names');
  return signEnvelope(DELIVERY_PAYLOAD_TYPE, utf8(canonicalize(e)), receiptKey);
}

/**
 * Opens a delivery envelope (JSON text, bytes, or the parsed object): the schema, canonical
 * payload, and the signature under the receipt key the entry names — and, when `expectedKey` is
 * given (SPKI PEM/DER or a parsed key), that this is that key. Throws DELIVERY_INVALID (shape),
 * DELIVERY_SIGNATURE (not signed by the key it names, or names another key), OVERSIZED.
 */
export function openDeliveryEntry(
  envelope: string | Uint8Array | SignedEnvelope,
  expectedKey?: string | Uint8Array | ReleaseSigner,
): OpenedDelivery {
  const text = typeof envelope === 'string' || envelope instanceof Uint8Array ? envelope : canonicalEnvelope(envelope);
  const env = parseEnvelopeObject(text);
  let payloadText: string;
  try {
    payloadText = new TextDecoder('utf-8', { fatal: true }).decode(fromBase64(env.payload));
  } catch {
    bad('delivery envelope payload is not base64 UTF-8');
  }
  let v: unknown;
  try {
    v = parseJsonStrict(payloadText, MAX_DELIVERY_ENVELOPE_BYTES, 'delivery');
  } catch (e) {
    throw new VerifierError('DELIVERY_INVALID', 'delivery payload is not JSON', {}, { cause: e });
  }
  const entry = validateDeliveryEntry(v);
  if (canonicalize(entry) !== payloadText) bad('delivery payload is not canonical JSON');
  let signer: ReleaseSigner;
  try {
    signer = parseTrustedKey(fromBase64(entry.receiptKey));
  } catch {
    bad('delivery.receiptKey is not a base64 SPKI DER public key', 'delivery.receiptKey');
  }
  if (expectedKey !== undefined) {
    const want =
      typeof expectedKey === 'object' && 'spkiSha256' in expectedKey ? expectedKey : parseTrustedKey(expectedKey);
    if (want.spkiSha256 !== signer.spkiSha256)
      throw new VerifierError('DELIVERY_SIGNATURE', 'the delivery entry names another receipt key than expected', {
        receiptKeySha256: signer.spkiSha256,
        expected: want.spkiSha256,
      });
  }
  openEnvelope(
    text,
    DELIVERY_PAYLOAD_TYPE,
    signer,
    MAX_DELIVERY_ENVELOPE_BYTES,
    'DELIVERY_INVALID',
    'DELIVERY_SIGNATURE',
  );
  return { entry, envelope: env, signer, receiptKeySha256: signer.spkiSha256 };
}

/** The envelope object in canonical JSON (refuses non-JSON values). */
function canonicalEnvelope(env: SignedEnvelope): string {
  try {
    return canonicalize(env);
  } catch (e) {
    throw new VerifierError('DELIVERY_INVALID', 'delivery envelope is not a JSON object', {}, { cause: e });
  }
}

function parseEnvelopeObject(text: string | Uint8Array): SignedEnvelope {
  let env: unknown;
  try {
    env = parseJsonStrict(text, MAX_DELIVERY_ENVELOPE_BYTES, 'delivery envelope');
  } catch (e) {
    if (e instanceof VerifierError && e.code === 'OVERSIZED') throw e;
    throw new VerifierError('DELIVERY_INVALID', 'delivery envelope is not JSON', {}, { cause: e });
  }
  if (!isObject(env)) bad('delivery envelope must be an object');
  keys(env, ['payloadType', 'payload', 'signatures'], 'envelope');
  if (env.payloadType !== DELIVERY_PAYLOAD_TYPE) bad(`envelope payloadType must be ${DELIVERY_PAYLOAD_TYPE}`);
  if (typeof env.payload !== 'string') bad('envelope payload must be base64');
  const sigs = env.signatures;
  if (!Array.isArray(sigs) || sigs.length !== 1 || !isObject(sigs[0])) bad('envelope must carry exactly one signature');
  keys(sigs[0], ['keyid', 'sig'], 'envelope.signatures[0]');
  if (typeof sigs[0].keyid !== 'string' || typeof sigs[0].sig !== 'string') bad('envelope signature must be strings');
  return {
    payloadType: env.payloadType,
    payload: env.payload,
    signatures: [{ keyid: sigs[0].keyid, sig: sigs[0].sig }],
  };
}

/** The log leaf of a delivery: canonical JSON `{"kind":"delivery","envelope":…}`. */
export function deliveryEntryLeaf(envelope: SignedEnvelope): Uint8Array {
  return utf8(canonicalize({ kind: 'delivery', envelope }));
}

/**
 * Decodes a delivery leaf read from a log: canonical encoding, the `{kind, envelope}` shape, and
 * the envelope opened as openDeliveryEntry does. Throws DELIVERY_INVALID / DELIVERY_SIGNATURE.
 */
export function decodeDeliveryEntryLeaf(leaf: Uint8Array): OpenedDelivery {
  let v: unknown;
  try {
    v = parseJsonStrict(leaf, MAX_DELIVERY_ENVELOPE_BYTES + 64, 'delivery leaf');
  } catch (e) {
    throw new VerifierError('DELIVERY_INVALID', 'the delivery leaf is not JSON', {}, { cause: e });
  }
  if (!isObject(v) || v.kind !== 'delivery') bad('the leaf is not a delivery leaf');
  keys(v, ['kind', 'envelope'], 'leaf');
  const opened = openDeliveryEntry(v.envelope as SignedEnvelope);
  if (Buffer.compare(Buffer.from(deliveryEntryLeaf(opened.envelope)), Buffer.from(leaf)) !== 0)
    bad('the delivery leaf is not in canonical form');
  return opened;
}
