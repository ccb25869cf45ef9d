/**
 * The log's admission policy for POST /add-entry: the release-entry rules of verifier/src/release
 * (`verifyEntryBundle`: DSSE signature over PAE, in-toto statement and Keycast predicate schema,
 * signer allowed, revocation rule checked against the leaf it names), mapped to the fields the
 * log indexes (PCR0, EIF SHA-256, commit, revoked index).
 *
 * Hot path: `verifyEntryBundle` re-parses every policy key on every call, and OpenSSL key
 * parsing (~0.5 ms) costs more than the rest of an admission. For the common case — a
 * public-key bundle whose hint names a key of this policy, carrying a release or rebuild — the
 * same verifier steps run here with the keys parsed once: parseBundle, the hinted key,
 * verifyDsseSignature, validateStatement, encodeLeaf. Anything else (certificates, unknown
 * hints, revocations, and every failure) goes through `verifyEntryBundle` itself, so refusals
 * always carry the verifier's own codes. test/log-admission.test.ts checks both paths agree.
 */
import { createPublicKey } from 'node:crypto';
import { parseBundle, parseTrustedKey, validateStatement, verifyDsseSignature, verifyEntryBundle } from '#verifier';
import { IN_TOTO_PAYLOAD_TYPE, MAX_LEAF_BYTES, encodeLeaf, entryReplayKey, parseJsonStrict } from '#verifier/build';
import type { KeylessPublishers, ReleaseSigner } from '#verifier';
import type { ReleaseStatement } from '#verifier/build';
import type { RebuildStatement } from '#verifier/build';
import type { AdmissionContext, AdmittedEntry, EntryPolicy } from './ports.ts';
import { AdmissionPool } from './admission-pool.ts';

export interface ReleasePolicyOptions {
  /** Public keys (SPKI PEM or DER) or certificate PEMs allowed to publish releases and revocations. */
  allowedSigners: Array<string | Uint8Array>;
  /** Keys allowed to log rebuild attestations (default none). */
  allowedRebuilders?: Array<string | Uint8Array>;
  /** Publishers pinned by keyless identity (`--trust-identity`); checked on the full path only. */
  allowedIdentities?: KeylessPublishers;
}

interface PolicyKey {
  signer: ReleaseSigner;
  publisher: boolean;
  rebuilder: boolean;
}

export function releasePolicy(opts: ReleasePolicyOptions & { workers?: number }): EntryPolicy {
  const allowedSigners = opts.allowedSigners.map(toDer);
  const allowedRebuilders = (opts.allowedRebuilders ?? []).map(toDer);
  const slow = (bundleJson: string, ctx: AdmissionContext): AdmittedEntry => {
    const d = verifyEntryBundle(bundleJson, {
      allowedSigners,
      allowedRebuilders,
      ...(opts.allowedIdentities ? { allowedIdentities: opts.allowedIdentities } : {}),
      lookupLeaf: (i: number) => ctx.leafAt(i),
    });
    const e: AdmittedEntry = { leaf: d.leaf, kind: d.kind, pcr0: d.pcr0, replayKey: d.replayKey };
    if (d.eifSha256 !== undefined) e.eifSha256 = d.eifSha256;
    if (d.commit !== undefined) e.commit = d.commit;
    if (d.revokes !== undefined) e.revokes = { index: d.revokes.index, pcr0: d.revokes.pcr0 };
    return e;
  };
  if (opts.workers && opts.workers > 0) {
    const pool = new AdmissionPool({ allowedSigners, allowedRebuilders }, opts.workers);
    return {
      async admit(bundleJson, ctx) {
        return (await pool.admit(bundleJson)) ?? slow(bundleJson, ctx);
      },
      ready: () => pool.ready(),
      close: () => pool.close(),
    };
  }
  const fast = fastAdmitter({ allowedSigners, allowedRebuilders });
  return {
    admit(bundleJson: string, ctx: AdmissionContext): AdmittedEntry {
      return fast(bundleJson) ?? slow(bundleJson, ctx);
    },
  };
}

/**
 * The hot path as a function (also run on worker threads): an admitted entry, or null for
 * "let verifyEntryBundle decide" (it also produces every error).
 */
export function fastAdmitter(opts: {
  allowedSigners: Array<string | Uint8Array>;
  allowedRebuilders: Array<string | Uint8Array>;
}): (bundleJson: string) => AdmittedEntry | null {
  const byHint = hintIndex(opts.allowedSigners, opts.allowedRebuilders);
  return (bundleJson) => fast(bundleJson, byHint);
}

/** The hot path; null means "let verifyEntryBundle decide" (it also produces every error). */
function fast(bundleJson: string, byHint: Map<string, PolicyKey>): AdmittedEntry | null {
  try {
    const b = parseBundle(bundleJson);
    const k = b.certificate || !b.hint ? undefined : byHint.get(b.hint);
    if (!k || b.envelope.payloadType !== IN_TOTO_PAYLOAD_TYPE) return null;
    if (!verifyDsseSignature(k.signer, b.envelope.payloadType, b.payload, b.signature)) return null;
    const { kind, statement } = validateStatement(parseJsonStrict(b.payload, MAX_LEAF_BYTES, 'the statement'));
    if (!((kind === 'release' && k.publisher) || (kind === 'rebuild' && k.rebuilder))) return null;
    const p = (statement as ReleaseStatement | RebuildStatement).predicate;
    const replayKey = entryReplayKey(k.signer.spkiSha256, b.envelope.payloadType, b.payload);
    return {
      leaf: encodeLeaf(b, k.signer),
      kind,
      pcr0: p.measurements.pcr0,
      eifSha256: p.eif.sha256,
      commit: p.source.commit,
      replayKey,
    };
  } catch {
    return null;
  }
}

function hintIndex(
  publishers: Array<string | Uint8Array>,
  rebuilders: Array<string | Uint8Array>,
): Map<string, PolicyKey> {
  const out = new Map<string, PolicyKey>();
  const add = (k: string | Uint8Array, role: 'publisher' | 'rebuilder') => {
    let signer: ReleaseSigner;
    try {
      signer = parseTrustedKey(k);
    } catch {
      return; // the slow path reports the malformed key with its own code
    }
    if (signer.certificate) return;
    const e = out.get(signer.spkiSha256) ?? { signer, publisher: false, rebuilder: false };
    e[role] = true;
    out.set(signer.spkiSha256, e);
  };
  for (const k of publishers) add(k, 'publisher');
  for (const k of rebuilders) add(k, 'rebuilder');
  return out;
}

/**
 * SPKI PEM public keys are converted to DER once, up front (cheaper for the slow path to
 * re-parse). Certificates and anything unparseable pass through unchanged (the verifier
 * reports them with its own codes).
 */
function toDer(k: string | Uint8Array): string | Uint8Array {
  if (typeof k !== 'string' || k.includes('CERTIFICATE') || k.includes('PRIVATE')) return k;
  try {
    return new Uint8Array(createPublicKey({ key: k, format: 'pem' }).export({ type: 'spki', format: 'der' }));
  } catch {
    return k;
  }
}
