/**
 * `keycast verify rebuild`: rebuild the enclave image from a lock with the builder, and compare
 * its PCR0/1/2 with the release the log holds (proven through the log exactly as `keycast verify
 * release` proves it). On a mismatch, the released image — `--released-eif`, or else fetched from the
 * release's predicate.eif.uri (capped, timed, progress on stderr) — is held to the release's SHA-256 and
 * compared with the rebuild by diff-eif, which names the sections and files that differ. This
 * command lives in cli/ because it needs the builder; studios verifying without rebuilding do not.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { VerifierError } from '#verifier';
import { httpRequest, type ReleasePredicate } from '#verifier/build';
import { build, diffEif, formatDiff, parseLock } from '../builder/index.ts';
import {
  IDENTITY_HELP,
  IDENTITY_OPTIONS,
  LOG_HELP,
  LOG_OPTIONS,
  WITNESS_HELP,
  publishersFromFlags,
  readInput,
  verifyReleaseThroughLog,
} from '../verifier/cli.ts';
import { parseFlags, requireOutParent, usageError, type Flags } from '#flag-kit';
import type { Command } from './command.ts';

const say = (line: string) => process.stderr.write(`${line}\n`);

/** The largest released EIF fetched from predicate.eif.uri, and how long one attempt may take. */
export const MAX_RELEASED_EIF_BYTES = 1 << 30;
const RELEASED_EIF_TIMEOUT_MS = 10 * 60_000;
const MAX_LOCK_BYTES = 1 << 20;

const mib = (n: number) => `${(n / (1 << 20)).toFixed(1)} MiB`;

/** Fetches the released EIF through the verifier's transport: capped, timed out, retried, progress on stderr. */
async function fetchReleasedEif(uri: string): Promise<Uint8Array> {
  say(`keycast: fetching the released EIF from ${uri}`);
  let lastSay = 0;
  const { body } = await httpRequest(
    {
      fetch: globalThis.fetch,
      timeoutMs: RELEASED_EIF_TIMEOUT_MS,
      onRetry: (e) => say(`keycast: ${uri}: ${e.reason}; retry ${e.attempt} of ${e.retries}`),
    },
    new URL(uri),
    {
      cap: MAX_RELEASED_EIF_BYTES,
      accept: [],
      progress: (got, total) => {
        if (Date.now() - lastSay < 1000 && got !== total) return;
        lastSay = Date.now();
        say(`keycast: released EIF: ${mib(got)}${total === null ? '' : ` of ${mib(total)}`}`);
      },
    },
  );
  say(`keycast: released EIF: ${mib(body.byteLength)} fetched`);
  return body;
}

