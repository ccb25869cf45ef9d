/**
 * `keycast release …`: keygen, sign, publish, revoke; and `keycast endorse` (a rebuilder's
 * signed endorsement; `release attest-rebuild` is its deprecated name). Verifying a release is
 * the verifier's (`keycast verify release`): a studio needs no builder for it.
 * Structurally the cli/command.ts shape; builder/cli.ts spreads `releaseCommands` into its list.
 * The signing and network modules (@sigstore/sign) load inside `run`, so `keycast build` does
 * not pay for them. Files: keys are PEM (private keys written with mode 0600, never printed); bundles are
 * Sigstore bundle JSON. Progress goes to stderr, results to stdout (JSON with --json).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import * as verifier from '#verifier';
import * as verifierBuild from '#verifier/build';
import type { Measurements } from '#verifier';
import type { RetryEvent } from '#verifier/build';
import { parseSourceRef } from './statement.ts';
import type { SignReleaseInput } from './release.ts';
import type { BundleJson, KeylessOptions, SigningMethod } from './sign.ts';
import { defaultBuilderVersion, logIdentity, optInt, readMeasurements } from './cli-input.ts';
import { readSigningKeyFile } from './keys.ts';

import {
  parseFlags,
  requireFlag as need,
  requireOutParent,
  urlOption,
  usageError,
  type Command,
  type Flags,
} from '#flag-kit';

const SIGN_FLAGS = {
  key: { type: 'string' },
  keyless: { type: 'boolean' },
  'identity-token': { type: 'string' },
  'identity-token-file': { type: 'string' },
  'id-token': { type: 'string' }, // the old name of --identity-token
  'fulcio-url': urlOption(),
  'timestamp-server-url': urlOption(),
  'rekor-url': urlOption(),
} as const;
const SIGN_HELP = `  --key KEY.pem          ECDSA P-256 private key (keycast release keygen), or
  --keyless              sign as the OIDC identity that runs this (a CI workflow): an ephemeral key,
                         a short-lived Fulcio certificate for the identity, and an RFC 3161
                         timestamp over the signature proving it was made while the certificate
                         was valid. The token: --identity-token TOKEN, --identity-token-file FILE,
                         SIGSTORE_ID_TOKEN, or GitHub Actions' own (permissions: id-token: write)
  --fulcio-url URL       Fulcio (default https://fulcio.sigstore.dev)
  --timestamp-server-url URL
                         RFC 3161 timestamp authority (default https://timestamp.sigstore.dev)
  --rekor-url URL        also record the signature in this Rekor (none by default: the Keycast log
                         is the transparency log)`;
const ARTIFACT_FLAGS = {
  eif: { type: 'string' },
  'eif-uri': urlOption(),
  pcrs: { type: 'string' },
  source: { type: 'string' },
  lock: { type: 'string' },
  'builder-version': { type: 'string' },
  out: { type: 'string' },
} as const;

async function signingMethod(f: Flags): Promise<SigningMethod> {
  const keylessFlags = [
    'identity-token',
    'identity-token-file',
    'id-token',
    'fulcio-url',
    'timestamp-server-url',
    'rekor-url',
  ];
  if (f.keyless) {
    if (f.key) throw usageError('give either --key or --keyless, not both');
    const { identityToken } = await import('./identity-token.ts');
    const keyless: KeylessOptions = { identityToken: await identityToken(f) };
    if (typeof f['fulcio-url'] === 'string') keyless.fulcioUrl = f['fulcio-url'];
    if (typeof f['timestamp-server-url'] === 'string') keyless.tsaUrl = f['timestamp-server-url'];
    if (typeof f['rekor-url'] === 'string') keyless.rekorUrl = f['rekor-url'];
    return { keyless };
  }
  const stray = keylessFlags.find((k) => f[k] !== undefined);
  if (stray) throw usageError(`--${stray} needs --keyless`);
  return { keyPem: readSigningKeyFile(need(f, 'key')) };
}

/** PCR0/1/2(/8) of an EIF, computed by the verifier's nitro-cli-compatible measurer. */
function measureEifPcrs(eif: Uint8Array): Measurements {
  const m = verifierBuild.measureEif(eif);
  const out: Measurements = { pcr0: m.pcr0, pcr1: m.pcr1, pcr2: m.pcr2 };
  if (m.pcr8) out.pcr8 = m.pcr8;
  return out;
}

