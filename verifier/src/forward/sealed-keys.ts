/**
 * Sealed content keys: a film's content keys encrypted by the studio to the enclave's HPKE key
 * (RFC 9180 base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM; @hpke/core).
 *
 * ```json
 * { "type": "keycast-sealed-keys/v2",
 *   "pcr0": "<hex PCR0 of the enclave release allowed to open it>",
 *   "rulesKey": "<base64 DER SPKI of the studio's rules-signing key>",
 *   "rulesDigest": "<hex SHA-256 of the one rules payload these keys may be forwarded under>",
 *   "enc": "<base64 HPKE encapsulated key>", "ciphertext": "<base64>" }
 * ```
 * HPKE `info` = "keycast-sealed-keys/v2" ‖ 0x00 ‖ PCR0 bytes ‖ SHA-256(rulesKey SPKI) ‖ rules
 * digest (32 bytes); `aad` = the canonical JSON of the four header fields. An enclave whose PCR0
 * differs, a header naming another studio key or other rules, cannot open it: the keys are usable
 * only under the exact rules document the studio sealed them for (issue 16: v1 bound only the
 * studio key, so any older, looser rules that key ever signed released today's keys). A v1
 * document is refused with SEALED_OUTDATED.
 * The plaintext is canonical JSON `{ "cplId", "keys": [{ "id", "type", "key": "<32 hex>" }] }`.
 * Nothing here logs or returns key bytes except `openSealedKeys`' result.
 */
import { CipherSuite, DhkemX25519HkdfSha256, HkdfSha256, Aes256Gcm } from '@hpke/core';
import { createHash } from 'node:crypto';
import { VerifierError } from '../errors.ts';
import { canonicalize, exactKeys, isObject, parseJsonStrict } from '../encoding/canonical-json.ts';
import { parseTrustedKey, type ReleaseSigner } from '../release/dsse.ts';
import { concatBytes, fromBase64, fromHex, toBase64, toHex, utf8 } from '../encoding/bytes.ts';
import { UUID_URN } from './rules.ts';

export const SEALED_TYPE = 'keycast-sealed-keys/v2';
/** The earlier format (bound the studio key, not the rules): refused with SEALED_OUTDATED. */
export const SEALED_TYPE_V1 = 'keycast-sealed-keys/v1';
export const MAX_SEALED_BYTES = 256 * 1024;
export const MAX_CONTENT_KEYS = 256;
/** ST 430-1 key types (and Dolby's MDEK) a KDM may carry. */
export const KEY_TYPES = ['MDIK', 'MDAK', 'MDSK', 'FMIK', 'FMAK', 'MDEK'] as const;
export type KeyType = (typeof KEY_TYPES)[number];

export interface ContentKey {
  id: string;
  type: KeyType;
  /** the 16-byte AES-128 track-file key */
  key: Uint8Array;
}

export interface FilmKeys {
  cplId: string;
  keys: ContentKey[];
}

export function hpkeSuite(): CipherSuite {
  return new CipherSuite({ kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: new Aes256Gcm() });
}

/** A fresh X25519 HPKE key pair: the raw 32-byte public key and the private CryptoKey. */
export async function generateHpkeKeyPair(): Promise<{ publicKey: Uint8Array; privateKey: CryptoKey }> {
  const suite = hpkeSuite();
  const kp = await suite.kem.generateKeyPair();
  return { publicKey: new Uint8Array(await suite.kem.serializePublicKey(kp.publicKey)), privateKey: kp.privateKey };
}

/** The X25519 HPKE key pair derived from 32 secret bytes (RFC 9180 DeriveKeyPair). */
export async function deriveHpkeKeyPair(ikm: Uint8Array): Promise<{ publicKey: Uint8Array; privateKey: CryptoKey }> {
  const suite = hpkeSuite();
  const kp = await suite.kem.deriveKeyPair(ikm.slice().buffer);
  return { publicKey: new Uint8Array(await suite.kem.serializePublicKey(kp.publicKey)), privateKey: kp.privateKey };
}

function hpkeInfo(pcr0: Uint8Array, rulesSpki: Uint8Array, rulesDigest: string): Uint8Array {
  return concatBytes(
    utf8(SEALED_TYPE),
    new Uint8Array(1),
    pcr0,
    new Uint8Array(createHash('sha256').update(rulesSpki).digest()),
    fromHex(rulesDigest),
  );
}

