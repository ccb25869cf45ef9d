/**
 * The forwarding enclave's public keys as its attestation binds them: the attestation document's
 * `public_key` field holds
 *
 *   "keycast-forward/v1" ‖ 0x00 ‖ X25519 HPKE public key (32) ‖ Ed25519 receipt public key (32)
 *
 * (83 bytes, within the NSM's 1024-byte limit). A studio seals content keys only to an HPKE key
 * read this way from a verified attestation, and checks receipts with the receipt key read the
 * same way. Pure.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { VerifierError } from '../errors.ts';
import { concatBytes, utf8 } from '../encoding/bytes.ts';
import type { VerifiedAttestation } from '../attestation/verify.ts';

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
  return concatBytes(TAG, hpke, new Uint8Array(pub.export({ type: 'spki', format: 'der' })).subarray(ED25519_SPKI_PREFIX.length));
}

/** Reads the keys from a verified attestation. Throws PUBLIC_KEY_MISMATCH when it binds none. */
export function enclaveKeysFromAttestation(a: VerifiedAttestation): EnclaveKeys {
  const pk = a.publicKey;
  if (!pk || pk.length !== ENCLAVE_KEYS_BYTES || Buffer.compare(pk.subarray(0, TAG.length), TAG) !== 0) {
    throw new VerifierError('PUBLIC_KEY_MISMATCH', 'the attestation does not bind keycast forwarding keys in public_key', { length: pk?.length ?? 0 });
  }
  const receipt = createPublicKey({ key: Buffer.from(concatBytes(ED25519_SPKI_PREFIX, pk.subarray(TAG.length + 32))), format: 'der', type: 'spki' });
  return { hpke: pk.slice(TAG.length, TAG.length + 32), receipt, pcr0: a.pcrs.get(0)! };
}