/** A file the user named, or all of stdin for `-` (at most one input of a command may be -). */
function readArg(path: string): Buffer {
  return path === '-' ? readFileSync(0) : readFileSync(path);
}

function artifactInput(f: Flags): SignReleaseInput {
  const eifPath = need(f, 'eif');
  if (eifPath === '-' && f.lock === '-') throw usageError('only one of --eif and --lock can be - (stdin)');
  process.stderr.write(`reading ${eifPath === '-' ? 'the EIF from stdin' : eifPath}\n`);
  const input: SignReleaseInput = {
    eifBytes: readArg(eifPath),
    eifName: eifPath === '-' ? 'enclave.eif' : (eifPath.split('/').pop() ?? 'enclave.eif'),
    source: parseSourceRef(need(f, 'source')),
    lockBytes: readArg(need(f, 'lock')),
    builderVersion: typeof f['builder-version'] === 'string' ? f['builder-version'] : defaultBuilderVersion(),
  };
  if (typeof f['eif-uri'] === 'string') input.eifUri = f['eif-uri'];
  if (typeof f.pcrs === 'string') input.measurements = readMeasurements(f.pcrs);
  else input.measure = measureEifPcrs;
  return input;
}

function writeBundle(path: string, bundle: BundleJson): void {
  writeFileSync(path, `${JSON.stringify(bundle, null, 2)}\n`);
}

function print(f: Flags, json: Record<string, unknown>, text: string): void {
  console.log(f.json ? JSON.stringify(json) : text);
}

function eifSha256Of(bundle: BundleJson): string {
  const p = verifier.parseBundle(bundle);
  return (
    verifier.validateStatement(JSON.parse(Buffer.from(p.payload).toString('utf8'))).statement.subject[0]!.digest
      .sha256 ?? ''
  );
}

const keygen: Command = {
  path: ['release', 'keygen'],
  summary: 'create an ECDSA P-256 release signing key',
  help: `keycast release keygen --out KEY.pem [--json]

Writes a new P-256 private key to KEY.pem (PKCS#8, mode 0600, refuses to overwrite) and its
public key to KEY.pem.pub (SPKI PEM: give it to the log operator's --allow list and verifiers).`,
  async run(args) {
    const { values: flags } = parseFlags(args, { out: { type: 'string' } });
    const out = need(flags, 'out');
    requireOutParent(out);
    const { generateSigningKey } = await import('./keys.ts');
    const k = generateSigningKey();
    writeFileSync(out, k.privateKeyPem, { mode: 0o600, flag: 'wx' });
    writeFileSync(`${out}.pub`, k.publicKeyPem, { flag: 'wx' });
    const id = verifier.parseTrustedKey(k.publicKeyPem).spkiSha256;
    print(
      flags,
      { privateKey: out, publicKey: `${out}.pub`, keyId: id },
      `wrote ${out} (private, 0600) and ${out}.pub; key id ${id}`,
    );
    return 0;
  },
};

