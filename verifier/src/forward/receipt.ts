/**
 * Forwarding receipts: what the enclave signs after one forward request, so a studio can check
 * where its keys went. A DSSE envelope (payload type below) signed by the enclave's receipt key
 * (bound in its attestation) over canonical JSON:
 *
 * ```json
 * { "type": "keycast-forward-receipt/v1", "requestDigest": "<hex SHA-256>", "rulesDigest": "<hex>",
 *   "pcr0": "<hex>", "time": "2026-01-01T00:00:00Z", "format": "kdm" | "raw-rsa-oaep" | "raw-hpke",
 *   "recipients": N, "root": "<hex RFC 6962 Merkle root>" }
 * ```
 * Leaf i (request order) = RFC 6962 leaf hash of the 52 bytes thumbprint(20) ‖ SHA-256(output i)(32),
 * where thumbprint is the recipient certificate's SHA-1 over its TBSCertificate (ST 430-2 §5.4).
 * A delivery proof `{ index, thumbprint, outputDigest, proof: [hex…] }` proves one delivery
 * against the signed root with the log's own inclusion-proof code (tlog/).
 */
import { createHash, type KeyObject } from 'node:crypto';
import { VerifierError } from '../errors.ts';
import { canonicalize, exactKeys, isObject, parseJsonStrict } from '../encoding/canonical-json.ts';
import { parseTrustedKey, type ReleaseSigner } from '../release/dsse.ts';
import { concatBytes, fromBase64, fromHex, toBase64, toHex, utf8 } from '../encoding/bytes.ts';
import { hashLeaf } from '../tlog/hash.ts';
import { MemoryTree, proveInclusion, rootFromInclusionProof } from '../tlog/index.ts';
import { RecordList } from '../encoding/record-list.ts';
import { openEnvelope, signEnvelope } from './envelope.ts';
import { FORMAT_NAMES, type FormatName } from './format-names.ts';

export const RECEIPT_TYPE = 'keycast-forward-receipt/v1';
export const RECEIPT_PAYLOAD_TYPE = 'application/vnd.keycast.forward-receipt+json';

export interface Receipt {
  type: typeof RECEIPT_TYPE;
  requestDigest: string;
  rulesDigest: string;
  pcr0: string;
  time: string;
  format: FormatName;
  recipients: number;
  root: string;
}

export interface DeliveryProof {
  index: number;
  /** base64 certificate thumbprint (SHA-1 of the TBSCertificate) */
  thumbprint: string;
  /** hex SHA-256 of the delivered bytes */
  outputDigest: string;
  proof: string[];
}

/** The 52-byte leaf entry for one delivery. */
export function deliveryLeaf(thumbprint: Uint8Array, outputDigest: Uint8Array): Uint8Array {
  if (thumbprint.length !== 20 || outputDigest.length !== 32)
    throw new RangeError('deliveryLeaf: 20-byte thumbprint and 32-byte digest');
  return concatBytes(thumbprint, outputDigest);
}

/** Collects deliveries in order and proves each one against the final root. */
export class DeliveryTree {
  private readonly tree = new MemoryTree();
  // flat record lists, not an object per delivery: a receipt may cover 100,000 of them
  private readonly thumbprints = new RecordList(20);
  private readonly digests = new RecordList(32);

  add(thumbprint: Uint8Array, output: Uint8Array): Uint8Array {
    const digest = new Uint8Array(createHash('sha256').update(output).digest());
    this.addDigest(thumbprint, digest);
    return digest;
  }

  /** Adds a delivery whose output digest is already known (e.g. computed on another thread). */
  addDigest(thumbprint: Uint8Array, digest: Uint8Array): void {
    this.tree.appendLeafHash(hashLeaf(deliveryLeaf(thumbprint, digest)));
    this.thumbprints.push(thumbprint);
    this.digests.push(digest);
  }

  get size(): number {
    return this.tree.size;
  }

  root(): Uint8Array {
    return this.tree.root();
  }

  prove(index: number): DeliveryProof {
    const thumbprint = this.thumbprints.get(index);
    const digest = this.digests.get(index);
    if (!thumbprint || !digest) throw new RangeError(`DeliveryTree: no delivery ${index}`);
    const proof = proveInclusion(index, this.size, this.tree.hashReader()).map(toHex);
    return { index, thumbprint: toBase64(thumbprint), outputDigest: toHex(digest), proof };
  }
}

function bad(message: string): never {
  throw new VerifierError('RECEIPT_INVALID', message);
}

