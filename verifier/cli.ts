/**
 * `keycast verify …` and the other studio commands (the verifier's CLI; matches cli/command.ts
 * structurally). The library under verifier/src does no I/O; reading files and fetching from a
 * log happen here and in verifier/cli/ (one small file per command), whose commands this file
 * re-exports.
 *
 *   keycast verify attestation DOC [--at TIME|document] [--expect-pcr N=HEX ...] [--expect-pcr0 HEX]
 *       [--allow-debug] [--trust-root FILE ...] [--nonce HEX] [--user-data HEX] [--max-age SECONDS]
 *       [--log URL --log-key VKEY] [--json]
 *   keycast rules sign | seal | kdm inspect | receipt verify   (studio tools, verifier/cli/forward.ts)
 */
import { verifyAttestationDocument, parseAttestationDocument } from './index.ts';
import { AWS_NITRO_ROOT_G1_SHA256 } from './src/attestation/aws-root.ts';
import type { LoggedRelease } from './src/attestation/logged.ts';
import type { AttestationPolicy } from './src/attestation/policy.ts';
import type { VerifiedAttestation } from './src/attestation/verify.ts';
import { toHex, MAX_COSE_BYTES } from './build.ts';
import { readInput, readUserFile } from './cli/io.ts';
import { hexArg, readRoot, witnessFlags } from './cli/flags.ts';
import { studioCommands } from './cli/commands.ts';
import { checkLog } from './cli/logged-pcr0.ts';
import { commands as forwardCommands } from './cli/forward.ts';
import { checkUrl, parseFlags, usageError, type Command } from './kit/flags.ts';

export { readUserFile, readInput };
// For commands that live in cli/ (verify rebuild uses the builder): the same log flags and checks.
export { verifyReleaseThroughLog, readKeys, publishersFromFlags, type LoggedReleaseCheck } from './cli/release.ts';
export { LOG_OPTIONS, LOG_HELP } from './cli/log.ts';
export {
  IDENTITY_OPTIONS,
  IDENTITY_HELP,
  identityPolicyFromFlags,
  trustedRootFromFlags,
} from './cli/identity-flags.ts';
export { WITNESS_HELP } from './cli/flags.ts';

/** `keycast verify attestation`'s flags, as its option table below declares them. */
type AttestationFlags = {
  at?: string;
  'expect-pcr'?: string[];
  'expect-pcr0'?: string;
  'allow-debug'?: boolean;
  'any-pcr'?: boolean;
  'trust-root'?: string[];
  nonce?: string;
  'user-data'?: string;
  'max-age'?: string;
  log?: string;
  'log-key'?: string;
  json?: boolean;
  state?: string;
  timeout?: string;
  witness?: string[];
  'witness-threshold'?: string;
  'max-checkpoint-age'?: string;
};

/** Base64 of a maximal COSE_Sign1, with room for line breaks: the most a DOC file may hold. */
const MAX_DOC_FILE_BYTES = Math.ceil(MAX_COSE_BYTES / 3) * 4 * 2;

/** DOC: a file (or `-` for stdin) holding the raw CBOR or base64 of it. */
export function readDocument(arg: string): Uint8Array {
  const raw = readInput(arg, MAX_DOC_FILE_BYTES, 'DOC');
  if (raw[0] === 0x84 || raw[0] === 0xd2) return raw; // untagged or tagged COSE_Sign1
  const text = new TextDecoder().decode(raw).replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text))
    throw usageError(`DOC ${arg} holds neither CBOR nor base64 of an attestation document`);
  return new Uint8Array(Buffer.from(text, 'base64'));
}

function parseAt(v: string | undefined, doc: Uint8Array): Date {
  if (v === undefined || v === 'now') return new Date();
  if (v === 'document') return new Date(parseAttestationDocument(doc).timestamp);
  const d = /^\d+$/.test(v) ? new Date(Number(v)) : new Date(v);
  if (Number.isNaN(d.getTime()))
    throw usageError(`--at: expected an ISO time, epoch milliseconds, "now" or "document", got ${v}`);
  return d;
}

