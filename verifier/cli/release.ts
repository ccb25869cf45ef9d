/**
 * `keycast verify release`: is this a logged, published, unrevoked release, and who says so?
 * With --bundle and no --log it checks the bundle alone (stock @sigstore/verify plus Keycast's
 * checks, under the pinned log key and publisher keys).
 */
import {
  MAX_BUNDLE_BYTES, parseBundle, parseTrustedKey, parseVerifierKey, publisherForBundle, trustedRootForLog, verifyReleaseBundleWithSigstore,
  type ReleaseSigner, type VerifiedRelease,
} from '../index.ts';
import { readInput, readVkey } from './io.ts';
import { list, need, parse, usageError, type Command, type Values } from './flags.ts';

const MAX_PEM_BYTES = 16 * 1024;

export function readPublishers(v: Values): ReleaseSigner[] {
  return list(v, 'publisher').map((f) => {
    const pem = new TextDecoder().decode(readInput(f, MAX_PEM_BYTES, '--publisher'));
    try {
      return parseTrustedKey(pem);
    } catch {
      throw usageError(`--publisher ${f}: not a PEM public key`);
    }
  });
}

export interface BundleCheck {
  verified: VerifiedRelease;
  publisher: ReleaseSigner;
}

/** The bundle alone: Sigstore verification under the log key, signed by a pinned publisher. */
export function checkBundle(bundleText: string, logVkey: string, publishers: ReleaseSigner[]): BundleCheck {
  const parsed = parseBundle(bundleText);
  const publisher = publisherForBundle(parsed, publishers);
  const k = parseVerifierKey(logVkey);
  const verified = verifyReleaseBundleWithSigstore(parsed.json, trustedRootForLog({ origin: k.name, logPublicKey: k.publicKey }), { publicKey: publisher.pem });
  return { verified, publisher };
}

function releaseFacts(r: VerifiedRelease, publisher: ReleaseSigner): Record<string, unknown> {
  const e = r.entry;
  const tle = r.tlogEntries.find((t) => t.checkpoint !== undefined);
  const source = e.kind === 'release' ? (e.statement.predicate as { source?: { repo: string; commit: string } }).source ?? null : null;
  return {
    kind: e.kind, pcr0: e.pcr0, eifSha256: e.eifSha256 ?? null, commit: e.commit ?? null, repo: source?.repo ?? null,
    logIndex: tle?.logIndex ?? null, bundleTreeSize: tle?.checkpoint?.size ?? null, publisher: publisher.spkiSha256, statement: e.statement,
  };
}

export const verifyRelease: Command = {
  path: ['verify', 'release'],
  summary: 'verify a release: log checkpoint, inclusion, Sigstore bundle, publisher, status, rebuilds',
  help: `keycast verify release --bundle FILE --log-key VKEY --publisher KEY.pem… [--json]

Verifies a published release bundle (FILE, or - for stdin): stock @sigstore/verify with a
TrustedRoot naming the log (from its vkey), the log-ID and duplicate checks it lacks, the
bundle's checkpoint signature and inclusion proof, the release schema, and that it is signed
by one of the pinned publisher keys.

  --bundle FILE         the Sigstore bundle (as keycast release publish wrote it back)
  --log-key VKEY        the log's note verifier key (or a file holding it)
  --publisher KEY.pem   a release publisher's public key (repeatable); the bundle must be
                        signed by one of them

Exit 0 verified (prints the release), 1 refused (code and evidence), 2 bad flags, 6 a file
cannot be read.`,
  async run(args) {
    const { v, positionals } = parse(args, { bundle: { type: 'string' }, 'log-key': { type: 'string' }, publisher: { type: 'string', multiple: true } }, 0);
    if (positionals.length > 0) throw usageError('give the bundle with --bundle FILE');
    const bundlePath = need(v, 'bundle');
    const publishers = readPublishers(v);
    if (publishers.length === 0) throw usageError('--publisher KEY.pem is required: whose releases do you trust?');
    const logVkey = readVkey(need(v, 'log-key'), '--log-key');
    const text = new TextDecoder().decode(readInput(bundlePath, MAX_BUNDLE_BYTES, '--bundle'));
    const { verified, publisher } = checkBundle(text, logVkey, publishers);
    const facts = releaseFacts(verified, publisher);
    if (v.json === true) console.log(JSON.stringify({ verified: true, ...facts }, null, 2));
    else {
      console.log(`OK ${verified.entry.kind} pcr0=${verified.entry.pcr0} at log index ${facts.logIndex}`);
      console.log(`  source     ${facts.repo ?? '-'}@${facts.commit ?? '-'}`);
      console.log(`  eif sha256 ${facts.eifSha256 ?? '-'}`);
      console.log(`  publisher  ${publisher.spkiSha256}`);
      console.log(`  (checked against the checkpoint in the bundle; pass --log URL for the log's current view and status)`);
    }
    return 0;
  },
};

