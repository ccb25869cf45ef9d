/**
 * The proof bundle a host hands the enclave's gate (and a studio or monitor can archive):
 * everything the gate needs to decide, none of it trusted until checked. JSON, version 1:
 *
 *   {
 *     "version": 1,
 *     "entry": "<base64 release leaf>",
 *     "proof": "<c2sp.org/tlog-proof@v1 text for that leaf, checkpoint cosigned>",
 *     "status": "<the log's signed release-status note at the proof's tree>",
 *     "consistency": { "fromSize": n, "hashes": ["<base64>", …] }   // optional
 *   }
 *
 * `consistency` proves the proof's checkpoint extends the one the gate already holds (of size
 * `fromSize`); a first check holds none and needs none. Parsing checks shape only
 * (GATE_BUNDLE_MALFORMED, OVERSIZED); decideGate checks meaning.
 */
import { VerifierError, isVerifierError } from '../errors.ts';
import { fromBase64, toBase64 } from '../encoding/bytes.ts';
import { HASH_SIZE } from '../tlog/hash.ts';
import { canonicalize, isObject, parseJsonStrict } from '../encoding/canonical-json.ts';
import { MAX_LEAF_BYTES } from '../release/leaf.ts';
import { MAX_NOTE_BYTES } from '../note/note.ts';
import { MAX_PROOF_HASHES } from '../tlog/tlog-proof.ts';

export const MAX_PROOF_BUNDLE_BYTES = 256 * 1024;

export interface ProofBundle {
  entry: Uint8Array;
  proof: string;
  status: string;
  consistency?: { fromSize: number; hashes: Uint8Array[] };
}

function bad(field: string, reason: string): VerifierError {
  return new VerifierError('GATE_BUNDLE_MALFORMED', `proof bundle ${field}: ${reason}`, { field, reason });
}

function b64(v: unknown, field: string, max: number): Uint8Array {
  if (typeof v !== 'string' || v.length === 0 || v.length > Math.ceil(max / 3) * 4)
    throw bad(field, 'must be non-empty base64');
  try {
    return fromBase64(v);
  } catch {
    throw bad(field, 'is not base64');
  }
}

function note(v: unknown, field: string): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > MAX_NOTE_BYTES + 4096)
    throw bad(field, 'must be note text');
  return v;
}

/** Parses bundle JSON (text, bytes or an already-parsed value). */
export function parseProofBundle(input: string | Uint8Array | unknown): ProofBundle {
  let json: unknown = input;
  if (typeof input === 'string' || input instanceof Uint8Array) {
    try {
      json = parseJsonStrict(input, MAX_PROOF_BUNDLE_BYTES, 'the proof bundle');
    } catch (e) {
      if (isVerifierError(e) && e.code !== 'OVERSIZED') throw bad('(document)', e.message);
      throw e;
    }
  }
  if (!isObject(json)) throw bad('(document)', 'must be a JSON object');
  for (const k of Object.keys(json))
    if (!['version', 'entry', 'proof', 'status', 'consistency'].includes(k)) throw bad(k, 'unknown field');
  if (json.version !== 1) throw bad('version', 'must be 1');
  const out: ProofBundle = {
    entry: b64(json.entry, 'entry', MAX_LEAF_BYTES),
    proof: note(json.proof, 'proof'),
    status: note(json.status, 'status'),
  };
  if (json.consistency !== undefined) {
    const c = json.consistency;
    if (!isObject(c) || Object.keys(c).sort().join() !== 'fromSize,hashes')
      throw bad('consistency', 'must be {fromSize, hashes}');
    if (!Number.isSafeInteger(c.fromSize) || (c.fromSize as number) < 0)
      throw bad('consistency.fromSize', 'must be a non-negative integer');
    if (!Array.isArray(c.hashes) || c.hashes.length > 2 * MAX_PROOF_HASHES)
      throw bad('consistency.hashes', 'must be a list of base64 hashes');
    const hashes = c.hashes.map((h, i) => {
      const b = b64(h, `consistency.hashes[${i}]`, HASH_SIZE);
      if (b.length !== HASH_SIZE) throw bad(`consistency.hashes[${i}]`, 'is not 32 bytes');
      return b;
    });
    out.consistency = { fromSize: c.fromSize as number, hashes };
  }
  return out;
}

/** The bundle as JSON text. */
export function formatProofBundle(b: ProofBundle): string {
  const o: Record<string, unknown> = { version: 1, entry: toBase64(b.entry), proof: b.proof, status: b.status };
  if (b.consistency) o.consistency = { fromSize: b.consistency.fromSize, hashes: b.consistency.hashes.map(toBase64) };
  return canonicalize(o);
}
