/**
 * Issues one simulated attestation document with the real structure (notes/nitro.md §3.1-3.2):
 * an untagged COSE_Sign1 (protected {1: -35}, empty unprotected map, 96-byte r‖s ES384
 * signature) over the 9-key payload module_id, digest, timestamp, pcrs, certificate, cabundle,
 * public_key, user_data, nonce. Absent optional fields are CBOR null; present ones may be empty.
 * The payload encoding and the COSE signer are the verifier's (#verifier), so writer and reader
 * share one definition of the format. Each document gets its own leaf key and certificate, as
 * the device's do; the leaf private key is dropped when this returns.
 */
import { encodeAttestationPayload, signCoseSign1 } from '#verifier/build';
import type { TestPki } from './test-pki.ts';

export interface DocumentInput {
  pki: TestPki;
  moduleId: string;
  /** ms since the epoch */
  timestamp: number;
  /** every locked PCR, index → 48 bytes, ascending */
  pcrs: Map<number, Uint8Array>;
  userData: Uint8Array | null;
  nonce: Uint8Array | null;
  publicKey: Uint8Array | null;
}

export function issueAttestationDocument(d: DocumentInput): Uint8Array {
  const leaf = d.pki.issueLeaf(d.moduleId, d.timestamp);
  const payload = encodeAttestationPayload({
    moduleId: d.moduleId,
    digest: 'SHA384',
    timestamp: d.timestamp,
    pcrs: d.pcrs,
    certificate: leaf.der,
    cabundle: d.pki.cabundle(),
    publicKey: d.publicKey,
    userData: d.userData,
    nonce: d.nonce,
  });
  return signCoseSign1(payload, leaf.privateKey);
}
