/**
 * The log leaf of a release entry: a Rekor `dsse` 0.0.1 body, written as canonical
 * JSON (RFC 8785 style) so the same signed envelope always yields the same bytes — the log
 * deduplicates by leaf hash — and stock @sigstore/verify 3.1.x accepts it as the tlog body
 * (tlog/dsse.js checks kind/apiVersion, exactly one spec.signatures[].signature equal to the
 * envelope signature, and spec.payloadHash.value = hex SHA-256 of the payload):
 *
 *   {"apiVersion":"0.0.1","kind":"dsse","spec":{
 *      "envelope":{"payload":b64,"payloadType":…,"signatures":[{"sig":b64}]},
 *      "envelopeHash":{"algorithm":"sha256","value":hex SHA-256(canonical envelope JSON)},
 *      "payloadHash":{"algorithm":"sha256","value":hex SHA-256(payload)},
 *      "signatures":[{"signature":b64,"verifier":b64(signer SPKI or certificate PEM)}]}}
 *
 * `spec.envelope` is the Keycast extension (Rekor stores only hashes): a monitor reading the
 * leaf alone sees the PCRs and can check the signature with the embedded verifier key.
 */
import { VerifierError } from '../errors.ts';
import { MAX_ENTRY_SIZE } from '../tlog/entry-bundle.ts';
import { concatBytes, fromBase64, toBase64, utf8 } from '../encoding/bytes.ts';
import { canonicalize, exactKeys, isObject, parseJsonStrict } from '../encoding/canonical-json.ts';
import { parseEnvelope, type EnvelopeJson, type ParsedBundle } from './bundle.ts';
import {
  certificateKey,
  dssePae,
  parseTrustedKey,
  sha256Hex,
  verifyDsseSignature,
  type ReleaseSigner,
} from './dsse.ts';
import { IN_TOTO_PAYLOAD_TYPE, validateStatement, type EntryKind, type KeycastStatement } from './schema.ts';

/** c2sp.org/tlog-tiles entry bundles carry leaves with a uint16 length: the leaf limit is the entry limit. */
export const MAX_LEAF_BYTES = MAX_ENTRY_SIZE;

/** A verified, decoded release-log entry. */
export interface DecodedEntry {
  kind: EntryKind;
  statement: KeycastStatement;
  envelope: EnvelopeJson;
  /** The signer's key (and certificate, for keyless entries). */
  signer: ReleaseSigner;
  /** The canonical leaf bytes. */
  leaf: Uint8Array;
  /** Index fields (lowercase hex): PCR0 of the image named, EIF SHA-256, source commit. */
  pcr0: string;
  eifSha256?: string;
  commit?: string;
  /** For revocations: the revoked release's leaf index and PCR0. */
  revokes?: { index: number; pcr0: string };
  /**
   * Lowercase hex SHA-256(signer SPKI fingerprint ‖ PAE): the same for every leaf of the same
   * signed statement by the same key, whatever the signature bytes. ECDSA signatures are
   * malleable ((r, s) and (r, n−s) both verify), so anyone holding a published bundle can make a
   * second valid leaf of it; a log that wants to refuse such replays deduplicates by this key.
   */
  replayKey: string;
}

function malformed(message: string, evidence: Record<string, unknown> = {}): VerifierError {
  return new VerifierError('RELEASE_MALFORMED', message, evidence);
}

/**
 * The canonical dsse 0.0.1 body (the leaf text) for an envelope, its decoded payload and its
 * signer: the JSON above with keys in canonical order, written out directly because a log
 * builds one per admission. The one writer of the leaf format: encodeLeaf produces it and
 * decodeLeaf requires it byte for byte (tests check it is canonical JSON).
 */
function leafText(envelope: EnvelopeJson, payload: Uint8Array, signer: ReleaseSigner): string {
  const envText = canonicalize(envelope);
  return (
    `{"apiVersion":"0.0.1","kind":"dsse","spec":{"envelope":${envText},"envelopeHash":{"algorithm":"sha256","value":"${sha256Hex(utf8(envText))}"},` +
    `"payloadHash":{"algorithm":"sha256","value":"${sha256Hex(payload)}"},"signatures":[{"signature":${JSON.stringify(envelope.signatures[0].sig)},"verifier":${JSON.stringify(verifierField(signer))}}]}}`
  );
}

const VERIFIER_FIELD = new WeakMap<ReleaseSigner, string>();

/** base64 of the signer's PEM, once per signer object. */
function verifierField(k: ReleaseSigner): string {
  let v = VERIFIER_FIELD.get(k);
  if (v === undefined) VERIFIER_FIELD.set(k, (v = toBase64(utf8(k.pem))));
  return v;
}

/**
 * The leaf for a parsed bundle. Public-key bundles do not carry the key, so pass the signer
 * key (verifyEntryBundle does); keyless bundles use their certificate. Does not verify the
 * signature (decodeLeaf and verifyEntryBundle do).
 */
