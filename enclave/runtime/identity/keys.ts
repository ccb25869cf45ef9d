/**
 * The enclave's identity: an X25519 key senders HPKE-encrypt to, an Ed25519 key that signs
 * receipts, the ST 430-2 chain (RSA-2048) that signs KDMs, and the KDM decryption certificate
 * and key (RSA-2048, a CA:false leaf under the same root) that DKDMs are addressed to, generated
 * once inside the enclave and kept only in memory (sealed copies go to the host, see seal.ts). Raw private bytes exist only while being sealed or unsealed, in Buffers
 * that are zeroed right after; the KeyObjects keep the material inside OpenSSL.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createEnclaveChains, type SignerChain } from '../forward/pki.ts';
import { createHash } from 'node:crypto';
import type { DcCertificate } from '#verifier';
import { kdmChainSha256 } from '#verifier/build';

const PKCS8_PREFIX = {
  x25519: Buffer.from('302e020100300506032b656e04220420', 'hex'),
  ed25519: Buffer.from('302e020100300506032b657004220420', 'hex'),
} as const;

export interface IdentityKeys {
  hpke: { privateKey: KeyObject; publicKey: Uint8Array };
  receipts: { privateKey: KeyObject; publicKey: Uint8Array };
  /** the KDM signer: certificates leaf first, and the leaf's private key */
  kdm: SignerChain;
  /** the KDM decryption chain (leaf, intermediate, root: the signer chain's CAs) and the leaf's private key */
  dkdm: SignerChain;
}

/**
 * TEST ONLY, and only on the simulated NSM (bootEnclave refuses it otherwise): a given KDM
 * decryption key — and, optionally, the certificate chain it belongs to (a real vector's
 * recipient certificate) — instead of a fresh one, so real DKDMs made for that key can be
 * forwarded by hand. Without `chain` the key gets a leaf under the enclave's own root as usual.
 */
export interface TestDkdm {
  privateKey: KeyObject;
  chain?: readonly DcCertificate[];
}

export interface PublicIdentity {
  hpkeX25519: Uint8Array;
  receiptsEd25519: Uint8Array;
  /** SHA-256 over the KDM signer chain's DER certificates, leaf first */
  kdmChainSha256: Uint8Array;
  /** SHA-256 of the KDM decryption leaf's DER (the DKDM recipient certificate) */
  kdmDecryptionSha256: Uint8Array;
  /** the two public chains (DER, leaf first), served at GET /v1/certificates */
  certificates: { kdmSigner: Uint8Array[]; kdmDecryption: Uint8Array[] };
}

function rawPublic(k: KeyObject): Uint8Array {
  const der = createPublicKey(k).export({ format: 'der', type: 'spki' });
  return new Uint8Array(der.subarray(der.length - 32));
}

function pair(privateKey: KeyObject): { privateKey: KeyObject; publicKey: Uint8Array } {
  return { privateKey, publicKey: rawPublic(privateKey) };
}

/**
 * A fresh identity. `release` names the creating release in the decryption leaf's CN
 * (PrintableString; the runtime gives the first 16 hex digits of its PCR0).
 */
export function generateIdentity(o: { release?: string; testDkdm?: TestDkdm } = {}): IdentityKeys {
  const chains = createEnclaveChains({
    name: 'keycast.enclave',
    release: o.release ?? 'unreleased',
    ...(o.testDkdm ? { decryptionKey: o.testDkdm.privateKey } : {}),
  });
  if (o.testDkdm?.chain) chains.decryption = { chain: [...o.testDkdm.chain], privateKey: o.testDkdm.privateKey };
  return {
    hpke: pair(generateKeyPairSync('x25519').privateKey),
    receipts: pair(generateKeyPairSync('ed25519').privateKey),
    kdm: chains.signer,
    dkdm: chains.decryption,
  };
}

/** The raw 32-byte private key (the caller zeroes it). */
export function rawPrivate(k: KeyObject): Buffer {
  const der = k.export({ format: 'der', type: 'pkcs8' });
  const raw = Buffer.from(der.subarray(der.length - 32));
  der.fill(0);
  return raw;
}

/** A private KeyObject from raw bytes; the temporary DER is zeroed. */
export function privateFromRaw(
  kind: 'x25519' | 'ed25519',
  raw: Uint8Array,
): { privateKey: KeyObject; publicKey: Uint8Array } {
  if (raw.length !== 32) throw new RangeError(`${kind} private keys are 32 bytes`);
  const der = Buffer.concat([PKCS8_PREFIX[kind], raw]);
  try {
    return pair(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }));
  } finally {
    der.fill(0);
  }
}

/** The KDM signer chain's digest the attestation binds (the verifier's format: studios check KDMs against it). */
export function chainSha256(chain: SignerChain['chain']): Uint8Array {
  return kdmChainSha256(chain);
}

export function publicIdentity(k: IdentityKeys): PublicIdentity {
  return {
    hpkeX25519: k.hpke.publicKey,
    receiptsEd25519: k.receipts.publicKey,
    kdmChainSha256: chainSha256(k.kdm.chain),
    kdmDecryptionSha256: new Uint8Array(createHash('sha256').update(k.dkdm.chain[0]!.der).digest()),
    certificates: { kdmSigner: k.kdm.chain.map((c) => c.der), kdmDecryption: k.dkdm.chain.map((c) => c.der) },
  };
}
