/**
 * The log's admission policy for POST /add-entry: the release-entry rules of verifier/src/release
 * (`verifyEntryBundle`: DSSE signature over PAE, in-toto statement and Keycast predicate schema,
 * signer allowed, revocation rule checked against the leaf it names), mapped to the fields the
 * log indexes (PCR0, EIF SHA-256, commit, revoked index).
 */
import { createPublicKey } from 'node:crypto';
import { verifyEntryBundle } from '#verifier';
import type { AdmissionContext, AdmittedEntry, EntryPolicy } from './ports.ts';

export interface ReleasePolicyOptions {
  /** Public keys (SPKI PEM or DER) or certificate PEMs allowed to publish releases and revocations. */
  allowedSigners: Array<string | Uint8Array>;
  /** Keys allowed to log rebuild attestations (default none). */
  allowedRebuilders?: Array<string | Uint8Array>;
}

export function releasePolicy(opts: ReleasePolicyOptions): EntryPolicy {
  const allowedSigners = opts.allowedSigners.map(toDer);
  const allowedRebuilders = (opts.allowedRebuilders ?? []).map(toDer);
  return {
    admit(bundleJson: string, ctx: AdmissionContext): AdmittedEntry {
      const d = verifyEntryBundle(bundleJson, {
        allowedSigners,
        allowedRebuilders,
        lookupLeaf: (i) => ctx.leafAt(i),
      });
      const e: AdmittedEntry = { leaf: d.leaf, kind: d.kind, pcr0: d.pcr0 };
      if (d.eifSha256 !== undefined) e.eifSha256 = d.eifSha256;
      if (d.commit !== undefined) e.commit = d.commit;
      if (d.revokes !== undefined) e.revokes = { index: d.revokes.index, pcr0: d.revokes.pcr0 };
      return e;
    },
  };
}

/**
 * SPKI PEM public keys are converted to DER once, up front: the verifier parses the policy's
 * keys on every call, and OpenSSL's PEM decoding costs about as much as the whole rest of an
 * admission. Certificates and anything unparseable pass through unchanged (the verifier
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
