/**
 * The sealed identity the host stores: the enclave's private keys under a KMS data key,
 * AES-256-GCM, with additional data binding the KMS key ARN and the format version, so a blob
 * cannot be replayed under another key or read as another format. Bytes:
 *
 *   "KCID" ‖ 0x02 (version) ‖ nonce (12) ‖ ciphertext ‖ tag (16)
 *   AAD = "keycast.dev/enclave-identity-seal/v2\n" ‖ key ARN ‖ "\n"
 *   plaintext = records of  type (u8) ‖ length (u16 BE) ‖ bytes:  1 = X25519 private key (32),
 *               2 = Ed25519 private key (32), 3 = the KDM signer chain (u8 count, then u16 BE
 *               length ‖ DER per certificate, leaf first), 4 = the KDM signer's private key
 *               (PKCS#8 DER), 5/6/7 = the identity's genesis (#verifier IdentityGenesis: the
 *               creating enclave's attestation document, its release's log leaf, that leaf's
 *               tlog-proof), 8 = the KDM decryption chain (as 3: leaf, then its CAs), 9 = the KDM
 *               decryption key (PKCS#8 DER); types 1–4, 8, 9 exactly once, 5–7 all or none, any
 *               other refused.
 *
 * The data key only keeps the host from reading the keys; it cannot prove who sealed them (a
 * host allowed kms:Encrypt makes a data key's CiphertextBlob itself). That is the genesis's
 * job: the keeper verifies it (#verifier verifyIdentityGenesis) before it serves an unsealed
 * identity. Version 1 blobs (before the genesis) are refused with IDENTITY_GENESIS_MISSING;
 * sealedVersion() lets the keeper say so before it calls KMS.
 *
 * Only the enclave writes and reads this format. A wrong data key, a tampered byte or another
 * ARN all fail the tag check (UNSEAL_FAILED); a blob of the wrong shape is SEALED_MALFORMED.
 * Plaintext buffers are zeroed after use.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { EnclaveError } from '../../common/errors.ts';
import { createPrivateKey } from 'node:crypto';
import { parseDcCertificate, type IdentityGenesis } from '#verifier';
import { privateFromRaw, rawPrivate, type IdentityKeys } from './keys.ts';

const KEY_RECORDS = [1, 2, 3, 4, 8, 9];
const GENESIS_RECORDS = [5, 6, 7];

function chainRecord(chain: IdentityKeys['kdm']['chain']): Buffer {
  const parts: Buffer[] = [Buffer.of(chain.length)];
  for (const c of chain) {
    const len = Buffer.alloc(2);
    len.writeUInt16BE(c.der.length);
    parts.push(len, Buffer.from(c.der));
  }
  return Buffer.concat(parts);
}

function readChain(b: Buffer): IdentityKeys['kdm']['chain'] {
  const n = b.readUInt8(0);
  const out: IdentityKeys['kdm']['chain'] = [];
  let at = 1;
  for (let i = 0; i < n; i++) {
    if (at + 2 > b.length) throw new EnclaveError('SEALED_MALFORMED', 'truncated KDM chain in the sealed identity');
    const len = b.readUInt16BE(at);
    if (at + 2 + len > b.length)
      throw new EnclaveError('SEALED_MALFORMED', 'truncated KDM chain in the sealed identity');
    out.push(parseDcCertificate(new Uint8Array(b.subarray(at + 2, at + 2 + len))));
    at += 2 + len;
  }
  if (n === 0 || at !== b.length)
    throw new EnclaveError('SEALED_MALFORMED', 'malformed KDM chain in the sealed identity');
  return out;
}

const MAGIC = Buffer.from('KCID');
const VERSION = 2;
const NONCE = 12;
const TAG = 16;
export const MAX_SEALED_BYTES = 64 * 1024;
/** The sealed formats before the genesis: refused (IDENTITY_GENESIS_MISSING). */
export const GENESISLESS_VERSIONS: readonly number[] = [1];

/** The format version byte of a sealed identity, or null when it is not one (no secret is read). */
export function sealedVersion(sealed: Uint8Array): number | null {
  return sealed.length > 5 && Buffer.from(sealed.subarray(0, 4)).equals(MAGIC) ? sealed[4]! : null;
}

export interface UnsealedIdentity {
  keys: IdentityKeys;
  /** null when the blob carries none: the caller refuses it */
  genesis: IdentityGenesis | null;
}

function aad(keyArn: string): Buffer {
  return Buffer.from(`keycast.dev/enclave-identity-seal/v${VERSION}\n${keyArn}\n`, 'utf8');
}

function record(type: number, bytes: Buffer): Buffer {
  const head = Buffer.alloc(3);
  head.writeUInt8(type, 0);
  head.writeUInt16BE(bytes.length, 1);
  return Buffer.concat([head, bytes]);
}

