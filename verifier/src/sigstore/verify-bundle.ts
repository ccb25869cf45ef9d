/**
 * Generic Sigstore bundle verification, what `keycast verify bundle` (and the conformance
 * suite) runs: v0.1–v0.3 bundles, message signatures and DSSE envelopes, Rekor v1 and v2 entries,
 * RFC 3161 timestamps; keyless signers checked against an identity policy (identity-policy.ts),
 * or a public key given by the user.
 *
 * Stock @sigstore/verify 3.1.1 does the cryptography (certificate chain to the trusted root's
 * Fulcio CA, SCTs, timestamps inside the certificate's validity, Merkle inclusion, checkpoint
 * and SET signatures, the tlog body against the signature), with every threshold at its
 * default of 1. What it does not do is done here, before or after it:
 *  - the trust root must bound every key's validity from the start (TRUSTED_ROOT_INVALID):
 *    a missing `validFor.start` is malformed, not "valid forever";
 *  - the certificate chain in a bundle must not carry a self-signed root (SIGSTORE_INVALID);
 *  - the artifact: a message signature's digest must be the artifact's, and a DSSE envelope
 *    must be an in-toto statement with a subject whose sha256 is the artifact's
 *    (ARTIFACT_MISMATCH) — 3.1.1 ignores the artifact for DSSE;
 *  - Rekor v2's hashedrekord-over-DSSE entries (rekor-v2 spec §6.1.4: the entry holds
 *    SHA-256(PAE)) are compared against that digest, which 3.1.1 does not know;
 *  - an artifact given only as `sha256:<hex>` has its message signature checked over the digest
 *    (prehashed ECDSA);
 *  - the identity policy, on values read from the certificate DER, never through 3.1.1's
 *    unanchored-pattern policy (IDENTITY_MISMATCH naming the field).
 * Pure (no I/O); the libraries load on first use.
 */
