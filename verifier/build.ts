/**
 * @keycast/verifier, the build and encode side (`#verifier/build`): what produces bytes and
 * options rather than verdicts. The shared encodings (bytes, the strict CBOR codec, canonical
 * JSON, hashing), the formats' writers (notes, checkpoints, tiles, tlog-proofs, log leaves,
 * release status, EIF and cpio, KDMs), certificate building, sealing (CMS for a KMS Recipient,
 * HPKE, raw outputs), signing, the log transport and the limits every Keycast HTTP server runs
 * with. Pure, like the decision side (#verifier, verifier/index.ts), which never imports the
 * files under verifier/build/; the encodings both sides use live under verifier/src/ (encoding/,
 * tlog/hash.ts, errors.ts), the shared lower floor.
 *
 * A name is here only if code outside verifier/ imports it, or the verifier's own commands and
 * tests import it beside #verifier's (verifier/test/entries.test.ts checks that no name is
 * exported by both entries).
 */
// shared encodings: bytes, the one strict CBOR codec, canonical JSON, JSON shapes, RFC 6962 hashing
export type { CodedErrorJson } from './src/errors.ts';
export { toHex, fromHex, toBase64, fromBase64, bytesEqual, compareUtf8, utf8 } from './src/encoding/bytes.ts';
export { CborTag, WideUint, decodeCbor, encodeCbor } from './src/encoding/cbor.ts';
export type { CborMap, CborValue, DecodeOptions as CborDecodeOptions } from './src/encoding/cbor.ts';
export { canonicalize, parseJsonStrict, MAX_JSON_DEPTH } from './src/encoding/canonical-json.ts';
export { JsonShapeGuard } from './src/encoding/json-shape.ts';
export { hashLeaf, hashChildren, sha256, EMPTY_ROOT } from './src/tlog/hash.ts';
export type { HashReader } from './src/tlog/index.ts';
// the log's side of the tlog: trees and proofs, signed notes, checkpoints, tiles, cosignatures, witness requests
export { rangeHash, treeHash, subtreeHashesForAppend, proveInclusion, proveConsistency } from './src/tlog/index.ts';
export { MemoryTree } from './src/tlog/index.ts';
export { SIG_COSIGNATURE_V1, isValidKeyName, verifierKeyId, keyIdHex } from './src/note/keys.ts';
export { parseSignerKey, formatSignerKey, generateNoteKey, noteSigner } from './src/note/keys.ts';
export type { NoteSigner } from './src/note/keys.ts';
export {
  MAX_SIGNATURES,
  MAX_NOTE_BYTES,
  splitNote,
  formatSignatureLine,
  signatureLines,
  signNote,
} from './src/note/note.ts';
export { parseTreeSize, formatCheckpoint } from './src/tlog/checkpoint.ts';
export { TILE_HEIGHT, TILE_WIDTH, encodeTileIndex, tilePath, entriesPath, parseTilePath } from './src/tlog/index.ts';
export { tilesForSize, entryBundlesForSize, newTiles, newEntryBundles, readTileData } from './src/tlog/index.ts';
export { encodeEntryBundle, decodeEntryBundle } from './src/tlog/index.ts';
export type { Tile } from './src/tlog/index.ts';
export { cosignatureSigner, cosignatureVerifierKey } from './src/note/cosignature.ts';
export { formatTlogProof } from './src/tlog/tlog-proof.ts';
export { formatAddCheckpoint, parseAddCheckpoint } from './src/tlog/witness-request.ts';
export type { AddCheckpointRequest } from './src/tlog/witness-request.ts';
// release statements, leaves, transparency-log entries and status, as the builder and the log write them
export { IN_TOTO_STATEMENT_V1, IN_TOTO_PAYLOAD_TYPE } from './src/release/schema.ts';
export { RELEASE_PREDICATE_V1, REVOCATION_PREDICATE_V1, REBUILD_PREDICATE_V1 } from './src/release/schema.ts';
export { validateMeasurements } from './src/release/schema.ts';
export type { SourceRef, ReleasePredicate, ReleaseStatement, RebuildStatement } from './src/release/schema.ts';
export { dssePae, certificateKey } from './src/release/dsse.ts';
export { MAX_BUNDLE_BYTES } from './src/release/bundle.ts';
export type { EnvelopeJson } from './src/release/bundle.ts';
export { MAX_LEAF_BYTES, encodeLeaf, entryReplayKey } from './src/release/leaf.ts';
export { logIdFor, ed25519Spki, buildTransparencyLogEntry, trustedRootForLog } from './src/release/tle.ts';
export type { TleJson, TrustedRootJson } from './src/release/tle.ts';
export { formatReleaseStatus, parseReleaseStatus, signReleaseStatus } from './src/release/status.ts';
export { fulcioIdentity } from './src/sigstore/fulcio-identity.ts';
export type { FulcioIdentity } from './src/sigstore/fulcio-identity.ts';
export { IDENTITY_POLICY_FLAGS, identityPolicyFromFlagValues } from './src/sigstore/identity-policy.ts';
export { PUBLIC_GOOD_TRUSTED_ROOT_SHA256, publicGoodTrustedRootBytes } from './src/sigstore/public-good.ts';
// enclave images: the EIF v4 format, measurements, describe-eif, cpio newc ramdisks (verifier/build/eif, cpio)
export { EIF_HEADER_SIZE, EIF_SECTION_HEADER_SIZE, EIF_CRC_OFFSET, SectionType } from './build/eif/format.ts';
export { encodeSectionHeader, crc32, eifCrc32 } from './build/eif/format.ts';
export type { EifArch, SectionTypeCode } from './build/eif/format.ts';
export { crc32Combine } from './build/eif/crc-combine.ts';
export { FIXED_BUILD_TIME, serdeJson, encodeMetadata, decodeMetadata } from './build/eif/metadata.ts';
export type { EifMetadata } from './build/eif/metadata.ts';
export { PCR_BYTES, pcrFromDigest, pcrOf, EifMeasurer } from './build/eif/measure.ts';
export type { EifPcrs } from './build/eif/measure.ts';
export { pemToDer, pcrPayload, encodeSignatureSection, decodeSignatureSection } from './build/eif/signature.ts';
export { EifScanner, scanEif } from './build/eif/scan.ts';
export type { EifScan } from './build/eif/scan.ts';
export { parseEif, measureEif, crcError } from './build/eif/parse.ts';
export { describeEif, describeScan } from './build/eif/describe.ts';
export { planSections, layoutEif, writeEif } from './build/eif/write.ts';
export type { EifSigning } from './build/eif/write.ts';
export {
  CPIO_MAGIC,
  CPIO_HEADER_SIZE,
  CPIO_TRAILER_NAME,
  DIALECTS,
  S_IFMT,
  S_IFREG,
  S_IFLNK,
} from './build/cpio/newc.ts';
export { pad4, encodeNewcHeader, trailerHeader, finalPadding } from './build/cpio/newc.ts';
export type { CpioDialect } from './build/cpio/newc.ts';
export { planArchive } from './build/cpio/plan.ts';
export type { CpioMember } from './build/cpio/plan.ts';
export { readCpio } from './build/cpio/read.ts';
export type { CpioEntry } from './build/cpio/read.ts';
// certificates, COSE and attestation payloads as the NSM simulator and the test PKIs make them
export { parseCertificate, MAX_CERTIFICATE_BYTES } from './src/x509/certificate.ts';
export { buildCertificate } from './build/x509/build.ts';
export type { CertificateInput } from './build/x509/build.ts';
export { ES384_PROTECTED, MAX_COSE_BYTES, sigStructure, signCoseSign1 } from './src/cose/sign1.ts';
export { BOOT_LOCKED_PCRS, encodeAttestationPayload, decodeAttestationPayload } from './src/attestation/payload.ts';
export { isDebugMode } from './src/attestation/policy.ts';
// what the enclave and its host write: pinned configuration, proof bundles, identity bindings, sealed identity
export { ENCLAVE_CONFIG_PATH, formatEnclaveConfig } from './src/gate/config.ts';
export { MAX_PROOF_BUNDLE_BYTES, formatProofBundle } from './src/gate/bundle.ts';
export { formatIdentityBinding } from './src/gate/identity.ts';
export { MAX_CMS_BYTES } from './src/cms/profile.ts';
export { sealForRecipient, recipientKey } from './build/cms/seal.ts';
// the log transport (capped, timed out, retried; LogClient on #verifier checks every answer)
export type { AddEntryAnswer } from './src/client/log-client.ts';
export { readCapped, request as httpRequest } from './src/client/transport.ts';
export type { FetchLike, RetryEvent, RawAnswer } from './src/client/transport.ts';
// forwarding, the writing half: rules, sealed keys, outputs, receipts, requests, enclave records
export {
  RULES_TYPE,
  UUID_URN,
  formatRules,
  rulesDigest,
  signRules,
  parseInstant,
  keyFingerprint,
} from './src/forward/rules.ts';
export { signEnvelope } from './src/forward/envelope.ts';
export type { SignedEnvelope } from './src/forward/envelope.ts';
export { hpkeSuite, generateHpkeKeyPair, deriveHpkeKeyPair, sealContentKeys } from './src/forward/sealed-keys.ts';
export type { KeyType } from './src/forward/sealed-keys.ts';
export { sealRawHpkeDelivery } from './src/forward/raw-hpke.ts';
export { RAW_RSA_OAEP_ENCRYPTION, rawRsaOaepSealer } from './src/forward/raw-rsa-oaep.ts';
export type { RawRsaOaepSealer } from './src/forward/raw-rsa-oaep.ts';
export { DeliveryTree, signReceipt } from './src/forward/receipt.ts';
export { MAX_FORWARD_RECIPIENTS, MAX_FORWARD_INTERMEDIATES } from './src/forward/request.ts';
export { MAX_FORWARD_REQUEST_LIFETIME_MS, FORWARD_JSON_LIMITS } from './src/forward/request.ts';
export { formatForwardRequest, forwardRequestDigest } from './src/forward/request.ts';
export {
  formatEnclaveKeys,
  kdmChainSha256,
  verifiedEnclaveRecord,
  formatVerifiedEnclave,
} from './src/forward/enclave-keys.ts';
export { MAX_ENCLAVE_CHAIN, enclaveCertificatesFromRecord } from './src/forward/dkdm-recipient.ts';
export { DKDM_ENDORSEMENT_CONTEXT, endorseRules } from './src/forward/dkdm-endorsement.ts';
// D-cinema certificates and KDMs, as the enclave and `keycast dev certs` write them
export { OID_SHA256_RSA, nameValue, publicKeyThumbprint, certificateThumbprint } from './src/kdm/certificate.ts';
export { pemCertificates, certificatePem } from './src/kdm/certificate.ts';
export { cnRoles } from './src/kdm/profile.ts';
export { buildDcCertificate } from './build/kdm/certificate-build.ts';
export { encodeKeyBlock, decodeKeyBlock, oaepSha1Decrypt } from './src/kdm/block.ts';
export { kdmSigner, buildKdm, buildKdmBytes } from './build/kdm/write.ts';
export type { KdmSigner } from './build/kdm/write.ts';
export { dkdmRulesRoots, chainValidity } from './src/kdm/dkdm-check.ts';
// operator-side plumbing: secret-file modes and the limits every Keycast HTTP server runs with
export { secretFileModeProblem, secretFileText } from './build/secret-file.ts';
export { SERVER_LIMITS, SERVER_LIMIT_FLAGS_HELP, serverLimits, serverOptions } from './build/server-limits.ts';
export { limitConnections, serverLimitFlagOptions, serverLimitsFromFlags } from './build/server-limits.ts';
export type { ServerLimits } from './build/server-limits.ts';
// delivery transparency (issue 19): writing delivery and identity entries, sealing manifests, add-entry bodies
export {
  DELIVERY_TYPE,
  DELIVERY_PAYLOAD_TYPE,
  MAX_MANIFEST_BYTES,
  MAX_DELIVERY_ENVELOPE_BYTES,
  receiptKeyBase64,
  cplIdDigest,
  signDeliveryEntry,
  deliveryEntryLeaf,
} from './src/delivery/entry.ts';
export { IDENTITY_TYPE, identityEntryLeaf } from './src/delivery/identity.ts';
export type { IdentityEntry } from './src/delivery/identity.ts';
export {
  MANIFEST_TYPE,
  validateManifest,
  encodeManifest,
  parseManifest,
  sealManifest,
  auditPublicKey,
} from './src/delivery/manifest.ts';
export type { ManifestRecipient, SealedManifest } from './src/delivery/manifest.ts';
export {
  MAX_IDENTITY_ATTESTATION_BYTES,
  MAX_DELIVERY_BODY_BYTES,
  identityAddEntryBody,
  deliveryAddEntryBody,
} from './src/delivery/add-entry.ts';
export type { AddEntryBody } from './src/delivery/add-entry.ts';
export { KDM_LOGGED_TYPE, formatKdmLoggedProof } from './src/delivery/kdm-logged.ts';
export { MAX_TLE_PROOF_HASHES } from './src/release/logged-leaf.ts';
// output formats: one module each (the contract and how to add one: build/forward/formats/format.ts)
export { DELIVERY_FORMATS, deliveryFormat, kdmTime } from './build/forward/formats/index.ts';
export type {
  DeliveryFormat,
  DeliveryBinding,
  FormatRecipient,
  FormatRequest,
  OpenedDelivery as OpenedFormatDelivery,
  PreparedFormat,
} from './build/forward/formats/index.ts';
