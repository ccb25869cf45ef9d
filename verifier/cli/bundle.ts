/**
 * `keycast verify bundle`: cosign verify-blob's check of any Sigstore bundle (#verifier
 * verifySigstoreBundle), by signer identity or by a public key.
 */
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { verifySigstoreBundle } from '../index.ts';
import type { ArtifactInput, BundleVerifyResult } from '../src/sigstore/verify-bundle.ts';
import { fromHex } from '../build.ts';
import { readInput } from './io.ts';
import {
  fileError,
  requireFlag as need,
  parseFlags,
  stringFlag as str,
  usageError,
  type Command,
} from '../kit/flags.ts';
import { IDENTITY_HELP, IDENTITY_OPTIONS, identityPolicyFromFlags, trustedRootFromFlags } from './identity-flags.ts';

const MAX_BUNDLE_FILE_BYTES = 1024 * 1024;
const MAX_KEY_BYTES = 16 * 1024;
/** Artifacts up to this size are read whole (any signature algorithm); larger ones are hashed in a stream. */
const MAX_ARTIFACT_IN_MEMORY = 64 * 1024 * 1024;

/** FILE_OR_DIGEST: `sha256:<64 hex>`, `-` (stdin), or a path. */
export function readArtifact(arg: string): ArtifactInput {
  const m = /^sha256:(.*)$/.exec(arg);
  if (m) {
    if (!/^[0-9a-fA-F]{64}$/.test(m[1]!)) throw usageError(`${arg}: a digest is sha256:<64 hex digits>`);
    return { sha256: fromHex(m[1]!.toLowerCase()) };
  }
  if (arg === '-') return { bytes: readInput('-', MAX_ARTIFACT_IN_MEMORY, 'the artifact') };
  let fd: number;
  try {
    fd = openSync(arg, 'r');
  } catch (e) {
    throw fileError((e as { code?: string }).code ?? 'EIO', arg, 'the artifact');
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw fileError(st.isDirectory() ? 'EISDIR' : 'EINVAL', arg, 'the artifact');
    if (st.size <= MAX_ARTIFACT_IN_MEMORY) return { bytes: readInput(arg, MAX_ARTIFACT_IN_MEMORY, 'the artifact') };
    const h = createHash('sha256');
    const buf = Buffer.alloc(4 * 1024 * 1024);
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) h.update(buf.subarray(0, n));
    return { sha256: new Uint8Array(h.digest()) };
  } finally {
    closeSync(fd);
  }
}

function describe(r: BundleVerifyResult): string[] {
  const lines = [`OK ${r.content} bundle (${r.mediaType}) for sha256:${r.artifactSha256}`];
  if (r.identity) {
    lines.push(`  signer     ${r.identity.sans.map((s) => s.value).join(', ')}`);
    lines.push(`  issuer     ${r.identity.fields.issuer ?? r.identity.fields.issuerV1 ?? '-'}`);
    lines.push(`  cert       valid ${r.identity.notBefore.toISOString()} .. ${r.identity.notAfter.toISOString()}`);
  }
  if (r.publicKeySpkiSha256) lines.push(`  key        ${r.publicKeySpkiSha256}`);
  lines.push(`  tlog       ${r.tlogEntries.map((t) => `${t.kind} ${t.version} #${t.logIndex}`).join(', ') || '-'}`);
  lines.push(`  timestamps ${r.rfc3161Timestamps} RFC 3161`);
  return lines;
}

export const verifyBundle: Command = {
  path: ['verify', 'bundle'],
  summary: 'verify any Sigstore bundle for a file or digest, by signer identity (keyless) or public key',
  help: `keycast verify bundle FILE_OR_DIGEST --bundle B
        (--certificate-identity ID | --certificate-identity-regexp RE) --certificate-oidc-issuer URL
        [--certificate-github-workflow-… V] [--trusted-root FILE] [--json]
keycast verify bundle FILE_OR_DIGEST --bundle B --key KEY.pem [--trusted-root FILE] [--json]

What cosign verify-blob --bundle checks: v0.1–v0.3 bundles, message signatures and DSSE
envelopes (the in-toto subject's sha256 must be the artifact's), Rekor v1 and v2 entries (inclusion
proof, checkpoint, SET), RFC 3161 timestamps, the Fulcio chain and SCT, the signing time inside the
certificate's validity; then who signed it.

  FILE_OR_DIGEST        the artifact: a path, - for stdin, or sha256:<64 hex>
  --bundle B            the Sigstore bundle (JSON; - for stdin)
  --key KEY.pem         verify with this public key instead of an identity
${IDENTITY_HELP}

Exit 0 verified, 1 refused (code and evidence; --json as JSON), 2 bad flags, 6 a file cannot be read.`,
  async run(args) {
    const { values: v, positionals } = parseFlags(
      args,
      { ...IDENTITY_OPTIONS, bundle: { type: 'string' }, key: { type: 'string' } },
      1,
    );
    if (positionals.length !== 1) throw usageError('give the artifact: FILE_OR_DIGEST (a path, - or sha256:<hex>)');
    const policy = identityPolicyFromFlags(v);
    const keyFile = str(v, 'key');
    if ((policy === undefined) === (keyFile === undefined))
      throw usageError('give either --certificate-identity(-regexp) with --certificate-oidc-issuer, or --key');
    const bundlePath = need(v, 'bundle');
    if (bundlePath === '-' && positionals[0] === '-')
      throw usageError('only one of --bundle and the artifact can be stdin');
    const trustedRoot = trustedRootFromFlags(v);
    const bundle = readInput(bundlePath, MAX_BUNDLE_FILE_BYTES, '--bundle');
    const artifact = readArtifact(positionals[0]!);
    const signer =
      policy !== undefined
        ? { policy }
        : { publicKeyPem: new TextDecoder().decode(readInput(keyFile!, MAX_KEY_BYTES, '--key')) };
    const r = verifySigstoreBundle({ bundle, artifact, trustedRoot, signer });
    if (v.json === true) console.log(JSON.stringify({ verified: true, ...r }, null, 2));
    else console.log(describe(r).join('\n'));
    return 0;
  },
};