function policyFrom(v: Record<string, unknown>): AttestationPolicy {
  const expectedPcrs: Record<number, Uint8Array> = {};
  for (const s of (v['expect-pcr'] as string[] | undefined) ?? []) {
    const m = /^(\d{1,2})=([0-9a-fA-F]+)$/.exec(s);
    if (!m || Number(m[1]) > 31) throw usageError(`--expect-pcr: expected N=HEX with N in 0..31, got ${s}`);
    expectedPcrs[Number(m[1])] = hexArg('--expect-pcr', m[2]!, 48);
  }
  if (typeof v['expect-pcr0'] === 'string') expectedPcrs[0] = hexArg('--expect-pcr0', v['expect-pcr0'], 48);
  const p: AttestationPolicy = { expectedPcrs, allowDebug: v['allow-debug'] === true };
  if (typeof v.nonce === 'string') p.nonce = hexArg('--nonce', v.nonce);
  if (typeof v['user-data'] === 'string') p.userData = hexArg('--user-data', v['user-data']);
  if (typeof v['max-age'] === 'string') {
    if (!/^\d+$/.test(v['max-age'])) throw usageError('--max-age: expected whole seconds');
    p.maxAgeMs = Number(v['max-age']) * 1000;
  }
  return p;
}

const hexOrNull = (b: Uint8Array | null) => (b === null ? null : toHex(b));

function report(r: VerifiedAttestation, logged: LoggedRelease | null, json: boolean): void {
  const pcrs = Object.fromEntries([...r.pcrs].map(([i, b]) => [i, toHex(b)]));
  const log = logged && {
    index: logged.index,
    status: logged.status,
    treeSize: logged.checkpoint.size,
    origin: logged.checkpoint.origin,
    cosigners: logged.cosigners,
  };
  if (json) {
    console.log(
      JSON.stringify(
        {
          verified: true,
          moduleId: r.moduleId,
          timestamp: r.timestamp,
          timestampIso: new Date(r.timestamp).toISOString(),
          verifiedAt: r.verifiedAt.toISOString(),
          debug: r.debug,
          rootSha256: r.rootSha256,
          pcrs,
          publicKey: hexOrNull(r.publicKey),
          userData: hexOrNull(r.userData),
          nonce: hexOrNull(r.nonce),
          chain: r.chain,
          log,
        },
        null,
        2,
      ),
    );
    return;
  }
  const root =
    r.rootSha256 === AWS_NITRO_ROOT_G1_SHA256 ? 'AWS Nitro Enclaves Root G1' : 'a root you passed with --trust-root';
  const show = (b: Uint8Array | null) => (b === null ? 'null' : b.length === 0 ? "h'' (present, empty)" : toHex(b));
  const lines = [
    `verified: attestation document from ${r.moduleId}`,
    `  timestamp  ${new Date(r.timestamp).toISOString()} (chain checked at ${r.verifiedAt.toISOString()})`,
    `  root       ${r.rootSha256} (${root})`,
    `  debug      ${r.debug ? 'YES (PCR0/1/2 are zero; allowed by --allow-debug)' : 'no'}`,
    ...[...r.pcrs]
      .filter(([i, b]) => i <= 4 || i === 8 || b.some((x) => x !== 0))
      .map(([i, b]) => `  PCR${String(i).padEnd(2)}      ${toHex(b)}`),
    `  public_key ${show(r.publicKey)}`,
    `  user_data  ${show(r.userData)}`,
    `  nonce      ${show(r.nonce)}`,
  ];
  if (log)
    lines.push(
      `  log        PCR0 is release #${log.index} of ${log.origin} (inclusion proven in a tree of ${log.treeSize}; status as the log states it: ${log.status})`,
    );
  if (log && log.cosigners.length > 0)
    lines.push(
      `  witnessed  ${log.cosigners.map((c) => `${c.name} at ${new Date(c.timestamp * 1000).toISOString()}`).join(', ')}`,
    );
  console.log(lines.join('\n'));
}

