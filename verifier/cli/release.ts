/**
 * `keycast verify release`: is this a logged, published, unrevoked (and independently rebuilt)
 * release — proven through the log, trusting neither the operator nor the log? With --bundle and
 * no --log it checks the bundle alone (stock @sigstore/verify plus Keycast's checks).
 */
import {
  VerifierError,
  decodeLeaf,
  parseBundle,
  parseTrustedKey,
  parseVerifierKey,
  publisherForBundle,
  requireActiveStatus,
  requireEndorsements,
  requirePublisher,
  verifyReleaseBundleWithSigstore,
  type DecodedEntry,
  type KeylessPublishers,
  type LogClient,
  type ReleaseSigner,
  type WitnessedCheckpoint,
} from '../index.ts';
import { notLogged } from '../src/attestation/logged.ts';
import type { Endorsement, IndexedEntry } from '../src/release/endorsements.ts';
import type { VerifiedRelease } from '../src/release/sigstore.ts';
import {
  MAX_BUNDLE_BYTES,
  buildTransparencyLogEntry,
  fromBase64,
  fulcioIdentity,
  hashLeaf,
  toHex,
  trustedRootForLog,
  type TrustedRootJson,
} from '../build.ts';
import { X509Certificate } from 'node:crypto';
import { readInput, readVkey } from './io.ts';
import { WITNESS_HELP, hexArg } from './flags.ts';
import { LOG_HELP, LOG_OPTIONS, logSetup, say } from './log.ts';
import { currentCheckpoint } from './memory.ts';
import { IDENTITY_HELP, IDENTITY_OPTIONS, identityPolicyFromFlags, trustedRootFromFlags } from './identity-flags.ts';
import {
  listFlag as list,
  requireFlag as need,
  parseFlags,
  positiveInt,
  stringFlag as str,
  usageError,
  type Command,
  type Flags as Values,
} from '../kit/flags.ts';

const MAX_PEM_BYTES = 16 * 1024;

export function readKeys(v: Values, flag: string): ReleaseSigner[] {
  return list(v, flag).map((f) => {
    const pem = new TextDecoder().decode(readInput(f, MAX_PEM_BYTES, `--${flag}`));
    try {
      return parseTrustedKey(pem);
    } catch {
      throw usageError(`--${flag} ${f}: not a PEM public key`);
    }
  });
}

/** The log's trust root, plus (keyless) the Fulcio CAs, CT logs, timestamp authorities and tlogs of the Sigstore root. */
function rootFor(logVkey: string, keyless?: KeylessPublishers): TrustedRootJson {
  const k = parseVerifierKey(logVkey);
  const log = trustedRootForLog({ origin: k.name, logPublicKey: k.publicKey });
  if (!keyless) return log;
  const s = keyless.trustedRoot as Partial<Record<keyof TrustedRootJson, unknown[]>>;
  return {
    ...log,
    tlogs: [...log.tlogs, ...((s.tlogs ?? []) as TrustedRootJson['tlogs'])],
    certificateAuthorities: s.certificateAuthorities ?? [],
    ctlogs: s.ctlogs ?? [],
    timestampAuthorities: s.timestampAuthorities ?? [],
  };
}

/**
 * The bundle alone: Sigstore verification under the log key, signed by a pinned publisher key,
 * or (keyless) by a Fulcio certificate for a pinned identity with a timestamp inside its validity.
 */
export function checkBundle(
  bundle: string | Record<string, unknown>,
  logVkey: string,
  publishers: ReleaseSigner[],
  keyless?: KeylessPublishers,
): { verified: VerifiedRelease; publisher: ReleaseSigner } {
  const parsed = parseBundle(bundle);
  const publisher = publisherForBundle(parsed, publishers, keyless);
  const verified = verifyReleaseBundleWithSigstore(parsed.json, rootFor(logVkey, keyless), {
    publicKey: publisher.pem,
  });
  return { verified, publisher };
}

/**
 * The publishers a studio pins: keys (--publisher) and keyless identities (--certificate-identity …).
 * `optional`: none given is allowed (monitor); otherwise it is a usage error.
 */
export function publishersFromFlags(
  v: Values,
  optional = false,
): { keys: ReleaseSigner[]; keyless?: KeylessPublishers } {
  const keys = readKeys(v, 'publisher');
  const policy = identityPolicyFromFlags(v);
  if (!policy) {
    if (str(v, 'trusted-root') !== undefined) throw usageError('--trusted-root needs --certificate-identity');
    if (keys.length === 0 && !optional)
      throw usageError(
        '--publisher KEY.pem or --certificate-identity ID --certificate-oidc-issuer URL is required: whose releases do you trust?',
      );
    return { keys };
  }
  return { keys, keyless: { policies: [policy], trustedRoot: trustedRootFromFlags(v) } };
}

