/**
 * The builder's release operations, composed from statement.ts, sign.ts and
 * publish.ts: sign a release from the EIF (or given measurements), sign a revocation, sign a
 * rebuild attestation. Pure apart from the optional network of keyless signing; files are read
 * and written by the CLI.
 */
import type { Measurements } from '#verifier';
import type { SourceRef } from '#verifier/build';
import { BuilderError } from '../errors.ts';
import { releaseStatement, rebuildStatement, revocationStatement, sha256Hex } from './statement.ts';
import { signStatement, type BundleJson, type SigningMethod } from './sign.ts';

export interface SignReleaseInput {
  /** The EIF bytes; its SHA-256 is the subject. Give `eifSha256` instead if you only have the digest. */
  eifBytes?: Uint8Array;
  eifSha256?: string;
  eifName?: string;
  /** Where the EIF can be fetched (predicate.eif.uri: https, or http on loopback). */
  eifUri?: string;
  /** PCRs; if absent, `measure(eifBytes)` computes them. */
  measurements?: Measurements;
  measure?: (eif: Uint8Array) => Measurements;
  source: SourceRef;
  /** Lowercase hex SHA-256 of the input lock file, or its bytes via `lockBytes`. */
  lockDigest?: string;
  lockBytes?: Uint8Array;
  builderVersion: string;
}

type Facts = Parameters<typeof releaseStatement>[0];

function facts(i: SignReleaseInput): Facts {
  const eifSha256 = i.eifBytes ? sha256Hex(i.eifBytes) : i.eifSha256;
  if (!eifSha256) throw new BuilderError('EIF_MISSING', 'give the EIF bytes or its SHA-256');
  if (i.eifBytes && i.eifSha256 && i.eifSha256 !== eifSha256)
    throw new BuilderError('EIF_MISSING', 'the given EIF SHA-256 does not match the EIF bytes', {
      given: i.eifSha256,
      actual: eifSha256,
    });
  const measurements = i.measurements ?? (i.eifBytes && i.measure ? i.measure(i.eifBytes) : undefined);
  if (!measurements)
    throw new BuilderError('MEASUREMENTS_MISSING', 'no PCRs: give measurements or an EIF with a measuring function');
  const lockSha256 = i.lockBytes ? sha256Hex(i.lockBytes) : i.lockDigest;
  if (!lockSha256) throw new BuilderError('LOCK_MISSING', 'give the input lock file or its SHA-256');
  const f: Facts = { eifSha256, measurements, source: i.source, lockSha256, builderVersion: i.builderVersion };
  if (i.eifName !== undefined) f.eifName = i.eifName;
  if (i.eifUri !== undefined) f.eifUri = i.eifUri;
  return f;
}

/** Signs a release/v1 statement into a Sigstore DSSE bundle. */
export async function signRelease(input: SignReleaseInput & SigningMethod): Promise<BundleJson> {
  return signStatement(releaseStatement(facts(input)), input);
}

/** Signs a rebuild/v1 attestation ("I rebuilt this source and got these PCRs"). */
export async function signRebuild(
  input: SignReleaseInput & { releaseIndex?: number } & SigningMethod,
): Promise<BundleJson> {
  return signStatement(rebuildStatement(facts(input), input.releaseIndex), input);
}

/** Signs a revocation/v1 of the release at `logIndex` whose PCR0 is `pcr0`. */
export async function signRevocation(
  input: { logIndex: number; pcr0: string; reason: string } & SigningMethod,
): Promise<BundleJson> {
  return signStatement(revocationStatement(input.logIndex, input.pcr0, input.reason), input);
}
