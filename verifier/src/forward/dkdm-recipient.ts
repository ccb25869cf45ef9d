/**
 * The enclave as a DKDM recipient: the two ST 430-2 chains its identity holds, checked against
 * what its attestation binds. The enclave hands out (through its host) both chains, leaf first:
 *
 * - the KDM signer chain (its digest is the binding's `kdm-chain-sha256`);
 * - the KDM decryption chain: a CA:false leaf (digitalSignature + keyEncipherment, its own key)
 *   plus its CA certificates, ending in the same root as the signer chain (the leaf's SHA-256
 *   is the binding's `kdm-decryption-sha256`). Mastering tools target DKDMs at this leaf.
 *
 * checkEnclaveCertificates refuses a chain the attestation does not bind (IDENTITY_BINDING), a
 * decryption leaf that is not a valid ST 430-2 leaf under the signer chain's root (CERT_*), and a
 * decryption leaf that shares a key with the signer. Nothing here is trusted before it passes, so
 * `keycast verify enclave --dkdm-certificate` writes only what passed. Pure.
 */
import { createHash } from 'node:crypto';
import { VerifierError } from '../errors.ts';
import { bytesEqual, fromBase64 } from '../encoding/bytes.ts';
import type { IdentityBinding } from '../gate/identity.ts';
import { type DcCertificate, parseDcCertificate } from '../kdm/certificate.ts';
import { verifyDcChain } from '../kdm/profile.ts';
import { kdmChainSha256 } from './enclave-keys.ts';

/** The most certificates either chain may hold. */
export const MAX_ENCLAVE_CHAIN = 8;

export interface EnclaveCertificates {
  /** the KDM signer chain, leaf first, root last */
  signerChain: DcCertificate[];
  /** the KDM decryption chain, leaf first, ending in the signer chain's root */
  decryptionChain: DcCertificate[];
}

function unbound(reason: string, evidence: Record<string, unknown> = {}): never {
  throw new VerifierError('IDENTITY_BINDING', `enclave certificates: ${reason}`, { reason, ...evidence });
}

/**
 * Checks both chains (DER, leaf first) against the attestation's identity binding, at `at`.
 * Returns the parsed, checked chains. Throws IDENTITY_BINDING, CERT_MALFORMED, CERT_PROFILE,
 * CERT_CHAIN, CERT_VALIDITY.
 */
export function checkEnclaveCertificates(
  binding: IdentityBinding,
  signerDer: readonly Uint8Array[],
  decryptionDer: readonly Uint8Array[],
  at: Date,
): EnclaveCertificates {
  if (signerDer.length === 0 || signerDer.length > MAX_ENCLAVE_CHAIN)
    unbound(`the signer chain must hold 1 to ${MAX_ENCLAVE_CHAIN} certificates`);
  if (decryptionDer.length === 0 || decryptionDer.length > MAX_ENCLAVE_CHAIN)
    unbound(`the decryption chain must hold 1 to ${MAX_ENCLAVE_CHAIN} certificates`);
  if (!binding.kdmChainSha256) unbound('the attestation binds no KDM signer chain');
  if (!binding.kdmDecryptionSha256) unbound('the attestation binds no KDM decryption certificate');
  const signerChain = signerDer.map((d) => parseDcCertificate(d));
  const decryptionChain = decryptionDer.map((d) => parseDcCertificate(d));
  if (!bytesEqual(kdmChainSha256(signerChain), binding.kdmChainSha256))
    unbound('the signer chain is not the one the attestation binds');
  const leaf = decryptionChain[0]!;
  if (!bytesEqual(new Uint8Array(createHash('sha256').update(leaf.der).digest()), binding.kdmDecryptionSha256))
    unbound('the decryption certificate is not the one the attestation binds');
  const root = signerChain[signerChain.length - 1]!;
  const last = decryptionChain[decryptionChain.length - 1]!;
  if (decryptionChain.length < 2 || !bytesEqual(last.der, root.der))
    unbound("the decryption chain must end in the signer chain's root");
  verifyDcChain(signerChain[0]!, { intermediates: signerChain, roots: [root], at });
  const path = verifyDcChain(leaf, { intermediates: decryptionChain, roots: [root], at });
  if (path.length !== decryptionChain.length || path.some((c, i) => !bytesEqual(c.der, decryptionChain[i]!.der)))
    unbound('the decryption chain is not exactly the path from its leaf to the root');
  if (bytesEqual(leaf.pkcs1, signerChain[0]!.pkcs1)) unbound('the decryption leaf shares its key with the KDM signer');
  return { signerChain, decryptionChain };
}

/**
 * The checked chains of a verified-enclave record (its binding from parseVerifiedEnclave), at
 * `at`. Throws IDENTITY_BINDING when the record carries none or they are not the bound ones.
 */
export function enclaveCertificatesFromRecord(
  record: { kdmSignerChain?: unknown; kdmDecryptionChain?: unknown },
  binding: IdentityBinding,
  at: Date,
): EnclaveCertificates {
  const list = (v: unknown, what: string): Uint8Array[] => {
    if (!Array.isArray(v) || v.length > MAX_ENCLAVE_CHAIN || v.some((x) => typeof x !== 'string'))
      unbound(`the record carries no ${what} (verify the enclave again with a current keycast)`);
    try {
      return v.map((x: string) => fromBase64(x));
    } catch {
      return unbound(`the record's ${what} is not base64`);
    }
  };
  return checkEnclaveCertificates(
    binding,
    list(record.kdmSignerChain, 'KDM signer chain'),
    list(record.kdmDecryptionChain, 'KDM decryption chain'),
    at,
  );
}