const sign: Command = {
  path: ['release', 'sign'],
  summary: 'sign a release statement (PCRs, source, lock) into a Sigstore bundle',
  help: `keycast release sign --eif FILE --source REPO@COMMIT --lock builder.lock.json --out BUNDLE
                     (--key KEY.pem | --keyless [--identity-token T | --identity-token-file F])
                     [--pcrs FILE] [--eif-uri URL] [--builder-version V] [--json]

Writes an in-toto statement (predicate https://keycast.dev/release/v1: subject = the EIF's
SHA-256; PCR0/1/2(/8), source repo and 40-hex commit, lock file SHA-256, builder version) as a
DSSE envelope in a Sigstore v0.3 bundle. No network with --key; --keyless asks Fulcio and the
timestamp authority. PCRs come from --pcrs (nitro-cli
describe-eif JSON or pcr.json, for EIFs built elsewhere) or are computed from the EIF (EIF v4,
CRC checked; the same PCRs nitro-cli reports).
  --eif-uri URL          where the EIF can be fetched (https; http only on loopback): recorded as
                         predicate.eif.uri, so keycast verify rebuild can fetch it to diff a mismatch
${SIGN_HELP}`,
  async run(args) {
    const { values: flags } = parseFlags(args, { ...SIGN_FLAGS, ...ARTIFACT_FLAGS });
    const out = need(flags, 'out');
    requireOutParent(out);
    const { signRelease } = await import('./release.ts');
    const bundle = await signRelease({ ...artifactInput(flags), ...(await signingMethod(flags)) });
    writeBundle(out, bundle);
    print(flags, { bundle: out, eifSha256: eifSha256Of(bundle) }, `wrote ${out}`);
    return 0;
  },
};

/** Transient log failures are retried; say so on stderr, so a slow publish is not a silent one. */
function reportRetry(e: RetryEvent): void {
  process.stderr.write(
    `log busy or unreachable (${e.reason}); retry ${e.attempt} of ${e.retries} in ${(e.delayMs / 1000).toFixed(1)} s\n`,
  );
}

async function publishAndWrite(flags: Flags, bundle: BundleJson, out: string): Promise<number> {
  const logUrl = need(flags, 'log');
  requireOutParent(out);
  process.stderr.write(`submitting to ${logUrl}/add-entry\n`);
  const opts = typeof flags['log-key'] === 'string' ? { log: logIdentity(flags['log-key']) } : {};
  if (!opts.log)
    process.stderr.write(
      "note: the log's checkpoint is not checked against its key (pass --log-key VKEY to pin the log)\n",
    );
  const { publishRelease } = await import('./publish.ts');
  const r = await publishRelease(logUrl, bundle, { ...opts, onRetry: reportRetry });
  writeBundle(out, r.bundle);
  print(
    flags,
    { index: r.index, leafHash: r.leafHash, duplicate: r.duplicate, bundle: out },
    `logged at index ${r.index}${r.duplicate ? ' (already present)' : ''}; wrote ${out}`,
  );
  return 0;
}

const publish: Command = {
  path: ['release', 'publish'],
  summary: 'submit a signed bundle to a Keycast log and write back its tlog entry',
  help: `keycast release publish --log URL BUNDLE [--out FILE] [--log-key VKEY] [--json]

POSTs BUNDLE (- reads stdin; then --out is required) to URL/add-entry, checks the answer is the canonical leaf of this envelope (and,
with --log-key, that the checkpoint and inclusion proof verify under the log's key), then writes
the bundle with verificationMaterial.tlogEntries = [the log's entry] to --out (default: BUNDLE).`,
  async run(args) {
    const { values: flags, positionals } = parseFlags(
      args,
      { log: urlOption(), out: { type: 'string' }, 'log-key': { type: 'string' } },
      1,
    );
    const path = positionals[0];
    if (!path) throw usageError('give the bundle file (or - for stdin, with --out)');
    if (path === '-' && typeof flags.out !== 'string') throw usageError('a bundle read from stdin needs --out FILE');
    const bundle = JSON.parse(readArg(path).toString('utf8')) as BundleJson;
    return publishAndWrite(flags, bundle, typeof flags.out === 'string' ? flags.out : path);
  },
};