export const verifyRebuild: Command = {
  path: ['verify', 'rebuild'],
  summary: 'rebuild an enclave image from its lock and compare PCR0/1/2 with the logged release',
  help: `keycast verify rebuild --lock FILE --log URL --log-key VKEY --publisher KEY.pem…
                       [--release PCR0] [--released-eif FILE] [--out DIR] [--witness VKEY…]
                       [--state DIR] [--json]

Rebuilds the EIF from --lock (every input checked against its pinned SHA-256) into --out DIR (its
parent must exist; without --out, a temporary directory that is removed afterwards), proves the release through the log as keycast verify release does
(checkpoint, memory, inclusion, Sigstore bundle, publisher, signed status), and compares PCR0,
PCR1 and PCR2 with the release's.

  --release PCR0        the logged release to reproduce (default: the rebuild's own PCR0)
  --released-eif FILE   the released image: always read and held to the release's eif digest
                        (another image is EIF_DIGEST_MISMATCH, exit 1, even when the PCRs match;
                        a file that cannot be read, exit 6); on a PCR mismatch it is compared
                        with the rebuild, naming what differs; without it, the image is fetched from the release's eif.uri when it names one
                        (keycast release sign --eif-uri; at most 1 GiB, 10 min per attempt)
  --publisher KEY.pem   a release publisher's public key (repeatable), and/or a keyless one by identity:
${IDENTITY_HELP}
${LOG_HELP}
${WITNESS_HELP}

Exit 0 reproduced (then sign it: keycast endorse), 1 not reproduced (PCR_MISMATCH, with the PCRs
and the differing sections and files as evidence), 2 bad flags, 3 log error, 4 build error,
6 a file cannot be read. The released image is refused as EIF_DIGEST_MISMATCH (exit 1, nothing
compared) when its SHA-256 is not the release's; a server it cannot be fetched from is exit 3.
--json on success: reproduced, index, pcr0/1/2, eif (null unless --out), eifSha256 (the rebuild's),
loggedEifSha256 (the release's), releasedEif and releasedEifSha256 (the file checked, else null).`,
  async run(args) {
    const { values: v } = parseFlags(args, {
      ...LOG_OPTIONS,
      lock: { type: 'string' },
      publisher: { type: 'string', multiple: true },
      ...IDENTITY_OPTIONS,
      release: { type: 'string' },
      'released-eif': { type: 'string' },
      out: { type: 'string' },
    });
    const lockPath = v.lock;
    if (typeof lockPath !== 'string') throw usageError('--lock FILE is required');
    const { keys: publishers, keyless } = publishersFromFlags(v);
    if (typeof v.log !== 'string') throw usageError('--log URL is required');
    const want = typeof v.release === 'string' ? v.release.toLowerCase() : undefined;
    if (want !== undefined && !/^[0-9a-f]{96}$/.test(want))
      throw usageError('--release: expected a PCR0 of 96 hex digits');
    const lockText = new TextDecoder().decode(readInput(lockPath, MAX_LOCK_BYTES, '--lock'));
    // the image given is read (and so must exist) before anything is built, and is always checked
    const releasedPath = typeof v['released-eif'] === 'string' ? v['released-eif'] : undefined;
    const releasedFile =
      releasedPath === undefined ? undefined : readInput(releasedPath, MAX_RELEASED_EIF_BYTES, '--released-eif');
    if (typeof v.out === 'string') requireOutParent(v.out, '--out');
    const tmp = typeof v.out === 'string' ? undefined : mkdtempSync(join(tmpdir(), 'keycast-rebuild-'));
    try {
      return await rebuildAndCompare(v, {
        lockPath,
        lockText,
        outDir: tmp ?? (v.out as string),
        kept: tmp === undefined,
        want,
        publishers,
        keyless,
        ...(releasedPath !== undefined && releasedFile !== undefined
          ? { released: { path: releasedPath, bytes: releasedFile } }
          : {}),
      });
    } finally {
      // a rebuild into a temporary directory leaves nothing behind, whatever the outcome
      if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
    }
  },
};

interface Rebuild {
  lockPath: string;
  lockText: string;
  outDir: string;
  /** the rebuilt image stays (--out); else the temporary directory is removed */
  kept: boolean;
  want: string | undefined;
  publishers: ReturnType<typeof publishersFromFlags>['keys'];
  keyless: ReturnType<typeof publishersFromFlags>['keyless'];
  released?: { path: string; bytes: Uint8Array };
}

