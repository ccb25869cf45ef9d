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
// C2SP tlog-cosignature and tlog-proof
export { MAX_FUTURE_SECONDS, cosignatureTimestamp, cosignatureSigner, cosignatureVerifierKey, cosignatureVerifier, checkWitnessPolicy } from './src/cosignature.ts';
export type { CosignatureVerifier, WitnessPolicy } from './src/cosignature.ts';
export { TLOG_PROOF_HEADER, MAX_PROOF_HASHES, formatTlogProof, parseTlogProof, verifyTlogProof } from './src/tlog-proof.ts';
export type { TlogProof, TlogProofOptions } from './src/tlog-proof.ts';