const revoke: Command = {
  path: ['release', 'revoke'],
  summary: 'sign and publish a revocation of a logged release',
  help: `keycast release revoke --log URL --index N --reason TEXT --key KEY.pem
                       [--pcr0 HEX] [--out FILE] [--log-key VKEY] [--json]

Reads entry N from the log (GET URL/entry/N; its leaf is checked, and must be a release), signs
a revocation (https://keycast.dev/revocation/v1) naming index N and its PCR0, and publishes it.
The log accepts it only from an allowed publisher or from the key that signed release N.
--pcr0 skips the read. Writes the published revocation bundle to --out (default revocation-N.json).
${SIGN_HELP}`,
  async run(args) {
    const { values: flags } = parseFlags(args, {
      ...SIGN_FLAGS,
      log: urlOption(),
      index: { type: 'string' },
      reason: { type: 'string' },
      pcr0: { type: 'string' },
      out: { type: 'string' },
      'log-key': { type: 'string' },
    });
    const index = optInt(flags, 'index');
    if (index === undefined) throw usageError('--index is required');
    let pcr0 = typeof flags.pcr0 === 'string' ? flags.pcr0.toLowerCase() : undefined;
    if (!pcr0) {
      const { readLoggedEntry } = await import('./publish.ts');
      const e = await readLoggedEntry(need(flags, 'log'), index, { onRetry: reportRetry });
      if (e.kind !== 'release') throw usageError(`entry ${index} is a ${e.kind}, not a release`);
      pcr0 = e.pcr0;
    }
    const { signRevocation } = await import('./release.ts');
    const bundle = await signRevocation({
      logIndex: index,
      pcr0,
      reason: need(flags, 'reason'),
      ...(await signingMethod(flags)),
    });
    return publishAndWrite(flags, bundle, typeof flags.out === 'string' ? flags.out : `revocation-${index}.json`);
  },
};

const ENDORSE_FLAGS = {
  ...SIGN_FLAGS,
  ...ARTIFACT_FLAGS,
  'release-index': { type: 'string' },
  log: urlOption(),
  'log-key': { type: 'string' },
} as const;

async function runEndorse(args: string[]): Promise<number> {
  const { values: flags } = parseFlags(args, ENDORSE_FLAGS);
  const releaseIndex = optInt(flags, 'release-index');
  const out =
    typeof flags.out === 'string'
      ? flags.out
      : releaseIndex === undefined
        ? 'endorsement.json'
        : `endorsement-${releaseIndex}.json`;
  requireOutParent(out);
  const input = {
    ...artifactInput(flags),
    ...(await signingMethod(flags)),
    ...(releaseIndex === undefined ? {} : { releaseIndex }),
  };
  const { signRebuild } = await import('./release.ts');
  const bundle = await signRebuild(input);
  if (typeof flags.log === 'string') return publishAndWrite(flags, bundle, out);
  writeBundle(out, bundle);
  print(flags, { bundle: out }, `wrote ${out}`);
  return 0;
}

const endorse: Command = {
  path: ['endorse'],
  summary: 'sign (and publish) a rebuild endorsement: "I rebuilt this source and got these PCRs"',
  help: `keycast endorse --eif FILE --source REPO@COMMIT --lock FILE --key KEY.pem [--out BUNDLE]
                [--pcrs FILE] [--release-index N] [--log URL [--log-key VKEY]]
                [--builder-version V] [--json]

Signs a rebuild endorsement (https://keycast.dev/rebuild/v1) over the EIF you rebuilt, optionally
naming the logged release it reproduces; with --log also publishes it (the log admits rebuilds
only from its allowed rebuilders: keycast log serve --trust-rebuilder). Run it after keycast verify
rebuild reports a match. Writes the bundle (with its tlog entry when published) to --out (default
endorsement-N.json with --release-index N, else endorsement.json, in the current directory).
--profile FILE (or KEYCAST_PROFILE) supplies --log and --log-key; flags given win.
${SIGN_HELP}`,
  run: runEndorse,
};

/** The old name, kept working: it says so on stderr and runs keycast endorse. */
const attestRebuild: Command = {
  path: ['release', 'attest-rebuild'],
  summary: 'deprecated name of keycast endorse',
  help: `keycast release attest-rebuild … is the old name of keycast endorse (same flags).

${endorse.help}`,
  async run(args) {
    process.stderr.write('note: keycast release attest-rebuild is deprecated; use keycast endorse (same flags)\n');
    return runEndorse(args);
  },
};

export const releaseCommands: Command[] = [keygen, sign, publish, revoke, endorse, attestRebuild];