export function encodeLeaf(bundle: ParsedBundle, signer?: ReleaseSigner): Uint8Array {
  const key = signer ?? (bundle.certificate ? certificateKey(bundle.certificate) : undefined);
  if (!key) throw malformed('a public-key bundle does not carry its key: pass the signer key');
  const leaf = utf8(leafText(bundle.envelope, bundle.payload, key));
  if (leaf.length > MAX_LEAF_BYTES)
    throw new VerifierError('OVERSIZED', `the leaf is ${leaf.length} bytes, over ${MAX_LEAF_BYTES}`, {
      size: leaf.length,
      limit: MAX_LEAF_BYTES,
    });
  return leaf;
}

/**
 * What makes two submissions "the same entry" for a log: the signer and the exact signed
 * statement (its DSSE PAE), not the signature bytes. ECDSA signatures are malleable (s and n−s
 * both verify), so anyone holding a published bundle could otherwise flip its signature and
 * get the same release logged again under a new leaf. Lowercase hex SHA-256.
 */
export function entryReplayKey(signerSpkiSha256: string, payloadType: string, payload: Uint8Array): string {
  return sha256Hex(concatBytes(utf8(signerSpkiSha256), dssePae(payloadType, payload)));
}

/** Checks the envelope's signature and statement; builds the decoded entry. */
export function entryFrom(
  envelope: EnvelopeJson,
  payload: Uint8Array,
  signature: Uint8Array,
  signer: ReleaseSigner,
  leaf: Uint8Array,
): DecodedEntry {
  if (envelope.payloadType !== IN_TOTO_PAYLOAD_TYPE)
    throw new VerifierError('STATEMENT_TYPE', `payloadType must be ${IN_TOTO_PAYLOAD_TYPE}`, {
      payloadType: envelope.payloadType,
    });
  if (!verifyDsseSignature(signer, envelope.payloadType, payload, signature)) {
    throw new VerifierError('SIGNATURE_INVALID', 'the DSSE signature does not verify under the signer key', {
      signerSpkiSha256: signer.spkiSha256,
    });
  }
  const { kind, statement } = validateStatement(parseJsonStrict(payload, MAX_LEAF_BYTES, 'the statement'));
  const replayKey = entryReplayKey(signer.spkiSha256, envelope.payloadType, payload);
  const base = { kind, statement, envelope, signer, leaf, replayKey };
  if (statement.predicateType === 'https://keycast.dev/revocation/v1') {
    const r = statement.predicate.revokes;
    return { ...base, pcr0: r.pcr0, revokes: { index: r.logIndex, pcr0: r.pcr0 } };
  }
  const p = statement.predicate;
  return { ...base, pcr0: p.measurements.pcr0, eifSha256: p.eif.sha256, commit: p.source.commit };
}

/**
 * Decodes and fully checks a leaf read from the log: canonical encoding, the dsse 0.0.1
 * shape, hashes consistent with the envelope, the signature valid under the embedded
 * verifier key, and the statement schema. It does NOT say whether the signer is trusted:
 * apply a policy to `signer` (or use verifyEntryBundle at admission).
 */
export function decodeLeaf(bytes: Uint8Array): DecodedEntry {
  const body = parseJsonStrict(bytes, MAX_LEAF_BYTES, 'the leaf');
  if (!isObject(body)) throw malformed('the leaf is not a JSON object');
  exactKeys(body, ['apiVersion', 'kind', 'spec'], [], 'leaf');
  if (body.kind !== 'dsse' || body.apiVersion !== '0.0.1')
    throw malformed('the leaf must be a dsse 0.0.1 body', {
      kind: String(body.kind),
      apiVersion: String(body.apiVersion),
    });
  const spec = body.spec;
  if (!isObject(spec)) throw malformed('leaf.spec must be an object');
  exactKeys(spec, ['envelope', 'envelopeHash', 'payloadHash', 'signatures'], [], 'leaf.spec');
  const { envelope, payload, signature } = parseEnvelope(spec.envelope);
  const sigs = spec.signatures;
  if (!Array.isArray(sigs) || sigs.length !== 1 || !isObject(sigs[0]) || typeof sigs[0].verifier !== 'string')
    throw malformed('leaf.spec.signatures must hold one {signature, verifier}');
  let pem: string;
  try {
    pem = new TextDecoder('utf-8', { fatal: true }).decode(fromBase64(sigs[0].verifier));
  } catch {
    throw malformed('leaf.spec.signatures[0].verifier must be base64 PEM');
  }
  const signer = parseTrustedKey(pem);
  const expected = leafText(envelope, payload, signer);
  if (expected !== Buffer.from(bytes).toString('utf8')) {
    throw malformed('the leaf is not the canonical dsse body of its envelope (hash, signature or encoding differs)');
  }
  return entryFrom(envelope, payload, signature, signer, bytes.slice());
}
