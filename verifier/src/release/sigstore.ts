/**
 * Verifying a published release bundle the way an outsider would: stock @sigstore/verify
 * 3.1.1 (bundleFromJSON → toSignedEntity → Verifier with toTrustMaterial over the log's
 * TrustedRoot) plus what 3.1.1 does not check (log-binding.ts) plus Keycast's own meaning:
 * the logged leaf must be the canonical entry of this very envelope, and the statement must
 * satisfy the release schema. Public-key bundles carry no verified time (no SET, no TSA), so
 * they are verified with timestampThreshold 0 (notes/tlog.md §3.4 (c)); certificate bundles
 * keep the default of 1 and need timestamp and CA material in the root.
 */
import type { KeyFinderFunc } from '@sigstore/verify';
import { sigstoreLibs } from '../sigstore/libs.ts';
import { VerifierError } from '../errors.ts';
import { bytesEqual } from '../encoding/bytes.ts';
import { parseBundle } from './bundle.ts';
import { parseTrustedKey, type ReleaseSigner } from './dsse.ts';
import { decodeLeaf, encodeLeaf, entryFrom, type DecodedEntry } from './leaf.ts';
import { checkLogBinding, type BoundEntry } from './log-binding.ts';
import type { TrustedKey } from './entry.ts';
import type { TrustedRootJson } from './tle.ts';

export interface SigstoreVerifyOptions {
  /** The release signer's key (public-key bundles; the bundle only carries a hint). */
  publicKey?: TrustedKey;
  /** Entries the bundle must be in (default 1). */
  tlogThreshold?: number;
}

export interface VerifiedRelease {
  entry: DecodedEntry;
  /** The bundle's tlog entries after the binding checks (index, log ID, checkpoint). */
  tlogEntries: BoundEntry[];
}

function keyFinder(key: ReleaseSigner | undefined): KeyFinderFunc {
  return () => {
    if (!key)
      throw new VerifierError('SIGSTORE_INVALID', 'a public-key bundle needs the signer key (options.publicKey)');
    return { publicKey: key.key, validFor: () => true };
  };
}

/**
 * Verifies a release bundle end to end. Throws VerifierError: SIGSTORE_INVALID (stock
 * verification refused; evidence.sigstoreCode), TLE_INVALID (binding checks), or the
 * entry-level codes (RELEASE_MALFORMED, STATEMENT_TYPE, PREDICATE_INVALID, SIGNATURE_INVALID).
 */
export function verifyReleaseBundleWithSigstore(
  bundleJson: string | Record<string, unknown>,
  trustedRoot: TrustedRootJson,
  opts: SigstoreVerifyOptions = {},
): VerifiedRelease {
  const parsed = parseBundle(bundleJson);
  const signer = opts.publicKey !== undefined ? parseTrustedKey(opts.publicKey) : undefined;
  const bound = checkLogBinding(parsed.json, trustedRoot);
  const threshold = opts.tlogThreshold ?? 1;
  if (bound.length < threshold)
    throw new VerifierError('TLE_INVALID', `the bundle has ${bound.length} tlog entries, fewer than ${threshold}`, {
      count: bound.length,
      threshold,
    });
  runStock(parsed.json, trustedRoot, signer, threshold, parsed.certificate !== undefined);
  const leaf = encodeLeaf(parsed, signer);
  // Entries from C2SP (Ed25519) logs are Keycast logs: their body must be our canonical leaf.
  // Entries from other logs (e.g. public Rekor for keyless bundles) were checked by stock only.
  const keycast = bound.filter((b) => b.checkpoint !== undefined);
  if (keycast.length === 0)
    throw new VerifierError('TLE_INVALID', 'the bundle has no entry from a Keycast (C2SP checkpoint) log', {
      count: bound.length,
    });
  for (const b of keycast) {
    if (!bytesEqual(b.canonicalizedBody, leaf)) {
      throw new VerifierError('TLE_INVALID', 'the logged body is not the canonical Keycast leaf of this envelope', {
        logIndex: b.logIndex,
        logId: b.logId,
      });
    }
  }
  const entry = signer ? entryFrom(parsed.envelope, parsed.payload, parsed.signature, signer, leaf) : decodeLeaf(leaf);
  return { entry, tlogEntries: bound };
}

function runStock(
  json: Record<string, unknown>,
  root: TrustedRootJson,
  signer: ReleaseSigner | undefined,
  tlogThreshold: number,
  keyless: boolean,
): void {
  try {
    const { bundle, specs, verify } = sigstoreLibs();
    const trust = verify.toTrustMaterial(specs.TrustedRoot.fromJSON(root), keyFinder(signer));
    const verifier = new verify.Verifier(trust, {
      tlogThreshold,
      ctlogThreshold: keyless ? 1 : 0,
      timestampThreshold: keyless ? 1 : 0,
    });
    verifier.verify(verify.toSignedEntity(bundle.bundleFromJSON(json)));
  } catch (e) {
    if (e instanceof VerifierError) throw e;
    const code = (e as { code?: unknown }).code;
    throw new VerifierError(
      'SIGSTORE_INVALID',
      `@sigstore/verify refused the bundle: ${(e as Error).message}`,
      { sigstoreCode: typeof code === 'string' ? code : null },
      { cause: e },
    );
  }
}
