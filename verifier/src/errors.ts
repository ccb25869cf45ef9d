/**
 * The verifier's one error class. Every composite check in verifier/ that fails throws a
 * VerifierError whose `code` is one of the closed set below, with the evidence a studio needs
 * to file a complaint (checkpoints, proofs, expected/actual values) attached. Evidence never
 * holds secrets: only public material (hashes, notes, certificates, measurements).
 *
 * Caller misuse (wrong argument types) throws TypeError/RangeError instead; raw signature
 * primitives return booleans. Add new codes here, keep the list sorted within each group, and
 * never reuse or rename a code: the CLI maps them to exit codes and HTTP servers map them to
 * statuses.
 */
import { toHex } from './encoding/bytes.ts';

export const VERIFIER_ERROR_CODES = [
  // input shape
  'MALFORMED',
  'OVERSIZED',
  // Merkle proofs (RFC 6962 / RFC 9162)
  'PROOF_INVALID',
  'PROOF_SIZE',
  'ROOT_MISMATCH',
  'INCONSISTENT',
  // signed notes, checkpoints, cosignatures, tiles
  'NOTE_MALFORMED',
  'NOTE_UNVERIFIED',
  'NOTE_BAD_SIGNATURE',
  'KEY_MALFORMED',
  'CHECKPOINT_MALFORMED',
  'CHECKPOINT_ORIGIN',
  'CHECKPOINT_STALE',
  'COSIGNATURE_INVALID',
  'WITNESS_POLICY',
  'TILE_PATH_INVALID',
  'TILE_MISMATCH',
  'TLOG_PROOF_MALFORMED',
  // release entries: DSSE bundles over in-toto statements, their leaves and TLEs
  'RELEASE_MALFORMED',
  'STATEMENT_TYPE',
  'PREDICATE_INVALID',
  'SIGNATURE_INVALID',
  'SIGNER_NOT_ALLOWED',
  'REVOCATION_INVALID',
  'SIGSTORE_INVALID',
  'TLE_INVALID',
  // generic Sigstore bundles (verify bundle): who signed, what was signed, the trust root
  /** a keyless signer's certificate does not match the identity policy (evidence.field names the flag) */
  'IDENTITY_MISMATCH',
  /** the artifact (or its digest) is not what the bundle signs (message digest or in-toto subject) */
  'ARTIFACT_MISMATCH',
  /** a trusted_root.json that does not parse or leaves a validity bound open */
  'TRUSTED_ROOT_INVALID',
  // Nitro attestation documents: COSE_Sign1, X.509 chain to a pinned root, policy
  'COSE_MALFORMED',
  'ATTESTATION_MALFORMED',
  'ATTESTATION_SIGNATURE',
  'CERT_MALFORMED',
  'CERT_CHAIN',
  'CERT_VALIDITY',
  'CERT_CONSTRAINTS',
  'ROOT_UNTRUSTED',
  'PCR_MISMATCH',
  'DEBUG_MODE',
  'NONCE_MISMATCH',
  'USER_DATA_MISMATCH',
  'PUBLIC_KEY_MISMATCH',
  'ATTESTATION_AGE',
  'RELEASE_NOT_LOGGED',
  'RELEASE_REVOKED',
  // the log's signed release-status statement
  'STATUS_MALFORMED',
  'STATUS_TREE_MISMATCH',
  'STATUS_MISMATCH',
  // the enclave's boot gate: its pinned configuration and the proof bundle the host hands it
  'GATE_CONFIG_MALFORMED',
  'GATE_BUNDLE_MALFORMED',
  'PROOF_MISSING',
  // CMS EnvelopedData for a KMS Recipient (CiphertextForRecipient)
  'CMS_MALFORMED',
  'CMS_UNSUPPORTED',
  'CMS_DECRYPT',
  'IDENTITY_BINDING',
  // enclave images: EIF v4 container, cpio newc ramdisks
  'EIF_MALFORMED',
  'EIF_CRC',
  'EIF_UNSUPPORTED',
  /** an EIF fetched or given as the released image is not the one the release names (its SHA-256) */
  'EIF_DIGEST_MISMATCH',
  'CPIO_MALFORMED',
  // talking to a log (the log client): not a verdict on what was checked, but on the log itself
  'LOG_UNAVAILABLE',
  'LOG_REFUSED',
  'LOG_RESPONSE_INVALID',
  'LOG_RESPONSE_OVERSIZED',
  // what a studio holds the log to across calls and against its own entries
  'LOG_INCONSISTENT',
  'STATUS_CONTRADICTED',
  'REBUILDS_MISSING',
  // forwarding (content keys → projectors): rules, sealed keys, receipts, ST 430-2 certificates, KDMs
  'RULES_INVALID',
  'RULES_SIGNATURE',
  'RULES_EXPIRED',
  'RULES_OUTDATED',
  'SEALED_INVALID',
  'SEALED_BINDING',
  'SEALED_OUTDATED',
  'REQUEST_OUTDATED',
  'REQUEST_EXPIRED',
  'RECEIPT_INVALID',
  'RECORD_UNVERIFIABLE',
  'RECIPIENT_NOT_ALLOWED',
  'CERT_PROFILE',
  'CERT_NAME',
  'KDM_MALFORMED',
  'KDM_SIGNATURE',
  'KDM_DECRYPT',
  'RAW_DELIVERY_MALFORMED',
  'RAW_DELIVERY_BINDING',
  // the host refused a forward request with no coded answer (an enclave's own refusals keep their codes: RelayedRefusal)
  'FORWARD_REFUSED',
  // DKDMs (a mastering tool's KDM addressed to the enclave): one code per reason it is refused (kdm/dkdm-check.ts)
  'DKDM_NOT_ALLOWED',
  'DKDM_RULES_NOT_ENDORSED',
  'DKDM_RELEASE_NOT_ALLOWED',
  'DKDM_OVERSIZED',
  'DKDM_MALFORMED',
  'DKDM_SIGNATURE',
  'DKDM_SIGNER_NOT_LEAF',
  'DKDM_SIGNER_CHAIN',
  'DKDM_SIGNER_NOT_PINNED',
  'DKDM_RECIPIENT',
  'DKDM_DECRYPT',
  'DKDM_INTEROP_BLOCK',
  'DKDM_BLOCK_MALFORMED',
  'DKDM_BLOCK_SIGNER',
  'DKDM_CPL_MISMATCH',
  'DKDM_KEY_IDS',
  'DKDM_BLOCK_WINDOW',
  'DKDM_WINDOW_SIGNER_CHAIN',
  'DKDM_WINDOW_OUTSIDE',
  'DKDM_WINDOW_ENCLAVE_CHAIN',
  // delivery transparency (issue 19): delivery entries, enclave identity entries, sealed manifests
  /** a delivery entry (or its envelope, or its log leaf) is not the keycast-delivery/v1 schema */
  'DELIVERY_INVALID',
  /** a delivery entry's signature does not verify under the receipt key it names (or the one expected) */
  'DELIVERY_SIGNATURE',
  /** the log entry a proof names is not a delivery entry with the root, key or digest the proof needs */
  'DELIVERY_NOT_LOGGED',
  /** an enclave identity entry (or its leaf) is not the keycast-enclave-identity/v1 schema */
  'IDENTITY_ENTRY_INVALID',
  /** a delivery manifest's plaintext is not the keycast-delivery-manifest/v1 schema */
  'MANIFEST_INVALID',
  /** a sealed manifest does not open with this audit key (sealed to another key, or tampered) */
  'MANIFEST_UNOPENABLE',
  /** a manifest does not reproduce its entry (root, count, request digest, sealed digest or size) */
  'MANIFEST_MISMATCH',
] as const;

