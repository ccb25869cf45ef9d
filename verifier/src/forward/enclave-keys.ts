/**
 * The forwarding enclave's public keys as its attestation binds them: the attestation document's
 * `public_key` field holds
 *
 *   "keycast-forward/v1" ‖ 0x00 ‖ X25519 HPKE public key (32) ‖ Ed25519 receipt public key (32)
 *
 * (83 bytes, within the NSM's 1024-byte limit). A studio seals content keys only to an HPKE key
 * read this way from a verified attestation, and checks receipts with the receipt key read the
 * same way. The enclave runtime binds them the other way (gate/identity.ts: public_key = the raw
 * HPKE key, user_data = the identity binding); enclaveKeysFromAttestation reads either.
 *
 * The verified-enclave record (`keycast verify enclave --out ENCLAVE.json`, read by `keycast seal
 * --enclave` and `keycast forward --enclave`): what the studio's own verification established,
 *
 * ```json
 * { "type": "keycast-verified-enclave/v2", "verified": true, "host": "http://…", "moduleId": "…",
 *   "timestamp": "<ISO>", "pcr0": "<96 hex>", "releaseIndex": 3, "origin": "…", "treeSize": 9,
 *   "status": "active", "publicKey": "<base64>", "userData": "<base64>",
 *   "hpkeX25519": "<base64>", "receiptsEd25519": "<base64>", "kdmChainSha256": "<base64>" | null,
 *   "kdmDecryptionSha256": "<base64>" | null,
 *   "kdmSignerChain": ["<base64 DER>", …] | null, "kdmDecryptionChain": ["<base64 DER>", …] | null,
 *   "nonce": "<hex>", "rootSha256": "<hex>", "attestation": "<base64 of the COSE_Sign1 document>" }
 * ```
 * Parsing re-reads the keys from publicKey/userData (parseIdentityBinding) and requires the
 * convenience fields to agree with them. v2 carries the attestation document itself, so whoever
 * reads the record re-verifies it (reverifyEnclaveRecord: the chain, the signature, the nonce the
 * record names, its age, and that every field the record states is the document's). Issue 16: a
 * v1 record was taken on its word — a hand-written `"verified": true` sealed a film's keys to
 * anything — so v1 is refused with RECORD_UNVERIFIABLE. What the record says about the log
 * (releaseIndex, origin, treeSize) is not re-verifiable from the record alone: commands that
 * seal or forward ask for a PCR policy besides (`--expect-pcr0` or `--log`). Pure.
 * The two certificate chains (the KDM signer's and the KDM decryption certificate's, which DKDMs
 * are addressed to) are recorded only after checkEnclaveCertificates (dkdm-recipient.ts) proved
 * them bound; readers that use them check them again (enclaveCertificatesFromRecord).
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { VerifierError } from '../errors.ts';
import { concatBytes, utf8 } from '../encoding/bytes.ts';
import { verifyAttestationDocument, type VerifiedAttestation } from '../attestation/verify.ts';
import { parseIdentityBinding, type IdentityBinding } from '../gate/identity.ts';
import { fromBase64, fromHex, toBase64, toHex } from '../encoding/bytes.ts';
import { isObject } from '../encoding/canonical-json.ts';

const TAG = utf8('keycast-forward/v1\0');
export const ENCLAVE_KEYS_BYTES = TAG.length + 64;
const ED25519_SPKI_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]);

export interface EnclaveKeys {
  /** raw X25519 HPKE public key */
  hpke: Uint8Array;
  /** Ed25519 receipt public key */
  receipt: KeyObject;
  /** PCR0 of the attested release */
  pcr0: Uint8Array;
}

/** The `public_key` bytes the runtime asks the NSM to attest. */
export function formatEnclaveKeys(hpke: Uint8Array, receipt: KeyObject): Uint8Array {
  if (hpke.length !== 32) throw new RangeError('formatEnclaveKeys: X25519 key must be 32 bytes');
  const pub = receipt.type === 'private' ? createPublicKey(receipt) : receipt;
  if (pub.asymmetricKeyType !== 'ed25519') throw new TypeError('formatEnclaveKeys: the receipt key must be Ed25519');
  return concatBytes(
    TAG,
    hpke,
    new Uint8Array(pub.export({ type: 'spki', format: 'der' })).subarray(ED25519_SPKI_PREFIX.length),
  );
}

/**
 * The digest an enclave's identity binding gives for its KDM signer chain (`kdm-chain-sha256`):
 * SHA-256 over the certificates' DER, leaf first — the order KDMs carry them in KeyInfo.
 */
export function kdmChainSha256(chain: ReadonlyArray<{ der: Uint8Array }>): Uint8Array {
  const h = createHash('sha256');
  for (const c of chain) h.update(c.der);
  return new Uint8Array(h.digest());
}

