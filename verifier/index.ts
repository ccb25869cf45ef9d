/**
 * @keycast/verifier — the pure trust core. Every other folder imports verifier/ only through
 * this file (as `#verifier`). Library code here does no I/O: bytes and trusted inputs in,
 * a typed result or a coded VerifierError out.
 */
export {
  CodedError,
  VerifierError,
  RelayedRefusal,
  VERIFIER_ERROR_CODES,
  isVerifierError,
  errorText,
  jsonEvidence,
} from './src/errors.ts';
export type { VerifierErrorCode, Evidence, CodedErrorJson } from './src/errors.ts';
export { SECRET_FILE_FORBIDDEN_BITS, secretFileModeProblem, secretFileText } from './src/secret-file.ts';
// transparency log core: bytes, RFC 6962 Merkle proofs
// the one strict CBOR codec (COSE, attestation payloads, EIF signatures, NSM messages)
export {
  CBOR_MAX_BYTES,
  CBOR_MAX_DEPTH,
  CborTag,
  WideUint,
  decodeCbor,
  encodeCbor,
  isCborMap,
} from './src/encoding/cbor.ts';
export type { CborKey, CborMap, CborValue, DecodeOptions as CborDecodeOptions } from './src/encoding/cbor.ts';
export {
  toHex,
  fromHex,
  toBase64,
  fromBase64,
  concatBytes,
  bytesEqual,
  compareUtf8,
  u64be,
  utf8,
} from './src/encoding/bytes.ts';
export { hashLeaf, hashChildren, sha256, EMPTY_ROOT, HASH_SIZE } from './src/tlog/hash.ts';
export {
  rangeHash,
  treeHash,
  subtreeHashesForAppend,
  proveInclusion,
  proveConsistency,
  rootFromInclusionProof,
  checkInclusion,
  checkConsistency,
  checkConsistencyToRoot,
  MemoryTree,
} from './src/tlog/index.ts';
export type { HashReader } from './src/tlog/index.ts';
// C2SP signed-note and tlog-checkpoint
export {
  SIG_ED25519,
  SIG_COSIGNATURE_V1,
  isValidKeyName,
  verifierKeyId,
  keyIdHex,
  parseVerifierKey,
  formatVerifierKey,
  parseSignerKey,
  formatSignerKey,
  generateNoteKey,
  noteSigner,
  noteVerifier,
} from './src/note/keys.ts';
export type { NoteSigner, NoteVerifier, Signer, Verifier, VerifierKey, SignerKey } from './src/note/keys.ts';
export {
  MAX_SIGNATURES,
  MAX_NOTE_BYTES,
  isValidNoteText,
  splitNote,
  formatSignatureLine,
  signatureLines,
  signNote,
  openNote,
} from './src/note/note.ts';
export type { NoteSignature, SplitNote, OpenedNote } from './src/note/note.ts';
export { parseTreeSize, formatCheckpoint, parseCheckpoint, openCheckpoint } from './src/tlog/checkpoint.ts';
export type { Checkpoint } from './src/tlog/checkpoint.ts';
// C2SP tlog-tiles
export {
  TILE_HEIGHT,
  TILE_WIDTH,
  MAX_TILE_LEVEL,
  encodeTileIndex,
  tilePath,
  entriesPath,
  parseTilePath,
  tileWidthInTree,
  tilesForSize,
  entryBundlesForSize,
  newTiles,
  newEntryBundles,
  readTileData,
  tileHashReader,
  checkTile,
  MAX_ENTRY_SIZE,
  encodeEntryBundle,
  decodeEntryBundle,
  checkEntryBundle,
} from './src/tlog/index.ts';
export type { Tile } from './src/tlog/index.ts';
// C2SP tlog-cosignature and tlog-proof
export {
  MAX_FUTURE_SECONDS,
  cosignatureTimestamp,
  cosignatureSigner,
  cosignatureVerifierKey,
  cosignatureVerifier,
  checkWitnessPolicy,
} from './src/note/cosignature.ts';
export type { CosignatureVerifier, WitnessPolicy } from './src/note/cosignature.ts';
export {
  TLOG_PROOF_HEADER,
  MAX_PROOF_HASHES,
  formatTlogProof,
  parseTlogProof,
  readTlogProof,
  verifyTlogProof,
} from './src/tlog/tlog-proof.ts';
export type { ReadTlogProof, TlogProof, TlogProofOptions } from './src/tlog/tlog-proof.ts';
// release entries: schema, DSSE bundles, canonical leaves, admission, TLEs, Sigstore verification
export {
  IN_TOTO_STATEMENT_V1,
  IN_TOTO_PAYLOAD_TYPE,
  RELEASE_PREDICATE_V1,
  REVOCATION_PREDICATE_V1,
  REBUILD_PREDICATE_V1,
  PREDICATE_KINDS,
  validateStatement,
  validateMeasurements,
  validateSource,
  validateReleasePredicate,
  validateRevocationPredicate,
  validateRebuildPredicate,
} from './src/release/schema.ts';
export type {
  EntryKind,
  Measurements,
  SourceRef,
  ReleasePredicate,
  RevocationPredicate,
  RebuildPredicate,
  Subject,
  ReleaseStatement,
  RevocationStatement,
  RebuildStatement,
  KeycastStatement,
} from './src/release/schema.ts';
export { canonicalize, parseJsonStrict, jsonStructure, MAX_JSON_DEPTH } from './src/encoding/canonical-json.ts';
export { JsonShapeGuard } from './src/encoding/json-shape.ts';
export type { JsonShapeLimits } from './src/encoding/json-shape.ts';
export { dssePae, parseTrustedKey, certificateKey, verifyDsseSignature } from './src/release/dsse.ts';
export type { ReleaseSigner } from './src/release/dsse.ts';
export { BUNDLE_MEDIA_TYPES, MAX_BUNDLE_BYTES, parseBundle, parseEnvelope } from './src/release/bundle.ts';
export type { ParsedBundle, EnvelopeJson } from './src/release/bundle.ts';
export { MAX_LEAF_BYTES, encodeLeaf, decodeLeaf, entryReplayKey } from './src/release/leaf.ts';
export type { DecodedEntry } from './src/release/leaf.ts';
export { verifyEntryBundle, checkRevocation } from './src/release/entry.ts';
export type { EntryPolicyOptions, TrustedKey } from './src/release/entry.ts';
export {
  logIdFor,
  ed25519Spki,
  buildTransparencyLogEntry,
  trustedRootForLog,
  TRUSTED_ROOT_MEDIA_TYPE,
} from './src/release/tle.ts';
export type { TleInput, TleJson, TrustedRootJson } from './src/release/tle.ts';
export {
  RELEASE_STATUS_HEADER,
  formatReleaseStatus,
  parseReleaseStatus,
  signReleaseStatus,
  openReleaseStatus,
  requireActiveStatus,
} from './src/release/status.ts';
export type { ReleaseStatus, ReleaseState } from './src/release/status.ts';
export { checkLogBinding } from './src/release/log-binding.ts';
export { publisherForBundle, requirePublisher } from './src/release/publisher.ts';
export { endorsementsOf, requireEndorsements } from './src/release/endorsements.ts';
export type { IndexedEntry, Endorsement } from './src/release/endorsements.ts';
export type { BoundEntry } from './src/release/log-binding.ts';
export { verifyReleaseBundleWithSigstore } from './src/release/sigstore.ts';
export { fulcioIdentity, FULCIO_OID } from './src/sigstore/fulcio-identity.ts';
export type { FulcioIdentity, FulcioField, SubjectAltName } from './src/sigstore/fulcio-identity.ts';
export {
  IDENTITY_POLICY_FLAGS,
  parseIdentityPolicy,
  checkIdentity,
  checkCertificateIdentity,
  matchCertificateIdentity,
  identityPolicyFromFlagValues,
  describeIdentityPolicy,
} from './src/sigstore/identity-policy.ts';
export type { IdentityPolicy } from './src/sigstore/identity-policy.ts';
export {
  verifySigstoreBundle,
  checkTrustedRoot,
  parseTrustedRoot,
  MAX_GENERIC_BUNDLE_BYTES,
} from './src/sigstore/verify-bundle.ts';
export type { ArtifactInput, BundleVerifyInput, BundleVerifyResult } from './src/sigstore/verify-bundle.ts';
export {
  keylessPublishers,
  keylessBundleSigner,
  keylessLeafSigner,
  checkFulcioIssued,
} from './src/sigstore/keyless-publisher.ts';
export type { KeylessPublishers, KeylessSigner } from './src/sigstore/keyless-publisher.ts';
export {
  PUBLIC_GOOD_TRUSTED_ROOT_SHA256,
  publicGoodTrustedRoot,
  publicGoodTrustedRootBytes,
} from './src/sigstore/public-good.ts';
export type { SigstoreVerifyOptions, VerifiedRelease } from './src/release/sigstore.ts';
export { checkCheckpointConsistency } from './src/tlog/checkpoint-consistency.ts';
export { MAX_CONSISTENCY_LINES, formatAddCheckpoint, parseAddCheckpoint } from './src/tlog/witness-request.ts';
export type { AddCheckpointRequest } from './src/tlog/witness-request.ts';
// enclave images: EIF v4 format, measurements, describe-eif, cpio newc ramdisks
export {
  EIF_MAGIC,
  EIF_VERSION,
  EIF_HEADER_SIZE,
  EIF_SECTION_HEADER_SIZE,
  EIF_MAX_SECTIONS,
  EIF_CRC_OFFSET,
  EIF_FLAG_ARM64,
  SectionType,
  SECTION_TYPE_NAMES,
  encodeHeader,
  decodeHeader,
  encodeSectionHeader,
  decodeSectionHeader,
  sectionOffsets,
  crc32,
  eifCrc32,
  archFromFlags,
} from './src/eif/format.ts';
export type { EifArch, EifHeader, SectionHeader, SectionTypeCode } from './src/eif/format.ts';
export { crc32Combine } from './src/eif/crc-combine.ts';
export { FIXED_BUILD_TIME, serdeJson, encodeMetadata, decodeMetadata } from './src/eif/metadata.ts';
export type { EifMetadata, EifBuildInfo } from './src/eif/metadata.ts';
export { PCR_BYTES, pcrFromDigest, pcrOf, EifMeasurer } from './src/eif/measure.ts';
export type { EifPcrs } from './src/eif/measure.ts';
export {
  pemToDer,
  pcrPayload,
  coseAlgFor,
  encodeSignatureSection,
  decodeSignatureSection,
  checkSignature,
} from './src/eif/signature.ts';
export type { EifSignature } from './src/eif/signature.ts';
export { EIF_MAX_METADATA_SIZE, EifScanner, scanEif } from './src/eif/scan.ts';
export type { EifScan, ScannedSection } from './src/eif/scan.ts';
export { parseEif, measureEif, measurementOf, crcError } from './src/eif/parse.ts';
export type { ParsedEif, EifSection, EifMeasurement } from './src/eif/parse.ts';
export { HASH_ALGORITHM, describeEif, describeScan } from './src/eif/describe.ts';
export type { EifDescription } from './src/eif/describe.ts';
export { planSections, layoutEif, writeEif } from './src/eif/write.ts';
export type { SectionPlan, EifSigning, EifParts } from './src/eif/write.ts';
export {
  CPIO_MAGIC,
  CPIO_HEADER_SIZE,
  CPIO_TRAILER_NAME,
  CPIO_BLOCK,
  DIALECTS,
  S_IFMT,
  S_IFDIR,
  S_IFREG,
  S_IFLNK,
  S_IFCHR,
  S_IFBLK,
  S_IFIFO,
  pad4,
  encodeNewcHeader,
  trailerHeader,
  finalPadding,
} from './src/cpio/newc.ts';
export type { CpioDialect, NewcHeader, DialectRules } from './src/cpio/newc.ts';
export { planArchive } from './src/cpio/plan.ts';
export type { CpioMember, MemberType, PlannedMember } from './src/cpio/plan.ts';
export { readCpio } from './src/cpio/read.ts';
export type { CpioEntry } from './src/cpio/read.ts';
// Nitro attestation documents: strict DER/X.509, COSE_Sign1 ES384, chain to the pinned AWS root, policy
export { parseCertificate, KEY_USAGE_BITS, MAX_CERTIFICATE_BYTES } from './src/x509/certificate.ts';
export type { ParsedCertificate, KeyUsage } from './src/x509/certificate.ts';
export { buildCertificate } from './src/x509/build.ts';
export type { CertificateInput } from './src/x509/build.ts';
export type { NameInput } from './src/x509/names.ts';
export { verifyCertificateChain } from './src/x509/chain.ts';
export type { CertificateInfo, VerifiedChain } from './src/x509/chain.ts';
export {
  ES384_PROTECTED,
  ES384_SIGNATURE_BYTES,
  MAX_COSE_BYTES,
  decodeCoseSign1,
  sigStructure,
  verifyCoseSign1,
  signCoseSign1,
} from './src/cose/sign1.ts';
export type { CoseSign1 } from './src/cose/sign1.ts';
export { AWS_NITRO_ROOT_G1_SHA256, awsNitroRootG1 } from './src/attestation/aws-root.ts';
export {
  BOOT_LOCKED_PCRS,
  MAX_OPTIONAL_BYTES,
  encodeAttestationPayload,
  decodeAttestationPayload,
} from './src/attestation/payload.ts';
export type { AttestationPayload } from './src/attestation/payload.ts';
export { parseAttestationDocument } from './src/attestation/document.ts';
export type { AttestationDocument } from './src/attestation/document.ts';
export { MAX_CLOCK_SKEW_MS, isDebugMode, checkPolicy } from './src/attestation/policy.ts';
export type { AttestationPolicy } from './src/attestation/policy.ts';
export { Measurement } from './src/attestation/measurement.ts';
export { verifyAttestationDocument } from './src/attestation/verify.ts';
export type { VerifyAttestationOptions, VerifiedAttestation } from './src/attestation/verify.ts';
export { verifyLoggedPcr0, notLogged } from './src/attestation/logged.ts';
export type { LoggedRelease, LogCheckOptions } from './src/attestation/logged.ts';
// the enclave's boot gate: pinned configuration, the host's proof bundle, the pure decision
export {
  ENCLAVE_CONFIG_PATH,
  MAX_ENCLAVE_CONFIG_BYTES,
  parseEnclaveConfig,
  formatEnclaveConfig,
  configPublishers,
  configKeylessPublishers,
  requireConfigIdentity,
} from './src/gate/config.ts';
export type { EnclaveConfig } from './src/gate/config.ts';
export { MAX_PROOF_BUNDLE_BYTES, parseProofBundle, formatProofBundle } from './src/gate/bundle.ts';
export type { ProofBundle } from './src/gate/bundle.ts';
export { decideGate, requireReleaseOf } from './src/gate/decide.ts';
export { verifyIdentityGenesis } from './src/gate/genesis.ts';
export type { IdentityGenesis, GenesisCheckOptions, VerifiedGenesis } from './src/gate/genesis.ts';
export type { GateInput, GateDecision, GateOpen, GateRefusal, HeldCheckpoint } from './src/gate/decide.ts';
export { advanceGateHold, LATCHING_REFUSALS } from './src/gate/hold.ts';
export type { GateHold } from './src/gate/hold.ts';
// CMS EnvelopedData for a KMS Recipient (CiphertextForRecipient): the one profile KMS writes
export { MAX_CMS_BYTES, RSA_MODULUS_BITS as CMS_RSA_MODULUS_BITS } from './src/cms/profile.ts';
export { sealForRecipient, recipientKey } from './src/cms/seal.ts';
export { openForRecipient, parseRecipientEnvelope } from './src/cms/open.ts';
export type { RecipientEnvelope } from './src/cms/open.ts';
export { IDENTITY_BINDING_HEADER, formatIdentityBinding, parseIdentityBinding } from './src/gate/identity.ts';
export type { IdentityBinding } from './src/gate/identity.ts';
// Limits every Keycast HTTP server runs with (pure options; the servers apply them).
export {
  SERVER_LIMITS,
  SERVER_LIMIT_FLAGS,
  SERVER_LIMIT_FLAGS_HELP,
  serverLimits,
  serverOptions,
  limitConnections,
  serverLimitFlagOptions,
  serverLimitsFromFlags,
} from './src/server-limits.ts';
export type { ServerLimits } from './src/server-limits.ts';
// checkpoints as a relying party opens them, and the one client of a Keycast log (over an injected fetch)
export { openWitnessedCheckpoint } from './src/tlog/witnessed-checkpoint.ts';
export type { CheckpointPolicy, WitnessedCheckpoint } from './src/tlog/witnessed-checkpoint.ts';
export { LogClient } from './src/client/log-client.ts';
export { fetchProofBundle } from './src/client/proof-bundle.ts';
export type {
  LogClientOptions,
  LogEntry,
  LookupAnswer,
  LookupField,
  ReleaseStatus as LogReleaseStatus,
  AddEntryAnswer,
} from './src/client/log-client.ts';
export { readCapped, request as httpRequest } from './src/client/transport.ts';
export type { FetchLike, RetryEvent, TransportOptions, RequestSpec, RawAnswer } from './src/client/transport.ts';
// forwarding (content keys → projectors): signed rules, HPKE-sealed content keys, receipts with delivery proofs
export {
  RULES_TYPE,
  RULES_TYPE_V1,
  RULES_PAYLOAD_TYPE,
  MAX_RULES_BYTES,
  UUID_URN,
  KDM_TIME,
  validateRules,
  formatRules,
  rulesDigest,
  parseRules,
  signRules,
  openRules,
  checkRulesTime,
  keyFingerprint,
  parseInstant,
} from './src/forward/rules.ts';
export type { ForwardRules, OpenedRules } from './src/forward/rules.ts';
export { signEnvelope, openEnvelope } from './src/forward/envelope.ts';
export type { SignedEnvelope } from './src/forward/envelope.ts';
export {
  SEALED_TYPE,
  SEALED_TYPE_V1,
  MAX_SEALED_BYTES,
  MAX_CONTENT_KEYS,
  KEY_TYPES,
  hpkeSuite,
  generateHpkeKeyPair,
  deriveHpkeKeyPair,
  sealContentKeys,
  parseSealedKeys,
  openSealedKeys,
} from './src/forward/sealed-keys.ts';
export type { ContentKey, FilmKeys, KeyType, SealedHeader } from './src/forward/sealed-keys.ts';
export {
  RAW_KEYS_FORMAT,
  RAW_HPKE_ENCRYPTION,
  x25519PublicBytes,
  sealRawHpkeDelivery,
  openRawHpkeDelivery,
} from './src/forward/raw-hpke.ts';
export type { RawHpkeContext, RawHpkeKey, OpenedRawHpke } from './src/forward/raw-hpke.ts';
export {
  RAW_RSA_OAEP_ENCRYPTION,
  rawRsaOaepSealer,
  openRawRsaOaepDelivery,
} from './src/forward/raw-rsa-oaep.ts';
export type { RawRsaOaepHeader, RawRsaOaepSealer, OpenedRawRsaOaep } from './src/forward/raw-rsa-oaep.ts';
export {
  RECEIPT_TYPE,
  RECEIPT_PAYLOAD_TYPE,
  deliveryLeaf,
  DeliveryTree,
  signReceipt,
  openReceipt,
  parseDeliveryProof,
  checkDelivery,
} from './src/forward/receipt.ts';
export type { Receipt, DeliveryProof } from './src/forward/receipt.ts';
// output formats: one module each (contract and how to add one: src/forward/formats/format.ts)
export { FORMAT_NAMES, DELIVERY_FORMATS, deliveryFormat, kdmTime } from './src/forward/formats/index.ts';
export type {
  FormatName,
  DeliveryFormat,
  DeliveryBinding,
  FormatRecipient,
  FormatRequest,
  OpenedDelivery,
  PreparedFormat,
} from './src/forward/formats/index.ts';
export {
  MAX_FORWARD_RECIPIENTS,
  MAX_FORWARD_INTERMEDIATES,
  MAX_FORWARD_REQUEST_LIFETIME_MS,
  FORWARD_JSON_LIMITS,
  checkForwardRequestTime,
  parseForwardRequest,
  formatForwardRequest,
  forwardRequestDigest,
  parseForwardAnswer,
} from './src/forward/request.ts';
export type { ForwardFormat, ForwardRequest, ForwardAnswer, ForwardOutputJson } from './src/forward/request.ts';
// D-cinema (ST 430-2) certificates and SMPTE ST 430-1 KDMs
export {
  OID_RSA,
  OID_SHA256_RSA,
  MAX_DC_CERTIFICATE_BYTES,
  parseDcCertificate,
  rfc2253,
  nameValue,
  publicKeyThumbprint,
  certificateThumbprint,
  pemCertificates,
  certificatePem,
} from './src/kdm/certificate.ts';
export type { DcCertificate, NameAttribute } from './src/kdm/certificate.ts';
export { cnRoles, checkCaBasics, checkDcNames, checkDcProfile, verifyDcChain } from './src/kdm/profile.ts';
export type { DcRole, DcChainOptions } from './src/kdm/profile.ts';
export { buildDcCertificate } from './src/kdm/certificate-build.ts';
export type { DcCertificateInput } from './src/kdm/certificate-build.ts';
export {
  KEY_BLOCK_BYTES,
  KEY_BLOCK_STRUCTURE_ID,
  uuidBytes,
  uuidUrn,
  encodeKeyBlock,
  decodeKeyBlock,
  encryptKeyBlock,
  decryptKeyBlock,
  oaepSha1Decrypt,
} from './src/kdm/block.ts';
export type { KeyBlock } from './src/kdm/block.ts';
export {
  NS_ETM,
  NS_KDM,
  NS_DS,
  NS_ENC,
  KDM_MESSAGE_TYPE,
  ASSUME_TRUST_THUMBPRINT,
  xmlText,
  kdmSigner,
  buildKdm,
  buildKdmBytes,
} from './src/kdm/write.ts';
export type { KdmContentKey, KdmSigner, KdmInput } from './src/kdm/write.ts';
export {
  MAX_KDM_BYTES,
  parseKdm,
  verifyKdmSignature,
  checkKdmSignerChain,
  checkKdmRecipient,
  decryptKdm,
} from './src/kdm/read.ts';
export type { ParsedKdm, DecryptedKey } from './src/kdm/read.ts';
export {
  INTEROP_KEY_BLOCK_BYTES,
  KDM_KEY_TYPES,
  checkDkdm,
  checkDkdmRelease,
  dkdmRulesRoots,
  checkSignerLeaf,
  chainValidity,
} from './src/kdm/dkdm-check.ts';
export { DKDM_ENDORSEMENT_CONTEXT, endorseRules, checkRulesEndorsement } from './src/forward/dkdm-endorsement.ts';
export type { DkdmRules, DkdmDecrypt, DkdmCheckInput, DkdmVerdict, Validity } from './src/kdm/dkdm-check.ts';
export {
  ENCLAVE_KEYS_BYTES,
  VERIFIED_ENCLAVE_TYPE,
  VERIFIED_ENCLAVE_TYPE_V1,
  formatEnclaveKeys,
  enclaveKeysFromAttestation,
  ed25519PublicKey,
  kdmChainSha256,
  verifiedEnclaveRecord,
  formatVerifiedEnclave,
  parseVerifiedEnclave,
  reverifyEnclaveRecord,
} from './src/forward/enclave-keys.ts';
export type { EnclaveKeys, VerifiedEnclaveRecord, ReverifyOptions } from './src/forward/enclave-keys.ts';
export {
  MAX_ENCLAVE_CHAIN,
  checkEnclaveCertificates,
  enclaveCertificatesFromRecord,
} from './src/forward/dkdm-recipient.ts';
export type { EnclaveCertificates } from './src/forward/dkdm-recipient.ts';