export type VerifierErrorCode = (typeof VERIFIER_ERROR_CODES)[number];

/** Public evidence attached to a refusal. Values must be JSON-serialisable or Uint8Array. */
export type Evidence = Record<string, unknown>;

/** The JSON view of a coded error (CLI `--json` output, HTTP error bodies). */
export interface CodedErrorJson<Code extends string = string> {
  error: string;
  code: Code;
  message: string;
  evidence: Evidence;
}

/**
 * The one coded-error base every folder instantiates with its own closed code list
 * (VerifierError, LogError, BuilderError, EnclaveError). `code` is the stable, machine-read
 * part; `message` is prose without the code (text output prints the code beside it, see
 * errorText); `evidence` is public material only; `cause` chains the underlying error.
 */
export class CodedError<Code extends string> extends Error {
  readonly code: Code;
  readonly evidence: Evidence;

  constructor(code: Code, message: string, evidence: Evidence = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.evidence = evidence;
  }

  /** A JSON view for CLIs and HTTP bodies; byte strings become hex. */
  toJSON(): CodedErrorJson<Code> {
    return { error: this.name, code: this.code, message: this.message, evidence: jsonEvidence(this.evidence) };
  }
}

/** Evidence as JSON: byte strings (also inside arrays) become lowercase hex. */
export function jsonEvidence(e: Evidence): Evidence {
  const out: Evidence = {};
  for (const [k, v] of Object.entries(e)) out[k] = Array.isArray(v) ? v.map(hexIfBytes) : hexIfBytes(v);
  return out;
}

function hexIfBytes(v: unknown): unknown {
  return v instanceof Uint8Array ? toHex(v) : v;
}

/** One line for text output: `CODE: message` for a coded error, the message otherwise. */
export function errorText(e: unknown): string {
  if (e instanceof CodedError) return `${e.code}: ${e.message}`;
  return e instanceof Error ? e.message : String(e);
}

export class VerifierError extends CodedError<VerifierErrorCode> {
  override readonly name = 'VerifierError';
}

/**
 * A refusal the enclave decided, relayed by its host to a studio's command: the enclave's own
 * code and evidence, unchanged, with where it came from added (the URL, the HTTP status, and
 * e.g. the batch and the recipient's place in the whole list). It belongs to the enclave's
 * family (its name is EnclaveError, so the CLI's exit code is the enclave's), whatever code it
 * carries: one name per refusal from where it is decided to where the user sees it.
 */
export class RelayedRefusal extends CodedError<string> {
  override readonly name = 'EnclaveError';
}

export function isVerifierError(e: unknown, code?: VerifierErrorCode): e is VerifierError {
  return e instanceof VerifierError && (code === undefined || e.code === code);
}