const sha256Hex = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function rebuildAndCompare(v: Flags, o: Rebuild): Promise<number> {
  const { lockPath, outDir } = o;
  say(`keycast: rebuilding from ${lockPath} into ${o.kept ? outDir : 'a temporary directory (removed afterwards)'}`);
  const rebuilt = await build({
    lock: parseLock(o.lockText),
    lockDir: dirname(lockPath === '-' ? '.' : lockPath),
    outDir,
    verify: true,
    progress: (m) => say(`keycast: build: ${m}`),
  });
  say(`keycast: rebuilt PCR0 ${rebuilt.pcr0}`);
  const r = await verifyReleaseThroughLog(v, { pcr0: o.want ?? rebuilt.pcr0 }, o.publishers, [], 0, o.keyless);
  const predicate = r.entry.statement.predicate as ReleasePredicate;
  const logged = predicate.measurements;
  const loggedEif = r.entry.eifSha256 ?? null;
  const pcrs = {
    pcr0: [logged.pcr0, rebuilt.pcr0],
    pcr1: [logged.pcr1, rebuilt.pcr1],
    pcr2: [logged.pcr2, rebuilt.pcr2],
  } as const;
  const differ = Object.entries(pcrs)
    .filter(([, [a, b]]) => a !== b)
    .map(([k]) => k);
  // the released image the user named is held to the release's digest whatever the PCRs say:
  // a different image is never reported as the release
  const releasedDigest = o.released === undefined ? null : sha256Hex(o.released.bytes);
  if (o.released !== undefined && releasedDigest !== loggedEif)
    throw new VerifierError(
      'EIF_DIGEST_MISMATCH',
      `--released-eif ${o.released.path} is not the released image (sha256 ${releasedDigest}, release #${r.index} names ${loggedEif ?? 'no digest'}); nothing compared`,
      { file: o.released.path, expected: loggedEif, actual: releasedDigest, differ, index: r.index },
    );
  const source = predicate.source;
  if (differ.length === 0) {
    const out = {
      reproduced: true,
      index: r.index,
      pcr0: rebuilt.pcr0,
      pcr1: rebuilt.pcr1,
      pcr2: rebuilt.pcr2,
      eif: o.kept ? rebuilt.eifPath : null,
      eifSha256: rebuilt.sha256,
      loggedEifSha256: loggedEif,
      releasedEif: o.released?.path ?? null,
      releasedEifSha256: releasedDigest,
      treeSize: r.current.checkpoint.size,
    };
    if (v.json === true) console.log(JSON.stringify(out, null, 2));
    else
      console.log(
        [
          `REPRODUCED release #${r.index} of ${r.current.checkpoint.origin}: PCR0, PCR1 and PCR2 match`,
          `  pcr0 ${rebuilt.pcr0}`,
          o.kept
            ? `  eif  ${rebuilt.eifPath} (sha256 ${rebuilt.sha256})`
            : `  eif  sha256 ${rebuilt.sha256} (rebuilt in a temporary directory, now removed: give --out DIR to keep it)`,
          ...(o.released
            ? [`  released image ${o.released.path}: sha256 ${releasedDigest}, the release's (checked)`]
            : []),
          `  endorse it: keycast endorse --eif ${o.kept ? rebuilt.eifPath : 'DIR/enclave.eif'} --source ${source.repo}@${source.commit} --lock ${lockPath} --release-index ${r.index} --key YOUR.pem --log ${String(v.log)}`,
        ].join('\n'),
      );
    return 0;
  }
  const evidence: Record<string, unknown> = {
    index: r.index,
    differ,
    logged: { pcr0: logged.pcr0, pcr1: logged.pcr1, pcr2: logged.pcr2 },
    rebuilt: { pcr0: rebuilt.pcr0, pcr1: rebuilt.pcr1, pcr2: rebuilt.pcr2 },
    ...(o.kept ? { eif: rebuilt.eifPath } : {}),
  };
  const uri = predicate.eif.uri;
  let explained = 'pass --released-eif FILE to see which sections and files differ';
  let released = o.released?.bytes;
  if (released === undefined && uri !== undefined) {
    released = await fetchReleasedEif(uri);
    const digest = sha256Hex(released);
    if (digest !== loggedEif)
      throw new VerifierError(
        'EIF_DIGEST_MISMATCH',
        `the image at ${uri} is not the released image (sha256 ${digest}, the release names ${loggedEif ?? 'no digest'}); nothing compared`,
        { uri, expected: loggedEif, actual: digest, differ, index: r.index },
      );
  }
  if (released !== undefined) {
    const d = diffEif(released, readFileSync(rebuilt.eifPath));
    evidence.files = d.files.map((f) => ({ ramdisk: f.ramdisk, path: f.path, changes: f.changes }));
    evidence.sections = d.sections.filter((s) => !s.same).map((s) => s.index);
    evidence.diff = formatDiff(d);
    explained =
      d.files.length > 0
        ? `files that differ: ${d.files.map((f) => f.path).join(', ')}`
        : `differing sections: ${(evidence.sections as number[]).join(', ')}`;
    if (v.json !== true) process.stdout.write(`diff (a = released, b = rebuilt):\n${formatDiff(d)}`);
  }
  throw new VerifierError(
    'PCR_MISMATCH',
    `the rebuild does not reproduce release #${r.index}: ${differ.map((k) => k.toUpperCase()).join(', ')} differ; ${explained}`,
    evidence,
  );
}

export const commands: Command[] = [verifyRebuild];