function header(pcr0: string, rulesKey: string, rulesDigest: string): Uint8Array {
  return utf8(canonicalize({ type: SEALED_TYPE, pcr0, rulesKey, rulesDigest }));
}

const DIGEST = /^[0-9a-f]{64}$/;

function validateKeys(fk: FilmKeys): void {
  if (!UUID_URN.test(fk.cplId)) throw new RangeError('seal: cplId must be a lowercase urn:uuid');
  if (fk.keys.length === 0 || fk.keys.length > MAX_CONTENT_KEYS)
    throw new RangeError(`seal: 1..${MAX_CONTENT_KEYS} keys`);
  const ids = new Set<string>();
  for (const k of fk.keys) {
    if (!UUID_URN.test(k.id) || !KEY_TYPES.includes(k.type) || !(k.key instanceof Uint8Array) || k.key.length !== 16)
      throw new RangeError('seal: each key needs a urn:uuid id, an ST 430-1 type and 16 bytes');
    if (ids.has(k.id)) throw new RangeError('seal: repeated key id');
    ids.add(k.id);
  }
}

/**
 * Seals a film's keys to the enclave key `enclavePublicKey` (raw X25519, taken from a verified
 * attestation) for the release `pcr0`, usable only with the rules whose payload digest is
 * `rulesDigest` (OpenedRules.digest: lowercase hex SHA-256), signed by `rulesKey` (SPKI PEM/DER).
 * Returns the sealed JSON text.
 */
export async function sealContentKeys(
  fk: FilmKeys,
  enclavePublicKey: Uint8Array,
  pcr0: Uint8Array,
  rulesKey: string | Uint8Array,
  rulesDigest: string,
): Promise<string> {
  validateKeys(fk);
  if (typeof rulesDigest !== 'string' || !DIGEST.test(rulesDigest))
    throw new RangeError('seal: rulesDigest must be the rules payload SHA-256, 64 lowercase hex');
  const signer = parseTrustedKey(rulesKey);
  const spki = new Uint8Array(signer.key.export({ type: 'spki', format: 'der' }));
  const suite = hpkeSuite();
  const recipientPublicKey = await suite.kem.deserializePublicKey(enclavePublicKey.slice().buffer);
  const ctx = await suite.createSenderContext({
    recipientPublicKey,
    info: hpkeInfo(pcr0, spki, rulesDigest).slice().buffer,
  });
  const plain = utf8(
    canonicalize({ cplId: fk.cplId, keys: fk.keys.map((k) => ({ id: k.id, type: k.type, key: toHex(k.key) })) }),
  );
  const rulesKeyB64 = toBase64(spki);
  const ct = await ctx.seal(plain.slice().buffer, header(toHex(pcr0), rulesKeyB64, rulesDigest).slice().buffer);
  plain.fill(0);
  return canonicalize({
    type: SEALED_TYPE,
    pcr0: toHex(pcr0),
    rulesKey: rulesKeyB64,
    rulesDigest,
    enc: toBase64(new Uint8Array(ctx.enc)),
    ciphertext: toBase64(new Uint8Array(ct)),
  });
}

export interface SealedHeader {
  pcr0: Uint8Array;
  rulesKey: ReleaseSigner;
  enc: Uint8Array;
  ciphertext: Uint8Array;
  rulesKeyB64: string;
  /** hex SHA-256 of the rules payload the keys are bound to */
  rulesDigest: string;
}