/** An Ed25519 public key from its 32 raw bytes. */
export function ed25519PublicKey(raw: Uint8Array): KeyObject {
  if (raw.length !== 32) throw new RangeError('ed25519PublicKey: 32 bytes');
  return createPublicKey({ key: Buffer.from(concatBytes(ED25519_SPKI_PREFIX, raw)), format: 'der', type: 'spki' });
}

/**
 * Reads the keys from a verified attestation: the enclave runtime's identity binding (32-byte
 * public_key + user_data) or the tagged public_key above. Throws PUBLIC_KEY_MISMATCH when it
 * binds neither, IDENTITY_BINDING when user_data contradicts public_key.
 */
export function enclaveKeysFromAttestation(a: VerifiedAttestation): EnclaveKeys {
  const pk = a.publicKey;
  if (pk && pk.length === 32) {
    const b = parseIdentityBinding(a.userData, pk);
    return { hpke: b.hpkeX25519.slice(), receipt: ed25519PublicKey(b.receiptsEd25519), pcr0: a.pcrs.get(0)! };
  }
  if (!pk || pk.length !== ENCLAVE_KEYS_BYTES || Buffer.compare(pk.subarray(0, TAG.length), TAG) !== 0) {
    throw new VerifierError(
      'PUBLIC_KEY_MISMATCH',
      'the attestation does not bind keycast forwarding keys in public_key',
      { length: pk?.length ?? 0 },
    );
  }
  const receipt = ed25519PublicKey(pk.subarray(TAG.length + 32));
  return { hpke: pk.slice(TAG.length, TAG.length + 32), receipt, pcr0: a.pcrs.get(0)! };
}

export const VERIFIED_ENCLAVE_TYPE = 'keycast-verified-enclave/v2';
/** The record before it carried its attestation: refused with RECORD_UNVERIFIABLE. */
export const VERIFIED_ENCLAVE_TYPE_V1 = 'keycast-verified-enclave/v1';
const MAX_VERIFIED_ENCLAVE_BYTES = 64 * 1024;

export interface VerifiedEnclaveRecord {
  type: typeof VERIFIED_ENCLAVE_TYPE;
  verified: true;
  host: string;
  moduleId: string;
  timestamp: string;
  pcr0: string;
  releaseIndex: number;
  origin: string;
  treeSize: number;
  status: 'active';
  publicKey: string;
  userData: string;
  hpkeX25519: string;
  receiptsEd25519: string;
  kdmChainSha256: string | null;
  /** SHA-256 of the KDM decryption leaf's DER, as bound */
  kdmDecryptionSha256?: string | null;
  /** base64 DER, leaf first: present when the host served them and they passed checkEnclaveCertificates */
  kdmSignerChain?: string[] | null;
  kdmDecryptionChain?: string[] | null;
  nonce: string;
  rootSha256: string;
  /** base64 of the attestation document the record was made from */
  attestation: string;
}

/** The record's fields from a verified attestation and its binding (the keys filled in from `binding`). */
export function verifiedEnclaveRecord(
  f: Omit<
    VerifiedEnclaveRecord,
    | 'type'
    | 'verified'
    | 'status'
    | 'hpkeX25519'
    | 'receiptsEd25519'
    | 'kdmChainSha256'
    | 'kdmDecryptionSha256'
    | 'kdmSignerChain'
    | 'kdmDecryptionChain'
  >,
  binding: IdentityBinding,
  certificates?: {
    signerChain: ReadonlyArray<{ der: Uint8Array }>;
    decryptionChain: ReadonlyArray<{ der: Uint8Array }>;
  },
): VerifiedEnclaveRecord {
  return {
    type: VERIFIED_ENCLAVE_TYPE,
    verified: true,
    host: f.host,
    moduleId: f.moduleId,
    timestamp: f.timestamp,
    pcr0: f.pcr0,
    releaseIndex: f.releaseIndex,
    origin: f.origin,
    treeSize: f.treeSize,
    status: 'active',
    publicKey: f.publicKey,
    userData: f.userData,
    hpkeX25519: toBase64(binding.hpkeX25519),
    receiptsEd25519: toBase64(binding.receiptsEd25519),
    kdmChainSha256: binding.kdmChainSha256 ? toBase64(binding.kdmChainSha256) : null,
    kdmDecryptionSha256: binding.kdmDecryptionSha256 ? toBase64(binding.kdmDecryptionSha256) : null,
    kdmSignerChain: certificates ? certificates.signerChain.map((c) => toBase64(c.der)) : null,
    kdmDecryptionChain: certificates ? certificates.decryptionChain.map((c) => toBase64(c.der)) : null,
    nonce: f.nonce,
    rootSha256: f.rootSha256,
    attestation: f.attestation,
  };
}

export function formatVerifiedEnclave(r: VerifiedEnclaveRecord): string {
  return `${JSON.stringify(r, null, 2)}\n`;
}

/**
 * Reads a verified-enclave record: the keys come from its publicKey/userData through
 * parseIdentityBinding, and the written key fields and PCR0 must agree. Throws IDENTITY_BINDING.
 */
