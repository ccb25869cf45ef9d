/**
 * The verifier's crypto provider: the one seam through which its note, checkpoint, cosignature,
 * tile and proof code hashes, checks signatures and encodes bytes. Every verifier module imports
 * these functions from THIS file; on Node it is node:crypto (node.ts, the fastest, and
 * synchronous), and the browser bundle of the same code (scripts/build-explorer-verifier.mjs)
 * resolves this file to browser.ts (@noble/hashes, @noble/curves) instead. Both implement the
 * contract below, checked by verifier/test/crypto-provider.test.ts, which also runs the browser
 * implementation under Node against this one.
 *
 * Contract (all synchronous; inputs are never modified):
 *   createSha256()                 incremental SHA-256: update(bytes) returns the hash, digest() the 32 bytes
 *   sha256Digest(bytes)            SHA-256 of one byte string in one call, as a plain Uint8Array
 *   ed25519PublicKey(raw32)        an opaque, reusable verification key
 *   ed25519Verify(key, msg, sig)   RFC 8032 verification of a 64-byte signature; never throws
 *   ed25519FromSeed(seed32)        { privateKey (opaque), publicKey (raw 32) }
 *   ed25519Sign(privateKey, msg)   the 64-byte signature
 *   randomBytes(n)                 n bytes from a CSPRNG
 *   constantTimeEqual(a, b)        equal-length inputs; time independent of where they differ
 *   hexEncode / base64Encode       lowercase hex / standard padded base64
 *   hexDecode(s)                   s is already validated as even-length hex
 *   base64DecodeCanonical(s)       the bytes if s is canonical padded base64 (the encoding of its
 *                                  decoding), else undefined
 *   utf8Encode(s)                  UTF-8 bytes of s
 */
export * from './node.ts';