/** Parses the sealed JSON's public header (no decryption). Throws SEALED_INVALID / OVERSIZED. */
export function parseSealedKeys(sealed: string | Uint8Array): SealedHeader {
  let o: unknown;
  try {
    o = parseJsonStrict(sealed, MAX_SEALED_BYTES, 'sealed keys');
  } catch (e) {
    if (e instanceof VerifierError && e.code === 'OVERSIZED') throw e;
    throw new VerifierError('SEALED_INVALID', 'sealed keys are not JSON', {}, { cause: e });
  }
  if (!isObject(o)) throw new VerifierError('SEALED_INVALID', 'sealed keys must be an object');
  if (o.type === SEALED_TYPE_V1)
    throw new VerifierError(
      'SEALED_OUTDATED',
      `sealed keys of type ${SEALED_TYPE_V1} are not bound to one rules document; seal them again (keycast seal --rules)`,
      { type: SEALED_TYPE_V1, expected: SEALED_TYPE },
    );
  try {
    exactKeys(o, ['type', 'pcr0', 'rulesKey', 'rulesDigest', 'enc', 'ciphertext'], [], 'sealed');
    if (o.type !== SEALED_TYPE) throw new Error(`type must be ${SEALED_TYPE}`);
    if (typeof o.rulesDigest !== 'string' || !DIGEST.test(o.rulesDigest))
      throw new Error('rulesDigest must be 64 lowercase hex digits');
    if (typeof o.pcr0 !== 'string' || !/^[0-9a-f]{96}$/.test(o.pcr0))
      throw new Error('pcr0 must be 96 lowercase hex digits');
    return {
      pcr0: fromHex(o.pcr0),
      rulesKey: parseTrustedKey(fromBase64(o.rulesKey as string)),
      enc: fromBase64(o.enc as string),
      ciphertext: fromBase64(o.ciphertext as string),
      rulesKeyB64: o.rulesKey as string,
      rulesDigest: o.rulesDigest,
    };
  } catch (e) {
    throw new VerifierError('SEALED_INVALID', `sealed keys: ${(e as Error).message}`, {}, { cause: e });
  }
}

/**
 * Opens sealed keys inside the enclave: `privateKey` is the enclave's HPKE key, `pcr0` its own
 * release measurement, `rulesDigest` the digest of the (verified) rules the request carries.
 * Throws SEALED_BINDING when the header names another PCR0 or other rules, or when the
 * ciphertext does not open under this PCR0, the header's studio key and these rules (tampered,
 * or sealed to another enclave key), SEALED_INVALID when the plaintext is not the expected shape.
 * `sealed` may be the header parseSealedKeys already read.
 */
export async function openSealedKeys(
  sealed: string | Uint8Array | SealedHeader,
  privateKey: CryptoKey,
  pcr0: Uint8Array,
  rulesDigest: string,
): Promise<FilmKeys & { rulesKey: ReleaseSigner }> {
  const h = typeof sealed === 'object' && 'rulesKeyB64' in sealed ? sealed : parseSealedKeys(sealed);
  if (h.rulesDigest !== rulesDigest)
    throw new VerifierError('SEALED_BINDING', 'sealed keys are bound to other rules than the ones given', {
      cause: 'RULES_DIGEST',
      sealedRulesDigest: h.rulesDigest,
      rulesDigest,
    });
  if (toHex(h.pcr0) !== toHex(pcr0))
    throw new VerifierError('SEALED_BINDING', 'sealed keys are bound to another enclave release (PCR0)', {
      sealedPcr0: toHex(h.pcr0),
      pcr0: toHex(pcr0),
    });
  const spki = new Uint8Array(h.rulesKey.key.export({ type: 'spki', format: 'der' }));
  let plain: Uint8Array;
  try {
    const suite = hpkeSuite();
    const ctx = await suite.createRecipientContext({
      recipientKey: privateKey,
      enc: h.enc.slice().buffer,
      info: hpkeInfo(pcr0, spki, h.rulesDigest).slice().buffer,
    });
    plain = new Uint8Array(
      await ctx.open(h.ciphertext.slice().buffer, header(toHex(pcr0), h.rulesKeyB64, h.rulesDigest).slice().buffer),
    );
  } catch (e) {
    throw new VerifierError(
      'SEALED_BINDING',
      'sealed keys do not open for this enclave key, release and studio key',
      {},
      { cause: e },
    );
  }
  try {
    const o = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(plain)) as {
      cplId: string;
      keys: Array<{ id: string; type: KeyType; key: string }>;
    };
    plain.fill(0);
    if (!isObject(o) || !Array.isArray(o.keys)) throw new Error('bad shape');
    const fk: FilmKeys = {
      cplId: o.cplId,
      keys: o.keys.map((k) => ({
        id: k.id,
        type: k.type,
        key: /^[0-9a-f]{32}$/.test(k.key) ? fromHex(k.key) : new Uint8Array(0),
      })),
    };
    validateKeys(fk);
    return { ...fk, rulesKey: h.rulesKey };
  } catch {
    // never attach the cause: it could quote plaintext
    throw new VerifierError('SEALED_INVALID', 'sealed plaintext is not a valid key set');
  }
}
