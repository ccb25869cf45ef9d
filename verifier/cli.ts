/**
 * `keycast verify …` commands (the verifier's CLI; matches cli/command.ts structurally).
 * The library under verifier/src does no I/O; reading files and fetching from a log happen here.
 *
 *   keycast verify attestation DOC [--at TIME|document] [--expect-pcr N=HEX ...] [--expect-pcr0 HEX]
 *       [--allow-debug] [--trust-root FILE ...] [--nonce HEX] [--user-data HEX] [--max-age SECONDS]
 *       [--log URL --log-key VKEY] [--json]
 *   keycast rules sign | seal | kdm inspect | receipt verify   (studio tools, verifier/cli/forward.ts)
 */
import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { parseArgs } from 'node:util';
import {
  verifyAttestationDocument, parseAttestationDocument, LogClient, fromHex, toHex,
  AWS_NITRO_ROOT_G1_SHA256, MAX_COSE_BYTES, MAX_CERTIFICATE_BYTES, VerifierError, type AttestationPolicy, type VerifiedAttestation, type LoggedRelease,
} from './index.ts';
import { commands as forwardCommands } from './cli/forward.ts';

interface Command {
  path: string[];
  summary: string;
  help: string;
  run(args: string[]): Promise<number>;
}

function usageError(message: string): Error {
  const e = new Error(message);
  e.name = 'UsageError';
  (e as Error & { code: string }).code = 'USAGE';
  return e;
}

/** A file the user named could not be read (exit 6 through cli/exit-codes.ts). */
function ioError(code: string, message: string, evidence: Record<string, unknown>): Error {
  const e = new Error(message);
  e.name = 'IoError';
  Object.assign(e, { code, evidence });
  return e;
}

/** Whether `path` names something on disk (a DOC or vkey argument may instead be the value itself). */
function onDisk(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Reads a user-named file of at most `limit` bytes. The size is checked with fstat on the open
 * descriptor before anything is read, and the read itself stops at limit + 1 bytes (a file that
 * grows in between is still refused), so a huge file costs no memory. A directory or any
 * other non-regular file is a coded I/O error, never a stack trace.
 */
export function readUserFile(path: string, limit: number, what: string): Uint8Array {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    const code = (e as { code?: string }).code ?? 'EIO';
    throw ioError(code, `${what} ${path}: ${code === 'ENOENT' ? 'no such file' : `cannot open (${code})`}`, { file: path });
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw ioError(st.isDirectory() ? 'EISDIR' : 'EINVAL', `${what} ${path}: is ${st.isDirectory() ? 'a directory' : 'not a regular file'}`, { file: path });
    if (st.size > limit) throw new VerifierError('OVERSIZED', `${what} ${path} is ${st.size} bytes, more than the ${limit} allowed`, { file: path, size: st.size, limit });
    const buf = new Uint8Array(limit + 1);
    let n = 0;
    for (let r; n < buf.length && (r = readSync(fd, buf, n, buf.length - n, null)) > 0;) n += r;
    if (n > limit) throw new VerifierError('OVERSIZED', `${what} ${path} grew past the ${limit} bytes allowed while it was read`, { file: path, limit });
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

/** Base64 of a maximal COSE_Sign1, with room for line breaks: the most a DOC file may hold. */
const MAX_DOC_FILE_BYTES = Math.ceil(MAX_COSE_BYTES / 3) * 4 * 2;
const MAX_KEY_FILE_BYTES = 4096;
const MAX_ROOT_FILE_BYTES = MAX_CERTIFICATE_BYTES * 2;

/** DOC: a file holding raw CBOR or base64 of it, or base64 given inline. */
export function readDocument(arg: string): Uint8Array {
  const raw: Uint8Array = onDisk(arg) ? readUserFile(arg, MAX_DOC_FILE_BYTES, 'DOC') : new TextEncoder().encode(arg);
  if (raw[0] === 0x84 || raw[0] === 0xd2) return raw; // untagged or tagged COSE_Sign1
  const text = new TextDecoder().decode(raw).replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text)) throw usageError(`DOC must be a file or base64 of an attestation document: ${arg.slice(0, 40)}`);
  return new Uint8Array(Buffer.from(text, 'base64'));
}

function readRoot(file: string): Uint8Array {
  const bytes = readUserFile(file, MAX_ROOT_FILE_BYTES, '--trust-root');
  try {
    return new Uint8Array(new X509Certificate(bytes).raw);
  } catch {
    throw usageError(`--trust-root ${file}: not a PEM or DER certificate`);
  }
}

