/**
 * @keycast/verifier — the pure trust core. Every other folder imports verifier/ only through
 * this file (as `#verifier`). Library code here does no I/O: bytes and trusted inputs in,
 * a typed result or a coded VerifierError out.
 */
export { VerifierError, VERIFIER_ERROR_CODES, isVerifierError } from './src/errors.ts';
export type { VerifierErrorCode, Evidence } from './src/errors.ts';
// transparency log core (issue #2): bytes, RFC 6962 Merkle proofs
export { toHex, fromHex, toBase64, fromBase64, concatBytes, bytesEqual, u64be, utf8 } from './src/bytes.ts';
export { hashLeaf, hashChildren, sha256, EMPTY_ROOT, HASH_SIZE } from './src/tlog/hash.ts';
export { rangeHash, treeHash, subtreeHashesForAppend, proveInclusion, proveConsistency, rootFromInclusionProof, checkInclusion, checkConsistency, MemoryTree } from './src/tlog/proof.ts';
export type { HashReader } from './src/tlog/proof.ts';
// C2SP signed-note and tlog-checkpoint
export { SIG_ED25519, SIG_COSIGNATURE_V1, isValidKeyName, verifierKeyId, keyIdHex, parseVerifierKey, formatVerifierKey, parseSignerKey, formatSignerKey, generateNoteKey, noteSigner, noteVerifier } from './src/note/keys.ts';
export type { NoteSigner, NoteVerifier, Signer, Verifier, VerifierKey, SignerKey } from './src/note/keys.ts';
export { MAX_SIGNATURES, MAX_NOTE_BYTES, isValidNoteText, splitNote, formatSignatureLine, signatureLines, signNote, openNote } from './src/note/note.ts';
export type { NoteSignature, SplitNote, OpenedNote } from './src/note/note.ts';
export { parseTreeSize, formatCheckpoint, parseCheckpoint, openCheckpoint } from './src/checkpoint.ts';
export type { Checkpoint } from './src/checkpoint.ts';
// C2SP tlog-tiles
export { TILE_HEIGHT, TILE_WIDTH, MAX_TILE_LEVEL, encodeTileIndex, tilePath, entriesPath, parseTilePath, tileWidthInTree, tilesForSize, entryBundlesForSize, newTiles, newEntryBundles, readTileData, tileHashReader, checkTile, MAX_ENTRY_SIZE, encodeEntryBundle, decodeEntryBundle, checkEntryBundle } from './src/tlog/tiles.ts';
export type { Tile } from './src/tlog/tiles.ts';
export { sumdbTilePath, parseSumdbTilePath } from './src/tlog/tiles.ts';
export type { SumdbTile } from './src/tlog/tiles.ts';
// C2SP tlog-cosignature and tlog-proof
export { MAX_FUTURE_SECONDS, cosignatureTimestamp, cosignatureSigner, cosignatureVerifierKey, cosignatureVerifier, checkWitnessPolicy } from './src/cosignature.ts';
export type { CosignatureVerifier, WitnessPolicy } from './src/cosignature.ts';
export { TLOG_PROOF_HEADER, MAX_PROOF_HASHES, formatTlogProof, parseTlogProof, verifyTlogProof } from './src/tlog-proof.ts';
export type { TlogProof, TlogProofOptions } from './src/tlog-proof.ts';
// release entries (issue #3): schema, DSSE bundles, canonical leaves, admission, TLEs, Sigstore verification
export { IN_TOTO_STATEMENT_V1, IN_TOTO_PAYLOAD_TYPE, RELEASE_PREDICATE_V1, REVOCATION_PREDICATE_V1, REBUILD_PREDICATE_V1, PREDICATE_KINDS, validateStatement, validateMeasurements, validateSource, validateReleasePredicate, validateRevocationPredicate, validateRebuildPredicate } from './src/release/schema.ts';
export type { EntryKind, Measurements, SourceRef, ReleasePredicate, RevocationPredicate, RebuildPredicate, Subject, ReleaseStatement, RevocationStatement, RebuildStatement, KeycastStatement } from './src/release/schema.ts';
export { canonicalize, parseJsonStrict } from './src/release/canonical-json.ts';
export { dssePae, parseTrustedKey, certificateKey, verifyDsseSignature } from './src/release/dsse.ts';
export type { ReleaseSigner } from './src/release/dsse.ts';
export { BUNDLE_MEDIA_TYPES, MAX_BUNDLE_BYTES, parseBundle, parseEnvelope } from './src/release/bundle.ts';
export type { ParsedBundle, EnvelopeJson } from './src/release/bundle.ts';
export { MAX_LEAF_BYTES, encodeLeaf, decodeLeaf } from './src/release/leaf.ts';
export type { DecodedEntry } from './src/release/leaf.ts';
export { verifyEntryBundle, checkRevocation } from './src/release/entry.ts';
export type { EntryPolicyOptions, TrustedKey } from './src/release/entry.ts';
export { logIdFor, ed25519Spki, buildTransparencyLogEntry, trustedRootForLog, TRUSTED_ROOT_MEDIA_TYPE } from './src/release/tle.ts';
export type { TleInput, TleJson, TrustedRootJson } from './src/release/tle.ts';
export { checkLogBinding } from './src/release/log-binding.ts';
export type { BoundEntry } from './src/release/log-binding.ts';
export { verifyReleaseBundleWithSigstore } from './src/release/sigstore.ts';
export type { SigstoreVerifyOptions, VerifiedRelease } from './src/release/sigstore.ts';
export { checkCheckpointConsistency } from './src/checkpoint-consistency.ts';
export { MAX_CONSISTENCY_LINES, formatAddCheckpoint, parseAddCheckpoint } from './src/tlog/witness-request.ts';
export type { AddCheckpointRequest } from './src/tlog/witness-request.ts';