function validate(v: unknown): Receipt {
  if (!isObject(v)) bad('receipt must be an object');
  try {
    exactKeys(
      v,
      ['type', 'requestDigest', 'rulesDigest', 'pcr0', 'time', 'format', 'recipients', 'root'],
      [],
      'receipt',
    );
  } catch (e) {
    bad((e as Error).message);
  }
  const hex = (k: string, n: number) => typeof v[k] === 'string' && new RegExp(`^[0-9a-f]{${n}}$`).test(v[k] as string);
  if (v.type !== RECEIPT_TYPE) bad(`receipt.type must be ${RECEIPT_TYPE}`);
  if (!hex('requestDigest', 64) || !hex('rulesDigest', 64) || !hex('root', 64) || !hex('pcr0', 96))
    bad('receipt digests must be lowercase hex');
  if (typeof v.time !== 'string' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$/.test(v.time))
    bad('receipt.time must be an ISO UTC time');
  if (!FORMAT_NAMES.includes(v.format as FormatName)) bad('receipt.format is unknown');
  if (!Number.isSafeInteger(v.recipients) || (v.recipients as number) < 1)
    bad('receipt.recipients must be a positive integer');
  return v as unknown as Receipt;
}

/** Signs a receipt with the enclave's receipt key (Ed25519 or P-256). Returns envelope JSON text. */
export function signReceipt(r: Receipt, receiptKey: KeyObject): string {
  return JSON.stringify(signEnvelope(RECEIPT_PAYLOAD_TYPE, utf8(canonicalize(validate(r))), receiptKey));
}

/**
 * Opens a receipt envelope signed by `receiptKey` (the key the enclave's attestation binds).
 * Throws RECEIPT_INVALID for shape and signature failures.
 */
export function openReceipt(envelope: string | Uint8Array, receiptKey: string | Uint8Array | ReleaseSigner): Receipt {
  const signer =
    typeof receiptKey === 'object' && 'spkiSha256' in receiptKey ? receiptKey : parseTrustedKey(receiptKey);
  const payload = openEnvelope(envelope, RECEIPT_PAYLOAD_TYPE, signer, 64 * 1024, 'RECEIPT_INVALID', 'RECEIPT_INVALID');
  let v: unknown;
  try {
    v = parseJsonStrict(payload, 64 * 1024, 'receipt');
  } catch (e) {
    throw new VerifierError('RECEIPT_INVALID', 'receipt payload is not JSON', {}, { cause: e });
  }
  const r = validate(v);
  if (canonicalize(r) !== new TextDecoder().decode(payload)) bad('receipt payload is not canonical JSON');
  return r;
}

/** Parses a delivery proof JSON (text or object). Throws RECEIPT_INVALID. */
export function parseDeliveryProof(input: string | Uint8Array | unknown): DeliveryProof {
  let v: unknown = input;
  try {
    if (typeof input === 'string' || input instanceof Uint8Array)
      v = parseJsonStrict(input, 64 * 1024, 'delivery proof');
    if (!isObject(v)) throw new Error('not an object');
    exactKeys(v, ['index', 'thumbprint', 'outputDigest', 'proof'], [], 'proof');
    if (!Number.isSafeInteger(v.index) || (v.index as number) < 0) throw new Error('bad index');
    if (fromBase64(v.thumbprint as string).length !== 20) throw new Error('bad thumbprint');
    if (!/^[0-9a-f]{64}$/.test(v.outputDigest as string)) throw new Error('bad outputDigest');
    if (
      !Array.isArray(v.proof) ||
      v.proof.length > 64 ||
      !v.proof.every((h) => typeof h === 'string' && /^[0-9a-f]{64}$/.test(h))
    )
      throw new Error('bad proof');
  } catch (e) {
    throw new VerifierError('RECEIPT_INVALID', `delivery proof: ${(e as Error).message}`);
  }
  return v as unknown as DeliveryProof;
}

/**
 * Checks that `proof` proves one delivery under `receipt`; when `output` (the delivered bytes)
 * is given, also that it is what was delivered. Throws RECEIPT_INVALID.
 */
export function checkDelivery(
  receipt: Pick<Receipt, 'recipients' | 'root'>,
  proof: DeliveryProof,
  output?: Uint8Array,
): void {
  if (output) {
    const d = toHex(createHash('sha256').update(output).digest());
    if (d !== proof.outputDigest)
      throw new VerifierError('RECEIPT_INVALID', 'the delivered bytes are not the ones the proof names', {
        outputDigest: d,
        proved: proof.outputDigest,
      });
  }
  if (proof.index >= receipt.recipients) bad('delivery index is outside the receipt');
  let root: Uint8Array;
  try {
    root = rootFromInclusionProof(
      proof.proof.map(fromHex),
      proof.index,
      receipt.recipients,
      hashLeaf(deliveryLeaf(fromBase64(proof.thumbprint), fromHex(proof.outputDigest))),
    );
  } catch (e) {
    throw new VerifierError('RECEIPT_INVALID', 'delivery proof is malformed', {}, { cause: e });
  }
  if (toHex(root) !== receipt.root)
    throw new VerifierError('RECEIPT_INVALID', 'delivery proof does not lead to the receipt root', {
      index: proof.index,
    });
}