function hexArg(flag: string, v: string, len?: number): Uint8Array {
  try {
    const b = fromHex(v);
    if (len === undefined || b.length === len) return b;
  } catch {
    /* fall through */
  }
  throw usageError(`${flag}: expected ${len === undefined ? '' : `${len} bytes of `}hex`);
}

function parseAt(v: string | undefined, doc: Uint8Array): Date {
  if (v === undefined || v === 'now') return new Date();
  if (v === 'document') return new Date(parseAttestationDocument(doc).timestamp);
  const d = /^\d+$/.test(v) ? new Date(Number(v)) : new Date(v);
  if (Number.isNaN(d.getTime())) throw usageError(`--at: expected an ISO time, epoch milliseconds, "now" or "document", got ${v}`);
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

function readVkey(s: string): string {
  return onDisk(s) ? new TextDecoder().decode(readUserFile(s, MAX_KEY_FILE_BYTES, 'key file')).trim() : s;
}

/** Proves PCR0 is a logged release with the log client (over this process's fetch), under the pinned key. */
async function checkLog(url: string, vkey: string, pcr0: Uint8Array, witnesses: WitnessFlags | null): Promise<LoggedRelease> {
  const client = new LogClient({
    url, fetch: globalThis.fetch, logKey: vkey,
    ...(witnesses ? { witnessPolicy: { witnesses: witnesses.vkeys, threshold: witnesses.threshold }, maxAgeSeconds: witnesses.maxAgeSeconds } : {}),
    onRetry: (e) => process.stderr.write(`verify: the log is busy or unreachable (${e.reason}); retry ${e.attempt} of ${e.retries} in ${(e.delayMs / 1000).toFixed(1)} s\n`),
  });
  process.stderr.write(`verify: looking up PCR0 in ${new URL(`lookup/pcr0/${toHex(pcr0)}`, client.url).href}\n`);
  return client.loggedPcr0(pcr0);
}

interface WitnessFlags { vkeys: string[]; threshold: number; maxAgeSeconds: number }

/** --witness/--witness-threshold/--max-checkpoint-age: the checkpoint must be cosigned, and recently. */
function witnessFlags(v: { witness?: string[]; 'witness-threshold'?: string; 'max-checkpoint-age'?: string }): WitnessFlags | null {
  const vkeys = (v.witness ?? []).map(readVkey);
  if (vkeys.length === 0) {
    if (v['witness-threshold'] !== undefined || v['max-checkpoint-age'] !== undefined) throw usageError('--witness-threshold and --max-checkpoint-age need --witness');
    return null;
  }
  const int = (s: string | undefined, name: string, dflt: number): number => {
    if (s === undefined) return dflt;
    if (!/^[1-9][0-9]{0,9}$/.test(s)) throw usageError(`--${name} must be a positive integer`);
    return Number(s);
  };
  const threshold = int(v['witness-threshold'], 'witness-threshold', vkeys.length);
  if (threshold > vkeys.length) throw usageError(`--witness-threshold ${threshold} exceeds the ${vkeys.length} witnesses given`);
  return { vkeys, threshold, maxAgeSeconds: int(v['max-checkpoint-age'], 'max-checkpoint-age', 3600) };
}

const hexOrNull = (b: Uint8Array | null) => (b === null ? null : toHex(b));

function report(r: VerifiedAttestation, logged: LoggedRelease | null, json: boolean): void {
  const pcrs = Object.fromEntries([...r.pcrs].map(([i, b]) => [i, toHex(b)]));
  const log = logged && { index: logged.index, status: logged.status, treeSize: logged.checkpoint.size, origin: logged.checkpoint.origin, cosigners: logged.cosigners };
  if (json) {
    console.log(JSON.stringify({ verified: true, moduleId: r.moduleId, timestamp: r.timestamp, timestampIso: new Date(r.timestamp).toISOString(), verifiedAt: r.verifiedAt.toISOString(), debug: r.debug, rootSha256: r.rootSha256, pcrs, publicKey: hexOrNull(r.publicKey), userData: hexOrNull(r.userData), nonce: hexOrNull(r.nonce), chain: r.chain, log }, null, 2));
    return;
  }
  const root = r.rootSha256 === AWS_NITRO_ROOT_G1_SHA256 ? 'AWS Nitro Enclaves Root G1' : 'a root you passed with --trust-root';
  const show = (b: Uint8Array | null) => (b === null ? 'null' : b.length === 0 ? "h'' (present, empty)" : toHex(b));
  const lines = [
    `verified: attestation document from ${r.moduleId}`,
    `  timestamp  ${new Date(r.timestamp).toISOString()} (chain checked at ${r.verifiedAt.toISOString()})`,
    `  root       ${r.rootSha256} (${root})`,
    `  debug      ${r.debug ? 'YES (PCR0/1/2 are zero; allowed by --allow-debug)' : 'no'}`,
    ...[...r.pcrs].filter(([i, b]) => i <= 4 || i === 8 || b.some((x) => x !== 0)).map(([i, b]) => `  PCR${String(i).padEnd(2)}      ${toHex(b)}`),
    `  public_key ${show(r.publicKey)}`,
    `  user_data  ${show(r.userData)}`,
    `  nonce      ${show(r.nonce)}`,
  ];
  if (log) lines.push(`  log        PCR0 is release #${log.index} of ${log.origin} (inclusion proven in a tree of ${log.treeSize}; status as the log states it: ${log.status})`);
  if (log && log.cosigners.length > 0) lines.push(`  witnessed  ${log.cosigners.map((c) => `${c.name} at ${new Date(c.timestamp * 1000).toISOString()}`).join(', ')}`);
  console.log(lines.join('\n'));
}

const attestation: Command = {
  path: ['verify', 'attestation'],
  summary: 'verify an AWS Nitro attestation document (chain to the AWS root, signature, PCR policy)',
  help: `keycast verify attestation DOC [flags] [--json]

Verifies an AWS Nitro Enclaves attestation document: its COSE_Sign1 ES384 signature, its
certificate chain to the pinned AWS Nitro Enclaves Root G1 (sha256 ${AWS_NITRO_ROOT_G1_SHA256.slice(0, 8)}…) at a
given time (validity, CA, keyUsage and path-length constraints), its structure, and a policy.
DOC is a file holding the raw CBOR or base64 of it, or the base64 itself.

  --at TIME             check the chain at TIME (ISO 8601, epoch ms, "now" (default), or
                        "document" for the document's own timestamp, for archived documents)
  --expect-pcr N=HEX    require PCR N (0..31) to equal HEX (96 hex digits); repeatable; a PCR
                        missing from the document fails
  --expect-pcr0 HEX     same as --expect-pcr 0=HEX
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

Exit 0 when verified (prints module, timestamp and PCRs); 1 with the error code and evidence
(--json: the VerifierError as JSON) when refused; 2 on bad flags; 3 when the log is unreachable
or answers malformed, oversized or refusing (LOG_* codes; transient failures are retried and
reported on stderr first); 6 when a file cannot be read.`,
  async run(args) {
    let parsed;
    try {
      parsed = parseArgs({
        args,
        allowPositionals: true,
        strict: true,
        options: {
          at: { type: 'string' }, 'expect-pcr': { type: 'string', multiple: true }, 'expect-pcr0': { type: 'string' }, 'allow-debug': { type: 'boolean' },
          'trust-root': { type: 'string', multiple: true }, nonce: { type: 'string' }, 'user-data': { type: 'string' }, 'max-age': { type: 'string' },
          log: { type: 'string' }, 'log-key': { type: 'string' }, json: { type: 'boolean' },
          witness: { type: 'string', multiple: true }, 'witness-threshold': { type: 'string' }, 'max-checkpoint-age': { type: 'string' },
        },
      });
    } catch (e) {
      throw usageError((e as Error).message);
    }
    const { values: v, positionals } = parsed;
    if (positionals.length !== 1) throw usageError('expected exactly one DOC (see keycast verify attestation --help)');
    if (v.log !== undefined && v['log-key'] === undefined) throw usageError('--log needs --log-key (the log\'s verifier key)');
    const witnesses = witnessFlags(v);
    if (witnesses && v.log === undefined) throw usageError('--witness needs --log');
    const doc = readDocument(positionals[0]!);
    const policy = policyFrom(v);
    const trustedRoots = v['trust-root']?.map(readRoot);
    const r = verifyAttestationDocument(doc, { at: parseAt(v.at, doc), policy, ...(trustedRoots ? { trustedRoots } : {}) });
    const logged = v.log === undefined ? null : await checkLog(v.log, readVkey(v['log-key']!), r.pcrs.get(0)!, witnesses);
    report(r, logged, v.json === true);
    return 0;
  },
};

export const commands: Command[] = [attestation, ...forwardCommands];