export function sealIdentity(
  keys: IdentityKeys,
  genesis: IdentityGenesis,
  dataKey: Uint8Array,
  keyArn: string,
): Uint8Array {
  if (dataKey.length !== 32) throw new RangeError('the data key must be 32 bytes');
  const x = rawPrivate(keys.hpke.privateKey);
  const e = rawPrivate(keys.receipts.privateKey);
  const k = keys.kdm.privateKey.export({ format: 'der', type: 'pkcs8' });
  const r1 = record(1, x);
  const r2 = record(2, e);
  const r4 = record(4, k);
  const d = keys.dkdm.privateKey.export({ format: 'der', type: 'pkcs8' });
  const r9 = record(9, d);
  const plain = Buffer.concat([
    r1,
    r2,
    record(3, chainRecord(keys.kdm.chain)),
    r4,
    record(8, chainRecord(keys.dkdm.chain)),
    r9,
    record(5, Buffer.from(genesis.document)),
    record(6, Buffer.from(genesis.entry)),
    record(7, Buffer.from(genesis.proof, 'utf8')),
  ]);
  const nonce = randomBytes(NONCE);
  try {
    const c = createCipheriv('aes-256-gcm', dataKey, nonce);
    c.setAAD(aad(keyArn));
    const body = Buffer.concat([c.update(plain), c.final()]);
    return new Uint8Array(Buffer.concat([MAGIC, Buffer.of(VERSION), nonce, body, c.getAuthTag()]));
  } finally {
    for (const b of [x, e, k, d, r1, r2, r4, r9, plain]) b.fill(0);
  }
}

export function unsealIdentity(sealed: Uint8Array, dataKey: Uint8Array, keyArn: string): UnsealedIdentity {
  const b = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  if (b.length < MAGIC.length + 1 + NONCE + TAG || b.length > MAX_SEALED_BYTES || !b.subarray(0, 4).equals(MAGIC)) {
    throw new EnclaveError('SEALED_MALFORMED', 'not a sealed Keycast identity', { size: b.length });
  }
  if (GENESISLESS_VERSIONS.includes(b[4]!))
    throw new EnclaveError(
      'IDENTITY_GENESIS_MISSING',
      `a version ${b[4]} sealed identity carries no genesis attestation: nothing shows an enclave made it`,
      { version: b[4] },
    );
  if (b[4] !== VERSION)
    throw new EnclaveError('SEALED_MALFORMED', `sealed identity version ${b[4]} is not ${VERSION}`, { version: b[4] });
  const nonce = b.subarray(5, 5 + NONCE);
  const tag = b.subarray(b.length - TAG);
  let plain: Buffer;
  try {
    const d = createDecipheriv('aes-256-gcm', dataKey, nonce);
    d.setAAD(aad(keyArn));
    d.setAuthTag(tag);
    plain = Buffer.concat([d.update(b.subarray(5 + NONCE, b.length - TAG)), d.final()]);
  } catch {
    throw new EnclaveError(
      'UNSEAL_FAILED',
      'the sealed identity does not open under this data key and key ARN (tampered, or sealed for another key)',
    );
  }
  try {
    const raws = new Map<number, Buffer>();
    for (let at = 0; at < plain.length; ) {
      if (at + 3 > plain.length) throw new EnclaveError('SEALED_MALFORMED', 'truncated record in the sealed identity');
      const type = plain.readUInt8(at);
      const len = plain.readUInt16BE(at + 1);
      if (
        at + 3 + len > plain.length ||
        raws.has(type) ||
        !(KEY_RECORDS.includes(type) || GENESIS_RECORDS.includes(type))
      )
        throw new EnclaveError('SEALED_MALFORMED', 'unexpected record in the sealed identity', { type });
      raws.set(type, plain.subarray(at + 3, at + 3 + len));
      at += 3 + len;
    }
    if (KEY_RECORDS.some((t) => !raws.has(t)))
      throw new EnclaveError('SEALED_MALFORMED', 'the sealed identity lacks a key');
    const genesisParts = GENESIS_RECORDS.filter((t) => raws.has(t)).length;
    if (genesisParts !== 0 && genesisParts !== GENESIS_RECORDS.length)
      throw new EnclaveError('SEALED_MALFORMED', 'the sealed identity holds part of a genesis');
    const genesis: IdentityGenesis | null =
      genesisParts === 0
        ? null
        : {
            document: new Uint8Array(raws.get(5)!),
            entry: new Uint8Array(raws.get(6)!),
            proof: raws.get(7)!.toString('utf8'),
          };
    try {
      const kdm = {
        chain: readChain(raws.get(3)!),
        privateKey: createPrivateKey({ key: raws.get(4)!, format: 'der', type: 'pkcs8' }),
      };
      const dkdm = {
        chain: readChain(raws.get(8)!),
        privateKey: createPrivateKey({ key: raws.get(9)!, format: 'der', type: 'pkcs8' }),
      };
      return {
        keys: {
          hpke: privateFromRaw('x25519', raws.get(1)!),
          receipts: privateFromRaw('ed25519', raws.get(2)!),
          kdm,
          dkdm,
        },
        genesis,
      };
    } catch (e) {
      if (e instanceof EnclaveError) throw e;
      throw new EnclaveError('SEALED_MALFORMED', 'a sealed key or certificate does not parse');
    }
  } finally {
    plain.fill(0);
  }
}