import { createHash, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import type * as SigstoreVerify from '@sigstore/verify';
import { sigstoreLibs } from './libs.ts';
import { p256, p384 } from '@noble/curves/nist.js';
import { VerifierError } from '../errors.ts';
import { bytesEqual, fromBase64, toHex } from '../encoding/bytes.ts';
import { isObject, parseJsonStrict } from '../encoding/canonical-json.ts';
import { dssePae } from '../release/dsse.ts';
import { IN_TOTO_PAYLOAD_TYPE } from '../release/schema.ts';
import type { FulcioIdentity } from './fulcio-identity.ts';
import { matchCertificateIdentity, type IdentityPolicy } from './identity-policy.ts';

/** Bundles larger than this are refused before parsing. */
export const MAX_GENERIC_BUNDLE_BYTES = 1024 * 1024;
export const MAX_TRUSTED_ROOT_BYTES = 1024 * 1024;

export type ArtifactInput = { bytes: Uint8Array } | { sha256: Uint8Array };

export interface BundleVerifyInput {
  /** The bundle JSON (text or bytes). */
  bundle: string | Uint8Array | Record<string, unknown>;
  /**
   * The artifact. Required for message signatures; without it a DSSE bundle is checked as a
   * signed statement (no subject comparison) — what a log admitting a Keycast statement does.
   */
  artifact?: ArtifactInput;
  /** A parsed trusted_root.json (Sigstore TrustedRoot, JSON form). */
  trustedRoot: unknown;
  /** Who must have signed: a keyless identity policy, or a public key (PEM) the user trusts. */
  signer: { policy: IdentityPolicy } | { anyOf: IdentityPolicy[] } | { publicKeyPem: string };
  /** Transparency-log entries required (default 1; 0 for a bundle not yet logged). */
  tlogThreshold?: number;
}

export interface BundleVerifyResult {
  mediaType: string;
  content: 'messageSignature' | 'dsseEnvelope';
  /** The certificate's identity and the policy it matched (keyless), or the key's SPKI SHA-256 (key). */
  identity?: FulcioIdentity;
  policy?: IdentityPolicy;
  /** The signing certificate (DER), keyless only. */
  certificate?: Uint8Array;
  publicKeySpkiSha256?: string;
  tlogEntries: Array<{ logIndex: string; kind: string; version: string }>;
  rfc3161Timestamps: number;
  /** Lowercase hex SHA-256 of the artifact (null when none was given). */
  artifactSha256: string | null;
}

function refused(message: string, evidence: Record<string, unknown> = {}, cause?: unknown): VerifierError {
  return new VerifierError('SIGSTORE_INVALID', message, evidence, cause === undefined ? undefined : { cause });
}

function rootInvalid(message: string, evidence: Record<string, unknown> = {}): VerifierError {
  return new VerifierError('TRUSTED_ROOT_INVALID', message, evidence);
}

/**
 * A trusted root must bound every authority's validity from the start: a `validFor` without a
 * `start` is malformed (the conformance suite's trust-root-tlog-missing-validity-start case).
 * Throws TRUSTED_ROOT_INVALID.
 */
export function checkTrustedRoot(root: unknown): void {
  if (!isObject(root)) throw rootInvalid('the trusted root must be a JSON object');
  if (typeof root.mediaType !== 'string' || !root.mediaType.startsWith('application/vnd.dev.sigstore.trustedroot'))
    throw rootInvalid('the trusted root has no Sigstore TrustedRoot mediaType', {
      mediaType: String(root.mediaType).slice(0, 200),
    });
  const groups: Array<[string, (x: Record<string, unknown>) => unknown]> = [
    ['tlogs', (x) => (isObject(x.publicKey) ? x.publicKey.validFor : undefined)],
    ['ctlogs', (x) => (isObject(x.publicKey) ? x.publicKey.validFor : undefined)],
    ['certificateAuthorities', (x) => x.validFor],
    ['timestampAuthorities', (x) => x.validFor],
  ];
  for (const [name, validFor] of groups) {
    const list = root[name];
    if (list === undefined) continue;
    if (!Array.isArray(list)) throw rootInvalid(`trusted root ${name} must be a list`, { field: name });
    list.forEach((x: unknown, i: number) => {
      const field = `${name}[${i}]`;
      if (!isObject(x)) throw rootInvalid(`trusted root ${field} must be an object`, { field });
      const v = validFor(x);
      if (!isObject(v) || typeof v.start !== 'string' || Number.isNaN(Date.parse(v.start)))
        throw rootInvalid(`trusted root ${field} has no validFor.start`, { field });
      if (v.end !== undefined && v.end !== null && (typeof v.end !== 'string' || Number.isNaN(Date.parse(v.end))))
        throw rootInvalid(`trusted root ${field} has a malformed validFor.end`, { field });
    });
  }
}

/** Parses trusted_root.json text and checks it (TRUSTED_ROOT_INVALID). */
export function parseTrustedRoot(text: string | Uint8Array): Record<string, unknown> {
  let json: unknown;
  try {
    json = parseJsonStrict(text, MAX_TRUSTED_ROOT_BYTES, 'the trusted root');
  } catch (e) {
    throw rootInvalid(`the trusted root does not parse: ${(e as Error).message}`);
  }
  checkTrustedRoot(json);
  return json as Record<string, unknown>;
}

function certDers(vm: Record<string, unknown>): Uint8Array[] {
  const b64 = (v: unknown, field: string): Uint8Array => {
    try {
      return fromBase64(v as string);
    } catch {
      throw refused(`${field} is not canonical base64`, { field });
    }
  };
  if (isObject(vm.certificate)) return [b64(vm.certificate.rawBytes, 'verificationMaterial.certificate.rawBytes')];
  const chain = isObject(vm.x509CertificateChain) ? vm.x509CertificateChain.certificates : undefined;
  if (Array.isArray(chain))
    return chain.map((c, i) =>
      b64(
        isObject(c) ? c.rawBytes : undefined,
        `verificationMaterial.x509CertificateChain.certificates[${i}].rawBytes`,
      ),
    );
  return [];
}

/** A chain in a bundle stops below the root: a self-signed certificate in it is refused. */
function checkNoRoot(ders: Uint8Array[]): void {
  ders.forEach((der, i) => {
    let c: X509Certificate;
    try {
      c = new X509Certificate(Buffer.from(der));
    } catch (e) {
      throw refused(`certificate ${i} of the bundle does not parse`, { index: i }, e);
    }
    if (c.subject === c.issuer && c.checkIssued(c) && c.verify(c.publicKey))
      throw refused('the bundle carries a self-signed root certificate; roots come from the trusted root only', {
        index: i,
        subject: c.subject,
      });
  });
}

const sha256 = (b: Uint8Array): Uint8Array => createHash('sha256').update(b).digest();

/** What the bundle signs must be the artifact. Returns the artifact's SHA-256. */
function checkArtifact(json: Record<string, unknown>, artifact: ArtifactInput | undefined): Uint8Array | null {
  if (artifact === undefined) {
    if (isObject(json.dsseEnvelope)) return null;
    throw new VerifierError('ARTIFACT_MISMATCH', 'a message signature is verified against its artifact: give one', {});
  }
  const digest = 'sha256' in artifact ? artifact.sha256 : sha256(artifact.bytes);
  if (isObject(json.messageSignature)) {
    const md = json.messageSignature.messageDigest;
    if (!isObject(md)) return digest; // the signature itself is checked over the artifact by stock
    const alg = md.algorithm;
    let want: Uint8Array;
    if (alg === 'SHA2_256' || alg === undefined) want = digest;
    else if ('bytes' in artifact && (alg === 'SHA2_384' || alg === 'SHA2_512'))
      want = createHash(alg === 'SHA2_384' ? 'sha384' : 'sha512')
        .update(artifact.bytes)
        .digest();
    else
      throw new VerifierError(
        'ARTIFACT_MISMATCH',
        'the bundle digests the artifact with an algorithm the input does not give',
        {
          algorithm: String(alg),
        },
      );
    let got: Uint8Array;
    try {
      got = fromBase64(md.digest as string);
    } catch {
      throw refused('messageSignature.messageDigest.digest is not canonical base64');
    }
    if (!bytesEqual(got, want))
      throw new VerifierError('ARTIFACT_MISMATCH', 'the bundle signs a different artifact digest', {
        expected: toHex(want),
        actual: toHex(got),
      });
    return digest;
  }
  if (isObject(json.dsseEnvelope)) {
    const env = json.dsseEnvelope;
    if (env.payloadType !== IN_TOTO_PAYLOAD_TYPE)
      throw new VerifierError(
        'ARTIFACT_MISMATCH',
        `a DSSE bundle names its artifact only as an in-toto statement (${IN_TOTO_PAYLOAD_TYPE})`,
        {
          payloadType: String(env.payloadType).slice(0, 200),
        },
      );
    let stmt: unknown;
    try {
      stmt = parseJsonStrict(fromBase64(env.payload as string), MAX_GENERIC_BUNDLE_BYTES, 'the in-toto statement');
    } catch (e) {
      throw new VerifierError(
        'ARTIFACT_MISMATCH',
        `the DSSE payload is not an in-toto statement: ${(e as Error).message}`,
      );
    }
    const subjects = isObject(stmt) && Array.isArray(stmt.subject) ? stmt.subject : [];
    const hex = toHex(digest);
    const listed = subjects.map((s) => (isObject(s) && isObject(s.digest) ? s.digest.sha256 : undefined));
    if (!listed.some((d) => typeof d === 'string' && d.toLowerCase() === hex))
      throw new VerifierError('ARTIFACT_MISMATCH', 'no in-toto subject has the artifact’s sha256', {
        artifactSha256: hex,
        subjects: listed.filter((d) => typeof d === 'string').slice(0, 16),
      });
    return digest;
  }
  throw refused('the bundle has neither a messageSignature nor a dsseEnvelope');
}

/** ECDSA over a digest the caller computed (artifact given as sha256:<hex>). */
function verifyPrehashed(key: KeyObject, digest: Uint8Array, sig: Uint8Array): boolean {
  if (key.asymmetricKeyType !== 'ec') return false;
  const jwk = key.export({ format: 'jwk' });
  const curve = jwk.crv === 'P-256' ? p256 : jwk.crv === 'P-384' ? p384 : undefined;
  if (!curve || !jwk.x || !jwk.y) return false;
  const point = new Uint8Array([4, ...Buffer.from(jwk.x, 'base64url'), ...Buffer.from(jwk.y, 'base64url')]);
  try {
    return curve.verify(sig, digest, point, { prehash: false, lowS: false, format: 'der' });
  } catch {
    return false;
  }
}

type Content = SigstoreVerify.SignedEntity['signature'];

/** The entity's signature content, adjusted where 3.1.1 falls short (see the file comment). */
function adjustContent(
  json: Record<string, unknown>,
  content: Content,
  artifact: ArtifactInput | undefined,
  kinds: Array<{ kind: string; version: string }>,
): Content {
  const c = content as Content & { signature: Buffer };
  if (isObject(json.dsseEnvelope)) {
    const rekorV2Hashed = kinds.filter((k) => k.kind === 'hashedrekord' && k.version === '0.0.2').length;
    if (rekorV2Hashed === 0) return content;
    if (rekorV2Hashed !== kinds.length)
      throw refused('a DSSE bundle mixes hashedrekord 0.0.2 entries with other kinds', { kinds });
    const env = json.dsseEnvelope;
    const paeDigest = sha256(dssePae(String(env.payloadType), fromBase64(env.payload as string)));
    return {
      get signature() {
        return c.signature;
      },
      compareSignature: (s: Buffer) => c.compareSignature(s),
      verifySignature: (k: KeyObject) => c.verifySignature(k),
      compareDigest: (d: Buffer) => bytesEqual(d, paeDigest),
    } as unknown as Content;
  }
  if (artifact !== undefined && 'sha256' in artifact) {
    const digest = artifact.sha256;
    return {
      get signature() {
        return c.signature;
      },
      compareSignature: (s: Buffer) => c.compareSignature(s),
      compareDigest: (d: Buffer) => c.compareDigest(d),
      verifySignature: (k: KeyObject) => verifyPrehashed(k, digest, c.signature),
    } as unknown as Content;
  }
  return content;
}

/**
 * Verifies a bundle for an artifact under a trust root and a signer policy. Throws VerifierError:
 * MALFORMED / OVERSIZED (bundle JSON), TRUSTED_ROOT_INVALID, SIGSTORE_INVALID (evidence.sigstoreCode:
 * what 3.1.1 refused), ARTIFACT_MISMATCH, IDENTITY_MISMATCH, SIGNER_NOT_ALLOWED (a keyless bundle
 * given a key, or a key bundle given an identity), CERT_MALFORMED, KEY_MALFORMED.
 */
export function verifySigstoreBundle(input: BundleVerifyInput): BundleVerifyResult {
  checkTrustedRoot(input.trustedRoot);
  let json: unknown = input.bundle;
  try {
    if (typeof input.bundle === 'string' || input.bundle instanceof Uint8Array)
      json = parseJsonStrict(input.bundle, MAX_GENERIC_BUNDLE_BYTES, 'the bundle');
  } catch (e) {
    if (e instanceof VerifierError && e.code === 'OVERSIZED') throw e;
    throw new VerifierError('MALFORMED', `the bundle is not JSON: ${(e as Error).message}`, {}, { cause: e });
  }
  if (!isObject(json)) throw refused('the bundle must be a JSON object');
  const { bundle, specs, verify } = sigstoreLibs();
  let parsed: ReturnType<typeof bundle.bundleFromJSON>;
  try {
    parsed = bundle.bundleFromJSON(json);
  } catch (e) {
    throw refused(`not a valid Sigstore bundle: ${(e as Error).message}`, { stage: 'bundle' }, e);
  }
  const vm = isObject(json.verificationMaterial) ? json.verificationMaterial : {};
  const ders = certDers(vm);
  const keyless = ders.length > 0;
  if (keyless && 'publicKeyPem' in input.signer)
    throw new VerifierError(
      'SIGNER_NOT_ALLOWED',
      'the bundle is signed keylessly (a certificate): verify it by identity, not --key',
      {
        keyless: true,
      },
    );
  if (!keyless && !('publicKeyPem' in input.signer))
    throw new VerifierError(
      'SIGNER_NOT_ALLOWED',
      'the bundle is signed with a key, not a certificate: verify it with --key',
      {
        keyless: false,
      },
    );
  checkNoRoot(ders);
  const digest = checkArtifact(json, input.artifact);
  const tlogs = Array.isArray(vm.tlogEntries) ? vm.tlogEntries.filter(isObject) : [];
  const kinds = tlogs.map((t) => ({
    logIndex: String(t.logIndex),
    kind: String(isObject(t.kindVersion) ? t.kindVersion.kind : ''),
    version: String(isObject(t.kindVersion) ? t.kindVersion.version : ''),
  }));
  let userKey: KeyObject | undefined;
  let keySha: string | undefined;
  if ('publicKeyPem' in input.signer) {
    try {
      userKey = createPublicKey(input.signer.publicKeyPem);
      keySha = toHex(sha256(userKey.export({ format: 'der', type: 'spki' })));
    } catch (e) {
      throw new VerifierError('KEY_MALFORMED', 'the --key is not a public key (SPKI PEM)', {}, { cause: e });
    }
  }
  try {
    const trust = verify.toTrustMaterial(
      specs.TrustedRoot.fromJSON(input.trustedRoot),
      userKey ? () => ({ publicKey: userKey, validFor: () => true }) : undefined,
    );
    const artifactBytes =
      input.artifact !== undefined && 'bytes' in input.artifact ? Buffer.from(input.artifact.bytes) : undefined;
    const entity = verify.toSignedEntity(parsed, artifactBytes);
    const adjusted = { ...entity, signature: adjustContent(json, entity.signature, input.artifact, kinds) };
    new verify.Verifier(trust, { tlogThreshold: input.tlogThreshold ?? 1 }).verify(adjusted);
  } catch (e) {
    if (e instanceof VerifierError) throw e;
    const code = (e as { code?: unknown }).code;
    throw refused(
      `@sigstore/verify refused the bundle: ${(e as Error).message}`,
      { sigstoreCode: typeof code === 'string' ? code : null },
      e,
    );
  }
  const result: BundleVerifyResult = {
    mediaType: String(json.mediaType),
    content: isObject(json.dsseEnvelope) ? 'dsseEnvelope' : 'messageSignature',
    tlogEntries: kinds,
    rfc3161Timestamps:
      isObject(vm.timestampVerificationData) && Array.isArray(vm.timestampVerificationData.rfc3161Timestamps)
        ? vm.timestampVerificationData.rfc3161Timestamps.length
        : 0,
    artifactSha256: digest === null ? null : toHex(digest),
  };
  if (!('publicKeyPem' in input.signer)) {
    const policies = 'policy' in input.signer ? [input.signer.policy] : input.signer.anyOf;
    const m = matchCertificateIdentity(policies, ders[0]!);
    Object.assign(result, { identity: m.identity, policy: m.policy, certificate: ders[0]! });
  }
  if (keySha) result.publicKeySpkiSha256 = keySha;
  return result;
}
