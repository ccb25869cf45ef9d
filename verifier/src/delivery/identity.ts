/**
 * Enclave identity entries (issue 19): an enclave registers its identity on the log once, before
 * its first delivery, with a fresh attestation document. The log admits it only when the document
 * verifies under the log's trust root and its PCR0 is an active release of this log; from then on
 * the log admits delivery entries signed by the receipt key the document binds. Leaf = canonical JSON
 *
 * ```json
 * { "type": "keycast-enclave-identity/v1", "pcr0": "<96 hex>", "receiptKey": "<base64 SPKI DER>",
 *   "hpkeKey": "<base64 raw 32>", "attestation": "<base64 COSE_Sign1>" }
 * ```
 * so anyone can re-verify the document the log verified. If the document would make the leaf
 * exceed the tlog-tiles entry limit, the leaf carries `attestationSha256` (hex) instead, and the
 * document is stored beside it (`sidecar`). Pure.
 */
import { createHash } from 'node:crypto';
import { VerifierError } from '../errors.ts';
import { canonicalize, exactKeys, isObject, parseJsonStrict } from '../encoding/canonical-json.ts';
import { fromBase64, toBase64, toHex, utf8 } from '../encoding/bytes.ts';
import { MAX_ENTRY_SIZE } from '../tlog/entry-bundle.ts';
import type { VerifiedAttestation } from '../attestation/verify.ts';
import { enclaveKeysFromAttestation } from '../forward/enclave-keys.ts';
import { parseTrustedKey } from '../release/dsse.ts';
import { receiptKeyBase64 } from './entry.ts';

export const IDENTITY_TYPE = 'keycast-enclave-identity/v1';

export interface IdentityEntry {
  type: typeof IDENTITY_TYPE;
  pcr0: string;
  /** base64 SPKI DER of the receipt key the attestation binds */
  receiptKey: string;
  /** base64 raw 32-byte X25519 HPKE key the attestation binds */
  hpkeKey: string;
  /** base64 of the attestation document (absent when it would not fit: see attestationSha256) */
  attestation?: string;
  /** hex SHA-256 of the attestation document, when the leaf does not carry it */
  attestationSha256?: string;
}

export interface IdentityLeaf {
  entry: IdentityEntry;
  leaf: Uint8Array;
  /** the attestation document, to be stored beside the leaf, when the leaf names only its digest */
  sidecar?: Uint8Array;
  /** hex SHA-256 of the receipt key's SPKI DER (what delivery entries are admitted under) */
  receiptKeySha256: string;
}

function bad(message: string, field?: string): never {
  throw new VerifierError('IDENTITY_ENTRY_INVALID', message, field ? { field } : {});
}

/**
 * The identity leaf for an attestation that has ALREADY been verified (verifyAttestationDocument
 * under the log's trust root) from `document`, its bytes. Reads the keys the way studios do
 * (enclaveKeysFromAttestation: PUBLIC_KEY_MISMATCH / IDENTITY_BINDING when it binds none).
 */
export function identityEntryLeaf(verified: VerifiedAttestation, document: Uint8Array): IdentityLeaf {
  const keys = enclaveKeysFromAttestation(verified);
  const entry: IdentityEntry = {
    type: IDENTITY_TYPE,
    pcr0: toHex(keys.pcr0),
    receiptKey: receiptKeyBase64(keys.receipt),
    hpkeKey: toBase64(keys.hpke),
    attestation: toBase64(document),
  };
  const receiptKeySha256 = parseTrustedKey(fromBase64(entry.receiptKey)).spkiSha256;
  let leaf = utf8(canonicalize(entry));
  if (leaf.length <= MAX_ENTRY_SIZE) return { entry, leaf, receiptKeySha256 };
  const { attestation: _, ...rest } = entry;
  const small: IdentityEntry = { ...rest, attestationSha256: toHex(createHash('sha256').update(document).digest()) };
  leaf = utf8(canonicalize(small));
  return { entry: small, leaf, sidecar: document.slice(), receiptKeySha256 };
}

/**
 * Parses an identity leaf read from a log (schema and canonical form; the attestation inside is
 * NOT re-verified here: verifyAttestationDocument it at its own time if you need to). Throws
 * IDENTITY_ENTRY_INVALID.
 */
export function parseIdentityLeaf(leaf: Uint8Array): IdentityEntry & { receiptKeySha256: string } {
  let v: unknown;
  try {
    v = parseJsonStrict(leaf, MAX_ENTRY_SIZE, 'identity leaf');
  } catch (e) {
    throw new VerifierError('IDENTITY_ENTRY_INVALID', 'the identity leaf is not JSON', {}, { cause: e });
  }
  if (!isObject(v) || v.type !== IDENTITY_TYPE) bad(`the leaf is not a ${IDENTITY_TYPE} entry`);
  const hasDoc = 'attestation' in v;
  try {
    exactKeys(
      v,
      ['type', 'pcr0', 'receiptKey', 'hpkeKey', hasDoc ? 'attestation' : 'attestationSha256'],
      [],
      'identity',
    );
  } catch (e) {
    bad((e as Error).message);
  }
  if (typeof v.pcr0 !== 'string' || !/^[0-9a-f]{96}$/.test(v.pcr0))
    bad('identity.pcr0 must be 96 hex', 'identity.pcr0');
  let receiptKeySha256: string;
  try {
    if (fromBase64(v.hpkeKey as string).length !== 32) throw new Error('length');
    receiptKeySha256 = parseTrustedKey(fromBase64(v.receiptKey as string)).spkiSha256;
    if (hasDoc) fromBase64(v.attestation as string);
    else if (!/^[0-9a-f]{64}$/.test(v.attestationSha256 as string)) throw new Error('digest');
  } catch {
    bad('identity keys or attestation are not well-formed');
  }
  if (canonicalize(v) !== Buffer.from(leaf).toString('utf8')) bad('the identity leaf is not in canonical form');
  return { ...(v as unknown as IdentityEntry), receiptKeySha256 };
}