/** The Sigstore bundle a logged leaf stands for, with its entry proven in `cp`'s tree. */
function bundleFromLog(
  entry: DecodedEntry,
  index: number,
  proof: Uint8Array[],
  cp: WitnessedCheckpoint,
  logVkey: string,
): Record<string, unknown> {
  const k = parseVerifierKey(logVkey);
  const tle = buildTransparencyLogEntry({
    index,
    origin: k.name,
    logPublicKey: k.publicKey,
    leaf: entry.leaf,
    proof,
    checkpointNote: cp.note,
    rootHash: cp.checkpoint.rootHash,
    treeSize: cp.checkpoint.size,
  });
  return {
    mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
    verificationMaterial: { publicKey: { hint: entry.signer.spkiSha256 }, tlogEntries: [tle] },
    dsseEnvelope: entry.envelope,
  };
}

interface Facts {
  kind: string;
  pcr0: string;
  eifSha256: string | null;
  commit: string | null;
  repo: string | null;
  publisher: string;
  /** Keyless: the signing certificate's SANs and OIDC issuer. */
  identity: { sans: string[]; issuer: string | null } | null;
  statement: unknown;
}

function keylessIdentity(p: ReleaseSigner): Facts['identity'] {
  if (!p.certificate) return null;
  const id = fulcioIdentity(new Uint8Array(new X509Certificate(p.pem).raw));
  return { sans: id.sans.map((s) => s.value), issuer: id.fields.issuer ?? id.fields.issuerV1 ?? null };
}

function facts(e: DecodedEntry, publisher: ReleaseSigner): Facts {
  const source =
    e.kind === 'release'
      ? ((e.statement.predicate as { source?: { repo: string; commit: string } }).source ?? null)
      : null;
  return {
    kind: e.kind,
    pcr0: e.pcr0,
    eifSha256: e.eifSha256 ?? null,
    commit: e.commit ?? null,
    repo: source?.repo ?? null,
    publisher: publisher.spkiSha256,
    identity: keylessIdentity(publisher),
    statement: e.statement,
  };
}

/** Reads every entry of `cp`'s tree through the tiles (progress on stderr), decoding what decodes. */
export async function readAllEntries(client: LogClient, cp: WitnessedCheckpoint, from = 0): Promise<IndexedEntry[]> {
  const out: IndexedEntry[] = [];
  let last = 0;
  for await (const { index, leaf } of client.entries(from, cp, (done, total) => {
    if (Date.now() - last > 1000 || done === total) {
      last = Date.now();
      say(`keycast: read entries ${done}/${total}`);
    }
  })) {
    try {
      out.push({ index, entry: decodeLeaf(leaf) });
    } catch {
      /* not a Keycast entry; `keycast monitor` reports such leaves */
    }
  }
  return out;
}

export interface LoggedReleaseCheck {
  index: number;
  entry: DecodedEntry;
  publisher: ReleaseSigner;
  current: WitnessedCheckpoint;
  previous: { size: number } | null;
  endorsements: Endorsement[];
}

/**
 * Steps 1–6 of the help below, from the log flags in `v`: the release (the newest of a PCR0, or a
 * checked bundle's entry) proven in the log's current tree, held against the remembered one,
 * published by a pinned key, active by the log's signed statement, and rebuilt k times.
 */