export function parseVerifiedEnclave(
  input: string | Uint8Array,
): EnclaveKeys & { record: VerifiedEnclaveRecord; binding: IdentityBinding } {
  const bad = (m: string): never => {
    throw new VerifierError('IDENTITY_BINDING', `verified-enclave record: ${m}`, { reason: m });
  };
  const text = typeof input === 'string' ? input : new TextDecoder().decode(input);
  if (text.length > MAX_VERIFIED_ENCLAVE_BYTES) bad('larger than 64 KiB');
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return bad('not JSON');
  }
  if (isObject(v) && v.type === VERIFIED_ENCLAVE_TYPE_V1)
    throw new VerifierError(
      'RECORD_UNVERIFIABLE',
      `a ${VERIFIED_ENCLAVE_TYPE_V1} record carries no attestation to re-verify; run keycast verify enclave --out again`,
      { type: VERIFIED_ENCLAVE_TYPE_V1, expected: VERIFIED_ENCLAVE_TYPE },
    );
  if (!isObject(v) || v.type !== VERIFIED_ENCLAVE_TYPE || v.verified !== true)
    return bad(`type must be ${VERIFIED_ENCLAVE_TYPE} and verified true`);
  if (typeof v.attestation !== 'string' || v.attestation.length === 0)
    throw new VerifierError('RECORD_UNVERIFIABLE', 'the verified-enclave record carries no attestation document', {
      missing: 'attestation',
    });
  if (typeof v.nonce !== 'string' || !/^([0-9a-f]{2}){1,512}$/.test(v.nonce)) bad('nonce must be lowercase hex');
  if (typeof v.pcr0 !== 'string' || !/^[0-9a-f]{96}$/.test(v.pcr0)) bad('pcr0 must be 96 lowercase hex');
  let binding: IdentityBinding;
  try {
    binding = parseIdentityBinding(fromBase64(String(v.userData)), fromBase64(String(v.publicKey)));
  } catch (e) {
    if (e instanceof VerifierError) throw e;
    return bad('publicKey and userData must be base64');
  }
  if (
    v.hpkeX25519 !== toBase64(binding.hpkeX25519) ||
    v.receiptsEd25519 !== toBase64(binding.receiptsEd25519) ||
    (v.kdmChainSha256 ?? null) !== (binding.kdmChainSha256 ? toBase64(binding.kdmChainSha256) : null) ||
    (v.kdmDecryptionSha256 ?? null) !== (binding.kdmDecryptionSha256 ? toBase64(binding.kdmDecryptionSha256) : null)
  ) {
    bad('the key fields do not match the bound keys');
  }
  return {
    hpke: binding.hpkeX25519,
    receipt: ed25519PublicKey(binding.receiptsEd25519),
    pcr0: fromHex(v.pcr0 as string),
    record: v as unknown as VerifiedEnclaveRecord,
    binding,
  };
}

export interface ReverifyOptions {
  /** roots to trust instead of the AWS Nitro root (test PKIs) */
  trustedRoots?: Uint8Array[];
  at: Date;
  /** how old the document may be (its timestamp against `at`) */
  maxAgeMs: number;
}

/**
 * Re-verifies the evidence a parsed record carries: its attestation document (chain, signature,
 * the record's nonce, at most `maxAgeMs` old, not debug), and that the record states exactly what
 * the document holds (PCR0, public_key, user_data, module id, root). Returns the verified
 * attestation; the keys come from it. Throws the attestation's codes, or RECORD_UNVERIFIABLE.
 */
export function reverifyEnclaveRecord(
  parsed: ReturnType<typeof parseVerifiedEnclave>,
  o: ReverifyOptions,
): VerifiedAttestation & { keys: EnclaveKeys } {
  const r = parsed.record;
  let doc: Uint8Array;
  try {
    doc = fromBase64(r.attestation);
  } catch {
    throw new VerifierError('RECORD_UNVERIFIABLE', "the record's attestation is not base64", {});
  }
  const att = verifyAttestationDocument(doc, {
    at: o.at,
    policy: { nonce: fromHex(r.nonce), maxAgeMs: o.maxAgeMs, allowDebug: false },
    ...(o.trustedRoots && o.trustedRoots.length > 0 ? { trustedRoots: o.trustedRoots } : {}),
  });
  const differs = (
    [
      ['pcr0', r.pcr0, att.pcrs.has(0) ? toHex(att.pcrs.get(0)!) : null],
      ['publicKey', r.publicKey, att.publicKey ? toBase64(att.publicKey) : null],
      ['userData', r.userData, att.userData ? toBase64(att.userData) : null],
      ['moduleId', r.moduleId, att.moduleId],
      ['rootSha256', r.rootSha256, att.rootSha256],
    ] as const
  ).find(([, said, is]) => said !== is);
  if (differs)
    throw new VerifierError('RECORD_UNVERIFIABLE', `the record's ${differs[0]} is not its attestation's`, {
      field: differs[0],
    });
  return Object.assign(att, { keys: enclaveKeysFromAttestation(att) });
}
