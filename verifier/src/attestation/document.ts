/**
 * Parsing an AWS Nitro attestation document: a COSE_Sign1 (untagged as the NSM emits it, or
 * with tag 18; protected header {1: -35}) whose payload is the nine-field map of payload.ts
 * (NSM API docs/attestation_process.md §3.1-3.2; notes/nitro.md §3.1-3.2). Parsing checks
 * structure only — no signature, chain or policy; see verify.ts. Pure; throws VerifierError
 * ATTESTATION_MALFORMED (or OVERSIZED) with the failing field.
 */
import { VerifierError } from '../errors.ts';
import { decodeCoseSign1 } from '../cose/sign1.ts';
import { decodeAttestationPayload, type AttestationPayload } from './payload.ts';

export interface AttestationDocument extends AttestationPayload {
  /** protected header bytes as received (always a1 01 38 22) */
  protected: Uint8Array;
  /** the payload bytes as received and signed */
  payload: Uint8Array;
  /** raw 96-byte r‖s ES384 signature */
  signature: Uint8Array;
  /** whether the document carried CBOR tag 18 */
  tagged: boolean;
  /** the whole document as given */
  raw: Uint8Array;
}

/** Parses and structurally checks a document. Does not verify anything cryptographic. */
export function parseAttestationDocument(bytes: Uint8Array): AttestationDocument {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('parseAttestationDocument: expected bytes');
  const raw = new Uint8Array(bytes); // private copy: later checks must see the bytes parsed
  let cose;
  try {
    cose = decodeCoseSign1(raw);
  } catch (e) {
    if (e instanceof VerifierError && e.code === 'COSE_MALFORMED')
      throw new VerifierError('ATTESTATION_MALFORMED', e.message, { field: 'cose', ...e.evidence }, { cause: e });
    throw e;
  }
  return {
    ...decodeAttestationPayload(cose.payload),
    protected: cose.protected,
    payload: cose.payload,
    signature: cose.signature,
    tagged: cose.tagged,
    raw,
  };
}
