/**
 * @keycast/verifier, the decision side (`#verifier`): the functions that decide whether a log,
 * a release, an enclave, a forwarded output or a DKDM is to be trusted, and the types they take
 * and return. Nothing here builds, signs, seals or writes: that is verifier/build.ts
 * (`#verifier/build`), which this entry and the files behind it never import. Library code does
 * no I/O: bytes and trusted inputs in, a typed result or a coded VerifierError out.
 *
 * A name is here only if code outside verifier/ (or the verifier's own commands and tests, for
 * its main decisions) imports it; verifier/ itself imports details from their modules. This entry
 * stays at ≤ 150 names, types included (verifier/test/entries.test.ts counts them). The files that decide, and what they
 * import, are listed in verifier/README.md (the same test checks that list).
 */
// refusals: one coded error class, its closed code list and how it is printed
export {
  CodedError,
  VerifierError,
  RelayedRefusal,
  VERIFIER_ERROR_CODES,
  isVerifierError,
  errorText,
} from './src/errors.ts';
export type { VerifierErrorCode, Evidence } from './src/errors.ts';
// RFC 6962 proofs, C2SP signed notes, checkpoints, cosignatures, tiles and tlog-proof
export { checkInclusion, checkConsistency, checkConsistencyToRoot } from './src/tlog/index.ts';
export { tileHashReader, checkTile, checkEntryBundle } from './src/tlog/index.ts';
export { parseVerifierKey, noteVerifier } from './src/note/keys.ts';
export type { NoteVerifier } from './src/note/keys.ts';
export { openNote } from './src/note/note.ts';
export { parseCheckpoint, openCheckpoint } from './src/tlog/checkpoint.ts';
export type { Checkpoint } from './src/tlog/checkpoint.ts';
export { checkCheckpointConsistency } from './src/tlog/checkpoint-consistency.ts';
export { cosignatureVerifier, checkWitnessPolicy } from './src/note/cosignature.ts';
export type { CosignatureVerifier } from './src/note/cosignature.ts';
export { openWitnessedCheckpoint } from './src/tlog/witnessed-checkpoint.ts';
export type { WitnessedCheckpoint } from './src/tlog/witnessed-checkpoint.ts';
export { parseTlogProof, readTlogProof, verifyTlogProof } from './src/tlog/tlog-proof.ts';
export type { ReadTlogProof } from './src/tlog/tlog-proof.ts';
// releases: statements, DSSE bundles, logged leaves, publishers, revocation, status, endorsements
export { validateStatement } from './src/release/schema.ts';
export type { Measurements, KeycastStatement } from './src/release/schema.ts';
export { parseTrustedKey, verifyDsseSignature } from './src/release/dsse.ts';
export { checkLoggedLeaf } from './src/release/logged-leaf.ts';
export type { LoggedLeaf } from './src/release/logged-leaf.ts';
export type { ReleaseSigner } from './src/release/dsse.ts';
export { parseBundle } from './src/release/bundle.ts';
export { decodeLeaf } from './src/release/leaf.ts';
export type { DecodedEntry } from './src/release/leaf.ts';
export { verifyEntryBundle, checkRevocation } from './src/release/entry.ts';
export { openReleaseStatus, requireActiveStatus } from './src/release/status.ts';
export type { ReleaseStatus, ReleaseState } from './src/release/status.ts';
export { checkLogBinding } from './src/release/log-binding.ts';
export { publisherForBundle, requirePublisher } from './src/release/publisher.ts';
export { endorsementsOf, requireEndorsements } from './src/release/endorsements.ts';
export { verifyReleaseBundleWithSigstore } from './src/release/sigstore.ts';
// Sigstore bundles and keyless (Fulcio) identities, under the pinned public-good root
export { parseIdentityPolicy } from './src/sigstore/identity-policy.ts';
export type { IdentityPolicy } from './src/sigstore/identity-policy.ts';
export { verifySigstoreBundle, parseTrustedRoot } from './src/sigstore/verify-bundle.ts';
export { keylessPublishers } from './src/sigstore/keyless-publisher.ts';
export type { KeylessPublishers } from './src/sigstore/keyless-publisher.ts';
export { publicGoodTrustedRoot } from './src/sigstore/public-good.ts';
// Nitro attestation: COSE_Sign1 ES384, the X.509 chain to the pinned AWS root, the PCR policy, the log
export { verifyCertificateChain } from './src/x509/chain.ts';
export { verifyCoseSign1 } from './src/cose/sign1.ts';
export { awsNitroRootG1 } from './src/attestation/aws-root.ts';
export { parseAttestationDocument } from './src/attestation/document.ts';
export { verifyAttestationDocument } from './src/attestation/verify.ts';
export type { VerifiedAttestation } from './src/attestation/verify.ts';
export { Measurement } from './src/attestation/measurement.ts';
export { verifyLoggedPcr0 } from './src/attestation/logged.ts';
// the enclave's boot gate: pinned configuration, the host's proof bundle, the decision and its hold
export { parseEnclaveConfig, requireConfigIdentity, deliveriesRequired } from './src/gate/config.ts';
export type { EnclaveConfig } from './src/gate/config.ts';
export { parseProofBundle } from './src/gate/bundle.ts';
export type { ProofBundle } from './src/gate/bundle.ts';
export { decideGate } from './src/gate/decide.ts';
export type { GateInput, GateDecision, GateRefusal } from './src/gate/decide.ts';
export { advanceGateHold } from './src/gate/hold.ts';
export type { GateHold } from './src/gate/hold.ts';
export { verifyIdentityGenesis } from './src/gate/genesis.ts';
export type { IdentityGenesis } from './src/gate/genesis.ts';
export { parseIdentityBinding } from './src/gate/identity.ts';
// the enclave's sealed identity: CMS EnvelopedData from KMS for an attested Recipient
export { openForRecipient } from './src/cms/open.ts';
// the one reader of a Keycast log (over an injected fetch; every answer verified)
export { LogClient } from './src/client/log-client.ts';
export { fetchProofBundle } from './src/client/proof-bundle.ts';
// forwarding: the studio's signed rules, sealed content keys, forward requests, outputs and receipts
export { validateRules, openRules, checkRulesTime, parseAuditField, rulesAuditKey } from './src/forward/rules.ts';
export type { ForwardRules, OpenedRules } from './src/forward/rules.ts';
export { parseSealedKeys, openSealedKeys } from './src/forward/sealed-keys.ts';
export type { FilmKeys } from './src/forward/sealed-keys.ts';
export { checkForwardRequestTime, parseForwardRequest, parseForwardAnswer } from './src/forward/request.ts';
export type { ForwardFormat, ForwardRequest } from './src/forward/request.ts';
export { openRawHpkeDelivery } from './src/forward/raw-hpke.ts';
export { openRawRsaOaepDelivery } from './src/forward/raw-rsa-oaep.ts';
export { openReceipt, parseDeliveryProof, checkDelivery } from './src/forward/receipt.ts';
export type { Receipt, DeliveryProof } from './src/forward/receipt.ts';
export { FORMAT_NAMES } from './src/forward/format-names.ts';
export type { FormatName } from './src/forward/format-names.ts';
export { parseVerifiedEnclave, reverifyEnclaveRecord } from './src/forward/enclave-keys.ts';
export { checkEnclaveCertificates } from './src/forward/dkdm-recipient.ts';
export { checkRulesEndorsement } from './src/forward/dkdm-endorsement.ts';
// D-cinema (ST 430-2) certificate chains, SMPTE ST 430-1 KDMs and DKDMs
export { parseDcCertificate } from './src/kdm/certificate.ts';
export type { DcCertificate } from './src/kdm/certificate.ts';
export { checkDcNames, checkDcProfile, verifyDcChain } from './src/kdm/profile.ts';
export { parseKdm, verifyKdmSignature, checkKdmSignerChain, checkKdmRecipient, decryptKdm } from './src/kdm/read.ts';
export { checkDkdm, checkDkdmRelease } from './src/kdm/dkdm-check.ts';
// delivery transparency (issue 19): what a studio and a cinema check of the log's delivery entries
export { validateDeliveryEntry, openDeliveryEntry, decodeDeliveryEntryLeaf } from './src/delivery/entry.ts';
export type { DeliveryEntry, OpenedDelivery } from './src/delivery/entry.ts';
export { parseIdentityLeaf } from './src/delivery/identity.ts';
export type { IdentityLeaf } from './src/delivery/identity.ts';
export {
  openManifest,
  checkManifest,
  checkSealedManifest,
  manifestRoot,
  parseAuditPrivateKey,
} from './src/delivery/manifest.ts';
export type { DeliveryManifest } from './src/delivery/manifest.ts';
export { parseAddEntryBody, leafKind } from './src/delivery/add-entry.ts';
export type { LeafKind } from './src/delivery/add-entry.ts';
export { parseKdmLoggedProof, checkKdmLogged } from './src/delivery/kdm-logged.ts';
export type { KdmLoggedProof } from './src/delivery/kdm-logged.ts';