export async function verifyReleaseThroughLog(
  v: Values,
  target: { pcr0: string } | { bundle: { verified: VerifiedRelease; publisher: ReleaseSigner } },
  publishers: ReleaseSigner[],
  rebuilders: ReleaseSigner[] = [],
  k = 0,
  keyless?: KeylessPublishers,
): Promise<LoggedReleaseCheck> {
  const log = logSetup(v);
  say(`keycast: reading ${new URL('checkpoint', log.client.url).href}`);
  const { current, previous } = await currentCheckpoint(log.client, log.store, log.logKey);
  const cp = current.checkpoint;
  let index: number;
  let entry: DecodedEntry;
  let publisher: ReleaseSigner;
  if ('bundle' in target) {
    const bundle = target.bundle;
    const tle = bundle.verified.tlogEntries.find((t) => t.checkpoint !== undefined)!;
    index = tle.logIndex;
    entry = bundle.verified.entry;
    publisher = bundle.publisher;
    if (index >= cp.size)
      throw new VerifierError(
        'CHECKPOINT_STALE',
        `the bundle's entry ${index} is beyond the log's tree of ${cp.size}`,
        { index, treeSize: cp.size, checkpoint: current.note },
      );
    await log.client.inclusionProof(index, hashLeaf(entry.leaf), current);
  } else {
    const pcr0 = target.pcr0;
    const answer = await log.client.lookup('pcr0', pcr0);
    if (answer === null) throw notLogged(fromHexStrict(pcr0), log.client.url.href);
    index = answer.index;
    const leaf = fromBase64(answer.entry);
    entry = decodeLeaf(leaf);
    if (entry.kind !== 'release' || entry.pcr0 !== pcr0)
      throw new VerifierError('PCR_MISMATCH', `log entry ${index} is not a release of this PCR0`, {
        pcr: 0,
        index,
        kind: entry.kind,
        expected: pcr0,
        actual: entry.pcr0,
      });
    if (index >= cp.size)
      throw new VerifierError(
        'CHECKPOINT_STALE',
        `the lookup names entry ${index}, beyond the log's tree of ${cp.size}`,
        { index, treeSize: cp.size, checkpoint: current.note },
      );
    const proof = await log.client.inclusionProof(index, hashLeaf(leaf), current);
    const fromLog = bundleFromLog(entry, index, proof, current, log.logKey);
    if (entry.signer.certificate) {
      // A keyless leaf keeps its certificate: Fulcio-issued, for a pinned identity (the signing
      // time was checked when the log admitted the full bundle; --bundle checks it again).
      publisher = requirePublisher(entry, publishers, keyless);
      entry = verifyReleaseBundleWithSigstore(fromLog, rootFor(log.logKey), { publicKey: publisher.pem }).entry;
    } else {
      const rebuilt = checkBundle(fromLog, log.logKey, publishers);
      entry = rebuilt.verified.entry;
      publisher = rebuilt.publisher;
    }
  }
  const { status, note } = await log.client.signedStatus(index, current);
  try {
    requireActiveStatus(status, cp, { index, pcr0: entry.pcr0 });
  } catch (e) {
    if (e instanceof VerifierError && e.code === 'RELEASE_REVOKED')
      throw new VerifierError(
        'RELEASE_REVOKED',
        e.message.replace(/^[A-Z_]+: /, ''),
        { ...e.evidence, statement: note, checkpoint: current.note },
        { cause: e },
      );
    throw e;
  }
  let endorsements: Endorsement[] = [];
  if (k > 0)
    endorsements = requireEndorsements({ index, entry }, await readAllEntries(log.client, current), rebuilders, k);

  return { index, entry, publisher, current, previous, endorsements };
}