const attestation: Command = {
  path: ['verify', 'attestation'],
  summary: 'verify an AWS Nitro attestation document (chain to the AWS root, signature, PCR policy)',
  help: `keycast verify attestation DOC [flags] [--json]

Verifies an AWS Nitro Enclaves attestation document: its COSE_Sign1 ES384 signature, its
certificate chain to the pinned AWS Nitro Enclaves Root G1 (sha256 ${AWS_NITRO_ROOT_G1_SHA256.slice(0, 8)}…) at a
given time (validity, CA, keyUsage and path-length constraints), its structure, and a policy.
DOC is a file holding the raw CBOR or base64 of it; \`-\` reads it from stdin.

A PCR policy is required, so that "verified" never means "some enclave": give
--expect-pcr0/--expect-pcr, or --log (PCR0 must be a logged release), or say --any-pcr
(prints a warning: any code running in any enclave passes).

  --at TIME             check the chain at TIME (ISO 8601, epoch ms, "now" (default), or
                        "document" for the document's own timestamp, for archived documents)
  --expect-pcr N=HEX    require PCR N (0..31) to equal HEX (96 hex digits); repeatable; a PCR
                        missing from the document fails
  --expect-pcr0 HEX     same as --expect-pcr 0=HEX
  --any-pcr             accept any PCRs (no PCR policy; a warning is printed)
  --allow-debug         accept debug-mode enclaves (all-zero PCR0/1/2); refused by default
  --trust-root FILE     trust this PEM/DER root INSTEAD of the AWS root (repeatable; for test PKIs)
  --nonce HEX           require this nonce          --user-data HEX  require this user_data
  --max-age SECONDS     refuse documents older than this at --at
  --log URL             also prove PCR0 is a logged Keycast release (GET URL/lookup/pcr0/<hex>):
                        inclusion proof against a checkpoint signed by --log-key; refused when the
                        log says the release is revoked
  --log-key VKEY        the log's note verifier key (or a file holding it); required with --log
  --witness VKEY        with --log: the checkpoint must be cosigned (cosignature/v1) by this
                        witness (vkey or a file holding it); repeatable
  --witness-threshold K how many of the --witness keys must cosign (default: all of them)
  --max-checkpoint-age SECONDS
                        the freshest required cosignature must be at most this old (default 3600):
                        a log cannot keep showing you an old view of itself
  --state DIR           with --log: where the last verified checkpoint of each log is kept (default
                        $XDG_STATE_HOME/keycast); the log must prove it extends it (LOG_INCONSISTENT)
  --timeout SECONDS     with --log: per request, headers and body (default 30)
  --profile FILE        take --log, --log-key and --witness from FILE (also KEYCAST_PROFILE);
                        flags given on the command line win

Exit 0 when verified (prints module, timestamp and PCRs); 1 with the error code and evidence
(--json: the VerifierError as JSON) when refused; 2 on bad flags; 3 when the log is unreachable
or answers malformed, oversized or refusing (LOG_* codes; transient failures are retried and
reported on stderr first); 6 when a file cannot be read.`,
  async run(args) {
    const { values, positionals } = parseFlags(
      args,
      {
        at: { type: 'string' },
        'expect-pcr': { type: 'string', multiple: true },
        'expect-pcr0': { type: 'string' },
        'allow-debug': { type: 'boolean' },
        'any-pcr': { type: 'boolean' },
        'trust-root': { type: 'string', multiple: true },
        nonce: { type: 'string' },
        'user-data': { type: 'string' },
        'max-age': { type: 'string' },
        log: { type: 'string' },
        'log-key': { type: 'string' },
        state: { type: 'string' },
        timeout: { type: 'string' },
        witness: { type: 'string', multiple: true },
        'witness-threshold': { type: 'string' },
        'max-checkpoint-age': { type: 'string' },
      },
      { any: true },
    );
    const v = values as AttestationFlags;
    if (positionals.length !== 1) throw usageError('expected exactly one DOC (see keycast verify attestation --help)');
    if (v.log !== undefined) checkUrl(v.log, 'log');
    if (v.log !== undefined && v['log-key'] === undefined)
      throw usageError("--log needs --log-key (the log's verifier key)");
    const witnesses = witnessFlags(v);
    if (witnesses && v.log === undefined) throw usageError('--witness needs --log');
    const pinned = v['expect-pcr0'] !== undefined || (v['expect-pcr'] ?? []).length > 0 || v.log !== undefined;
    if (!pinned && v['any-pcr'] !== true)
      throw usageError(
        'no PCR policy: give --expect-pcr0 HEX, --expect-pcr N=HEX or --log URL (or --any-pcr to accept any enclave)',
      );
    if (pinned && v['any-pcr'] === true) throw usageError('--any-pcr contradicts --expect-pcr0/--expect-pcr/--log');
    if (!pinned)
      process.stderr.write(
        'warning: --any-pcr: no PCR policy; this accepts a genuine Nitro enclave running ANY code\n',
      );
    const doc = readDocument(positionals[0]!);
    const policy = policyFrom(v);
    const trustedRoots = v['trust-root']?.map(readRoot);
    const r = verifyAttestationDocument(doc, {
      at: parseAt(v.at, doc),
      policy,
      ...(trustedRoots ? { trustedRoots } : {}),
    });
    if (v.log === undefined && (v.state !== undefined || v.timeout !== undefined))
      throw usageError('--state and --timeout need --log');
    const logged = v.log === undefined ? null : await checkLog(v, r.pcrs.get(0)!);
    report(r, logged, v.json === true);
    return 0;
  },
};

export const commands: Command[] = [attestation, ...studioCommands, ...forwardCommands];
