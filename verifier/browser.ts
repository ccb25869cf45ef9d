/**
 * The verifier's browser entry: the part of #verifier a web page needs to check a Keycast log
 * itself — signed notes and checkpoints under a pinned vkey, witness cosignatures, RFC 6962
 * inclusion and consistency proofs, tiles, tlog-proofs, and the log's signed release-status
 * statements. It is the same code the CLI and the enclave run; scripts/build-explorer-verifier.mjs
 * bundles it with esbuild for the log's explorer page, swapping the crypto provider
 * (crypto/provider.ts → crypto/browser.ts).
 * Only modules free of node: imports belong here (the bundle build fails otherwise).
 */
export { VerifierError, isVerifierError } from './src/errors.ts';
export { toHex, fromHex, toBase64, fromBase64, bytesEqual, utf8 } from './src/encoding/bytes.ts';
export { hashLeaf, hashChildren, sha256, EMPTY_ROOT } from './src/tlog/hash.ts';
export { rootFromInclusionProof, checkInclusion, checkConsistency } from './src/tlog/verify.ts';
export { parseVerifierKey, noteVerifier } from './src/note/keys.ts';
export { openNote, splitNote } from './src/note/note.ts';
export { parseCheckpoint, openCheckpoint } from './src/tlog/checkpoint.ts';
export { cosignatureVerifier, checkWitnessPolicy } from './src/note/cosignature.ts';
export { openWitnessedCheckpoint } from './src/tlog/witnessed-checkpoint.ts';
export { checkCheckpointConsistency } from './src/tlog/checkpoint-consistency.ts';
export { tilePath, entriesPath, parseTilePath } from './src/tlog/tile-path.ts';
export { checkTile, tileHashReader, tileWidthInTree } from './src/tlog/tile-math.ts';
export { decodeEntryBundle, checkEntryBundle } from './src/tlog/entry-bundle.ts';
export { parseTlogProof, verifyTlogProof } from './src/tlog/tlog-proof.ts';
export { openReleaseStatus, requireActiveStatus } from './src/release/status.ts';