export const verifyRelease: Command = {
  path: ['verify', 'release'],
  summary: 'verify a release: log checkpoint, inclusion, Sigstore bundle, publisher, status, rebuilds',
  help: `keycast verify release (PCR0 | --bundle FILE) --log URL --log-key VKEY
                       (--publisher KEY.pem… | --certificate-identity ID --certificate-oidc-issuer URL […])
                       [--witness VKEY… [--witness-threshold K] [--max-checkpoint-age S]]
                       [--require-rebuilds K --rebuilder KEY.pem…] [--state DIR] [--json]
keycast verify release --bundle FILE --log-key VKEY --publisher KEY.pem…   (offline: the bundle alone)

Proves, trusting neither the operator nor the log:
  1. the log's current checkpoint is signed by --log-key (and cosigned by the witnesses, fresh);
  2. it extends the last checkpoint you verified of this log (consistency proof; a log that
     rewrote history is LOG_INCONSISTENT with both checkpoints as evidence); it is then saved;
  3. the release (the newest one of PCR0, or the bundle's entry) is included in that tree;
  4. its Sigstore bundle verifies with stock @sigstore/verify plus Keycast's checks, and it is
     signed by one of the --publisher keys, or keylessly by a Fulcio certificate (of --trusted-root)
     for the --certificate-identity, with a timestamp inside the certificate's validity;
  5. the log's signed status statement for that tree says "active" (RELEASE_REVOKED otherwise);
  6. with --require-rebuilds K: K distinct --rebuilder keys logged rebuilds with the same PCRs.

  PCR0                  96 hex digits: the enclave image (use this or --bundle)
  --bundle FILE         a published Sigstore bundle (- for stdin)
  --publisher KEY.pem   a release publisher's public key (repeatable)
${IDENTITY_HELP}
  --require-rebuilds K  at least K independent rebuild endorsements (reads every entry)
  --rebuilder KEY.pem   a rebuilder's public key (repeatable)
${LOG_HELP}
${WITNESS_HELP}

Exit 0 verified, 1 refused (code and evidence; --json as JSON), 2 bad flags, 3 the log is
unreachable or answers nonsense, 6 a file cannot be read.`,
  async run(args) {
    const { values: v, positionals } = parseFlags(
      args,
      {
        ...LOG_OPTIONS,
        ...IDENTITY_OPTIONS,
        bundle: { type: 'string' },
        publisher: { type: 'string', multiple: true },
        'require-rebuilds': { type: 'string' },
        rebuilder: { type: 'string', multiple: true },
      },
      1,
    );
    const bundlePath = str(v, 'bundle');
    const pcr0Arg = positionals[0];
    if ((pcr0Arg === undefined) === (bundlePath === undefined)) throw usageError('give either PCR0 or --bundle FILE');
    const pcr0 = pcr0Arg === undefined ? undefined : toHex(hexArg('PCR0', pcr0Arg, 48));
    const { keys: publishers, keyless } = publishersFromFlags(v);
    const rebuilders = readKeys(v, 'rebuilder');
    const k =
      str(v, 'require-rebuilds') === undefined ? 0 : positiveInt(str(v, 'require-rebuilds'), 'require-rebuilds', 1);
    if (k > 0 && rebuilders.length < k)
      throw usageError(`--require-rebuilds ${k} needs at least ${k} --rebuilder keys`);
    if (k === 0 && rebuilders.length > 0) throw usageError('--rebuilder needs --require-rebuilds K');
    const json = v.json === true;
    const bundle =
      bundlePath === undefined
        ? undefined
        : checkBundle(
            new TextDecoder().decode(readInput(bundlePath, MAX_BUNDLE_BYTES, '--bundle')),
            readVkey(need(v, 'log-key'), '--log-key'),
            publishers,
            keyless,
          );

    if (str(v, 'log') === undefined) {
      if (bundle === undefined) throw usageError('PCR0 needs --log URL');
      if (k > 0 || list(v, 'witness').length > 0) throw usageError('--require-rebuilds and --witness need --log URL');
      const tle = bundle.verified.tlogEntries.find((t) => t.checkpoint !== undefined);
      const out = {
        verified: true,
        mode: 'bundle',
        ...facts(bundle.verified.entry, bundle.publisher),
        logIndex: tle?.logIndex ?? null,
        treeSize: tle?.checkpoint?.size ?? null,
      };
      if (json) console.log(JSON.stringify(out, null, 2));
      else
        console.log(
          [
            `OK ${out.kind} pcr0=${out.pcr0} at log index ${out.logIndex} (offline: against the checkpoint in the bundle)`,
            `  source     ${out.repo ?? '-'}@${out.commit ?? '-'}`,
            `  eif sha256 ${out.eifSha256 ?? '-'}`,
            `  publisher  ${out.identity ? `${out.identity.sans.join(', ')} (issuer ${out.identity.issuer})` : out.publisher}`,
            "  pass --log URL to check the log's current view, the release status and rebuilds",
          ].join('\n'),
        );
      return 0;
    }

    const r = await verifyReleaseThroughLog(
      v,
      bundle === undefined ? { pcr0: pcr0! } : { bundle },
      publishers,
      rebuilders,
      k,
      keyless,
    );
    const { index, entry, publisher, current, previous, endorsements } = r;
    const cp = current.checkpoint;
    const out = {
      verified: true,
      mode: bundle === undefined ? 'pcr0' : 'bundle',
      ...facts(entry, publisher),
      logIndex: index,
      status: 'active',
      treeSize: cp.size,
      origin: cp.origin,
      cosigners: current.cosigners,
      previousTreeSize: previous?.size ?? null,
      endorsements,
    };
    if (json) console.log(JSON.stringify(out, null, 2));
    else {
      console.log(
        [
          `OK release #${index} of ${cp.origin} is active in its tree of ${cp.size} (signed status statement)`,
          `  pcr0       ${entry.pcr0}`,
          `  source     ${out.repo ?? '-'}@${out.commit ?? '-'}`,
          `  eif sha256 ${out.eifSha256 ?? '-'}`,
          `  publisher  ${out.identity ? `${out.identity.sans.join(', ')} (issuer ${out.identity.issuer})` : publisher.spkiSha256}`,
          `  log        ${previous ? `consistent with the tree of ${previous.size} you verified before` : 'first checkpoint of this log remembered'}`,
          ...(current.cosigners.length > 0
            ? [
                `  witnessed  ${current.cosigners.map((c) => `${c.name} at ${new Date(c.timestamp * 1000).toISOString()}`).join(', ')}`,
              ]
            : []),
          ...(k > 0
            ? [
                `  rebuilds   ${endorsements.length} independent: ${endorsements.map((e) => `${e.rebuilder.slice(0, 16)}… (entry ${e.index})`).join(', ')}`,
              ]
            : []),
        ].join('\n'),
      );
    }
    return 0;
  },
};

function fromHexStrict(h: string): Uint8Array {
  return hexArg('PCR0', h, 48);
}
