/**
 * Signing a Keycast statement into a Sigstore bundle with @sigstore/sign 4.1.1's
 * DSSEBundleBuilder (notes/peers.md §1.3): the signer receives the DSSE PAE and signs it.
 *  - local key (default): a P-256 key from PEM, no network, no witnesses — the bundle gets its
 *    tlog entry when `publishRelease` submits it to a Keycast log;
 *  - keyless (`keyless` options): FulcioSigner (ephemeral key, a short-lived certificate for the
 *    OIDC identity in the token) and TSAWitness: an RFC 3161 timestamp over the signature from a
 *    timestamp authority, the proof that the signature was made while the certificate was valid
 *    (builder/README.md says why a TSA rather than Rekor or the Keycast log); RekorWitness too
 *    when a Rekor URL is given. Tested against loopback stand-ins (test/sigstore-standins.ts).
 * The output is the bundle JSON (media type v0.3), verified once more by the verifier's own
 * DSSE check before it is returned.
 */
import { sign as cryptoSign } from 'node:crypto';
import {
  DSSEBundleBuilder,
  FulcioSigner,
  RekorWitness,
  TSAWitness,
  DEFAULT_FULCIO_URL,
  type Signer,
  type Signature,
  type Witness,
} from '@sigstore/sign';
import { bundleToJSON } from '@sigstore/bundle';
import { parseBundle, verifyDsseSignature, parseTrustedKey, type KeycastStatement } from '#verifier';
import { IN_TOTO_PAYLOAD_TYPE, certificateKey } from '#verifier/build';
import { BuilderError } from '../errors.ts';
import { loadSigningKey, type SigningKey } from './keys.ts';

/** A @sigstore/sign Signer over a local P-256 key; the data it gets is already the DSSE PAE. */
export class LocalKeySigner implements Signer {
  constructor(private readonly key: SigningKey) {}

  async sign(data: Buffer): Promise<Signature> {
    return {
      signature: cryptoSign('sha256', data, this.key.privateKey),
      key: { $case: 'publicKey', publicKey: this.key.publicKeyPem, hint: this.key.hint },
    };
  }
}

/** Sigstore's public-good RFC 3161 timestamp authority (base URL; the client adds /api/v1/timestamp). */
export const DEFAULT_TSA_URL = 'https://timestamp.sigstore.dev';

export interface KeylessOptions {
  /** The OIDC identity token (e.g. from SIGSTORE_ID_TOKEN or the CI provider). */
  identityToken: string;
  fulcioUrl?: string;
  /** The RFC 3161 timestamp authority (default DEFAULT_TSA_URL). */
  tsaUrl?: string;
  /** Also record the signature in this Rekor (v1) instance; none by default. */
  rekorUrl?: string;
}

export type SigningMethod = { keyPem: string } | { keyless: KeylessOptions };

export type BundleJson = Record<string, unknown>;

function builderFor(method: SigningMethod): { signer: Signer; witnesses: Witness[]; key?: SigningKey } {
  if ('keyPem' in method) {
    const key = loadSigningKey(method.keyPem);
    return { signer: new LocalKeySigner(key), witnesses: [], key };
  }
  const { identityToken, fulcioUrl, tsaUrl, rekorUrl } = method.keyless;
  if (!identityToken)
    throw new BuilderError('SIGN_FAILED', 'keyless signing needs an OIDC identity token (SIGSTORE_ID_TOKEN)');
  const signer = new FulcioSigner({
    identityProvider: { getToken: async () => identityToken },
    fulcioBaseURL: fulcioUrl ?? DEFAULT_FULCIO_URL,
  });
  const witnesses: Witness[] = [new TSAWitness({ tsaBaseURL: tsaUrl ?? DEFAULT_TSA_URL })];
  if (rekorUrl) witnesses.push(new RekorWitness({ rekorBaseURL: rekorUrl, entryType: 'dsse' }));
  return { signer, witnesses };
}

/** Signs `statement` as an in-toto DSSE envelope into a Sigstore bundle (JSON). */
export async function signStatement(statement: KeycastStatement, method: SigningMethod): Promise<BundleJson> {
  const { signer, witnesses, key } = builderFor(method);
  const payload = Buffer.from(JSON.stringify(statement));
  let json: BundleJson;
  try {
    const bundle = await new DSSEBundleBuilder({ signer, witnesses }).create({
      data: payload,
      type: IN_TOTO_PAYLOAD_TYPE,
    });
    json = bundleToJSON(bundle) as unknown as BundleJson;
  } catch (e) {
    // Library messages may quote the OIDC token (e.g. "invalid identity token: <jwt>"): redact
    // it and drop the cause, so no bearer credential reaches a log line or --json output.
    const token = 'keyless' in method ? method.keyless.identityToken : undefined;
    const message = String((e as Error).message ?? e);
    throw new BuilderError(
      'SIGN_FAILED',
      `signing failed: ${token ? message.split(token).join('[redacted token]') : message}`,
    );
  }
  selfCheck(json, key);
  return json;
}

/** The bundle must verify under our own key before we hand it out (catches a broken signer). */
function selfCheck(json: BundleJson, key: SigningKey | undefined): void {
  const parsed = parseBundle(json);
  if (
    !verifyDsseSignature(
      key ? parseTrustedKey(key.publicKeyPem) : certificateKey(parsed.certificate ?? new Uint8Array()),
      parsed.envelope.payloadType,
      parsed.payload,
      parsed.signature,
    )
  ) {
    throw new BuilderError('SIGN_FAILED', 'the produced signature does not verify under the signing key');
  }
}
