/**
 * `keycast verify …` commands (the verifier's CLI; matches cli/command.ts structurally).
 * The library under verifier/src does no I/O; reading files and fetching from a log happen here.
 *
 *   keycast verify attestation DOC [--at TIME|document] [--expect-pcr N=HEX ...] [--expect-pcr0 HEX]
 *       [--allow-debug] [--trust-root FILE ...] [--nonce HEX] [--user-data HEX] [--max-age SECONDS]
 *       [--log URL --log-key VKEY] [--json]
 *   keycast rules sign | seal | kdm inspect | receipt verify   (studio tools, verifier/cli/forward.ts)
 */
import { existsSync, readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { parseArgs } from 'node:util';
import {
  verifyAttestationDocument, parseAttestationDocument, verifyLoggedPcr0, notLogged, noteVerifier, parseVerifierKey, fromHex, toHex,
  AWS_NITRO_ROOT_G1_SHA256, type AttestationPolicy, type VerifiedAttestation, type LoggedRelease,
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

/** DOC: a file holding raw CBOR or base64 of it, or base64 given inline. */
export function readDocument(arg: string): Uint8Array {
  const raw: Uint8Array = existsSync(arg) ? new Uint8Array(readFileSync(arg)) : new TextEncoder().encode(arg);
  if (raw[0] === 0x84 || raw[0] === 0xd2) return raw; // untagged or tagged COSE_Sign1
  const text = new TextDecoder().decode(raw).replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text)) throw usageError(`DOC must be a file or base64 of an attestation document: ${arg.slice(0, 40)}`);
  return new Uint8Array(Buffer.from(text, 'base64'));
}

function readRoot(file: string): Uint8Array {
  try {
    return new Uint8Array(new X509Certificate(readFileSync(file)).raw);
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') throw e;
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
  return existsSync(s) ? readFileSync(s, 'utf8').trim() : s;
}

/** Fetches the log's lookup answer for PCR0 and verifies it against the pinned key. */
async function checkLog(url: string, vkey: string, pcr0: Uint8Array, witnesses: WitnessFlags | null): Promise<LoggedRelease> {
  const logVerifier = noteVerifier(vkey);
  const origin = parseVerifierKey(vkey).name;
  const target = `${url.replace(/\/+$/, '')}/lookup/pcr0/${toHex(pcr0)}`;
  process.stderr.write(`verify: looking up PCR0 in ${target}\n`);
  let res: Response;
  try {
    res = await fetch(target, { signal: AbortSignal.timeout(30_000) });
  } catch (e) {
    const err = new Error(`cannot reach the log at ${url}: ${(e as Error).message}`, { cause: e });
    (err as Error & { code: string }).code = ((e as { cause?: { code?: string } }).cause?.code) ?? 'EFETCH';
    throw err;
  }
  if (res.status === 404) throw notLogged(pcr0, url);
  if (!res.ok) {
    const err = new Error(`the log answered HTTP ${res.status} for ${target}`);
    (err as Error & { code: string }).code = 'EHTTP';
    throw err;
  }
  let body: unknown;
  try {
    body = JSON.parse(await res.text());
  } catch {
    body = null;
  }
  return verifyLoggedPcr0(body, pcr0, {
    logVerifier, origin,
    ...(witnesses ? { witnessPolicy: { witnesses: witnesses.vkeys, threshold: witnesses.threshold }, maxAgeSeconds: witnesses.maxAgeSeconds } : {}),
  });
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
(--json: the VerifierError as JSON) when refused; 2 on bad flags; 6 when the log is unreachable.`,
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
