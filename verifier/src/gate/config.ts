/**
 * The enclave's pinned configuration: the file `keycast build --enclave-config` places at
 * ENCLAVE_CONFIG_PATH inside the image, so it is measured into PCR0 (and PCR2) and the host
 * cannot change it without changing the measurement the log must hold. JSON, version 1:
 *
 *   {
 *     "version": 1,
 *     "log": { "origin": "<checkpoint origin>", "vkey": "<Ed25519 note verifier key>" },
 *     "witnesses": { "vkeys": ["<cosignature/v1 verifier key>", …], "threshold": k },
 *     "maxCheckpointAgeSeconds": 600,
 *     "publishers": ["<SPKI PEM of an accepted release signer>", …],
 *     "kms": { "keyArn": "arn:aws:kms:…:key/…", "region": "us-east-1" },
 *     "publisherIdentities": [{ "identity": "https://github.com/org/app/.github/workflows/release.yml@refs/tags/v1",
 *                               "issuer": "https://token.actions.githubusercontent.com", … }],   // optional
 *     "fulcioCAs": ["<PEM of a Fulcio CA certificate that issues them>", …],                     // with the above
 *     "deliveries": { "required": true }                                                         // optional (issue 19)
 *   }
 *
 * `deliveries.required` (issue 19): every forward's delivery entry must be on the pinned log
 * before its outputs leave the enclave usable, and rules without an `audit` key are refused. It
 * is in the image (PCR0), so no host can switch it off; absent or false, the enclave forwards as
 * before.
 *
 * `publisherIdentities` pins keyless publishers by who they are (sigstore/identity-policy.ts,
 * cosign's fields); their logged leaves carry the Fulcio certificate, which must be issued by one
 * of `fulcioCAs` and match one of the identities. With identities, `publishers` may be empty.
 *
 * Parsing is strict (unknown keys, duplicates, empty lists, a threshold outside 1..n, keys that
 * do not parse → GATE_CONFIG_MALFORMED naming the field): a typo must fail the boot, never
 * silently weaken the gate.
 */
import { X509Certificate } from 'node:crypto';
import { VerifierError, isVerifierError } from '../errors.ts';
import { canonicalize, isObject, parseJsonStrict } from '../encoding/canonical-json.ts';
import { noteVerifier, type NoteVerifier } from '../note/keys.ts';
import { cosignatureVerifier, type CosignatureVerifier } from '../note/cosignature.ts';
import { parseTrustedKey, type ReleaseSigner } from '../release/dsse.ts';
import type { DecodedEntry } from '../release/leaf.ts';
import { parseIdentityPolicy, type IdentityPolicy } from '../sigstore/identity-policy.ts';
import { keylessLeafSigner, type KeylessPublishers } from '../sigstore/keyless-publisher.ts';

/** Where the config lives in the enclave's root filesystem (the customer ramdisk's /rootfs). */
export const ENCLAVE_CONFIG_PATH = 'etc/keycast/enclave.json';
export const MAX_ENCLAVE_CONFIG_BYTES = 64 * 1024;

export interface EnclaveConfig {
  version: 1;
  log: { origin: string; vkey: string };
  witnesses: { vkeys: string[]; threshold: number };
  maxCheckpointAgeSeconds: number;
  /** SPKI PEM of each accepted release signer */
  publishers: string[];
  kms: { keyArn: string; region: string };
  /** Keyless publishers pinned by identity (optional) … */
  publisherIdentities?: IdentityPolicy[];
  /** … and the Fulcio CA certificates (PEM) that issue their certificates. */
  fulcioCAs?: string[];
  /** Whether deliveries must be logged before outputs are released (issue 19; absent = not required). */
  deliveries?: { required: boolean };
}

function bad(field: string, reason: string): VerifierError {
  return new VerifierError('GATE_CONFIG_MALFORMED', `enclave config ${field}: ${reason}`, { field, reason });
}

function keys(o: unknown, field: string, required: string[], optional: string[] = []): Record<string, unknown> {
  if (!isObject(o)) throw bad(field, 'must be an object');
  for (const k of required) if (!(k in o)) throw bad(`${field}.${k}`, 'missing');
  for (const k of Object.keys(o))
    if (!required.includes(k) && !optional.includes(k)) throw bad(`${field}.${k}`, 'unknown field');
  return o;
}

function str(v: unknown, field: string, max = 4096): string {
  if (typeof v !== 'string' || v === '' || v.length > max || /[\u0000-\u0008\u000b-\u001f\u007f]/.test(v))
    throw bad(field, 'must be a non-empty string without control characters');
  return v;
}

function count(v: unknown, field: string, min: number, max: number): number {
  if (!Number.isSafeInteger(v) || (v as number) < min || (v as number) > max)
    throw bad(field, `must be an integer in ${min}..${max}`);
  return v as number;
}

function list(v: unknown, field: string, check: (s: string) => unknown, parsed: unknown[] = []): string[] {
  if (!Array.isArray(v) || v.length === 0 || v.length > 64) throw bad(field, 'must be a list of 1..64 strings');
  const out = v.map((x, i) => str(x, `${field}[${i}]`));
  if (new Set(out).size !== out.length) throw bad(field, 'duplicate entry');
  out.forEach((s, i) => {
    try {
      parsed.push(check(s));
    } catch (e) {
      if (!isVerifierError(e)) throw e;
      throw bad(`${field}[${i}]`, e.message);
    }
  });
  return out;
}

/** Parses and checks the config bytes (or text). Throws GATE_CONFIG_MALFORMED or OVERSIZED. */
export function parseEnclaveConfig(input: string | Uint8Array): EnclaveConfig {
  let json: unknown;
  try {
    json = parseJsonStrict(input, MAX_ENCLAVE_CONFIG_BYTES, 'the enclave config');
  } catch (e) {
    if (isVerifierError(e) && e.code !== 'OVERSIZED') throw bad('(document)', e.message);
    throw e;
  }
  const o = keys(
    json,
    'config',
    ['version', 'log', 'witnesses', 'maxCheckpointAgeSeconds', 'publishers', 'kms'],
    ['publisherIdentities', 'fulcioCAs', 'deliveries'],
  );
  if (o.version !== 1) throw bad('version', 'must be 1');
  const log = keys(o.log, 'log', ['origin', 'vkey']);
  const origin = str(log.origin, 'log.origin', 1024);
  const vkey = str(log.vkey, 'log.vkey');
  let logVerifier: NoteVerifier;
  try {
    logVerifier = noteVerifier(vkey);
  } catch (e) {
    if (!isVerifierError(e)) throw e;
    throw bad('log.vkey', e.message);
  }
  const w = keys(o.witnesses, 'witnesses', ['vkeys', 'threshold']);
  const witnessVerifiers: CosignatureVerifier[] = [];
  const vkeys = list(w.vkeys, 'witnesses.vkeys', cosignatureVerifier, witnessVerifiers);
  const threshold = count(w.threshold, 'witnesses.threshold', 1, vkeys.length);
  const maxCheckpointAgeSeconds = count(o.maxCheckpointAgeSeconds, 'maxCheckpointAgeSeconds', 1, 7 * 24 * 3600);
  const identities = keylessConfig(o);
  const publisherSigners: ReleaseSigner[] = [];
  const publishers =
    identities && Array.isArray(o.publishers) && o.publishers.length === 0
      ? []
      : list(o.publishers, 'publishers', parseTrustedKey, publisherSigners);
  const kms = keys(o.kms, 'kms', ['keyArn', 'region']);
  const keyArn = str(kms.keyArn, 'kms.keyArn', 2048);
  const region = str(kms.region, 'kms.region', 64);
  if (!/^[a-z0-9-]+$/.test(region)) throw bad('kms.region', 'must be an AWS region name');
  const out: EnclaveConfig = {
    version: 1,
    log: { origin, vkey },
    witnesses: { vkeys, threshold },
    maxCheckpointAgeSeconds,
    publishers,
    kms: { keyArn, region },
  };
  if (identities) Object.assign(out, identities);
  if (o.deliveries !== undefined) {
    const dv = keys(o.deliveries, 'deliveries', ['required']);
    if (typeof dv.required !== 'boolean') throw bad('deliveries.required', 'must be true or false');
    out.deliveries = { required: dv.required };
  }
  // the keys were parsed to check them: kept for every later decision (pinnedKeys), not parsed again
  PINNED.set(out, { log: logVerifier, witnesses: witnessVerifiers, publishers: publisherSigners });
  return out;
}

/** The pinned keys of a config, parsed: the log's note verifier, the witnesses' cosignature verifiers, the publishers. */
export interface PinnedKeys {
  log: NoteVerifier;
  witnesses: readonly CosignatureVerifier[];
  publishers: readonly ReleaseSigner[];
}

const PINNED = new WeakMap<EnclaveConfig, PinnedKeys>();

/**
 * The keys of `c`, parsed once per config object: parseEnclaveConfig keeps what it parsed to
 * check them, and a config built in code is parsed on first use. A config is not edited after
 * it is made (the enclave's is read from its image once).
 */
export function pinnedKeys(c: EnclaveConfig): PinnedKeys {
  let k = PINNED.get(c);
  if (!k) {
    k = {
      log: noteVerifier(c.log.vkey),
      witnesses: c.witnesses.vkeys.map(cosignatureVerifier),
      publishers: c.publishers.map((p) => parseTrustedKey(p)),
    };
    PINNED.set(c, k);
  }
  return k;
}

/** The optional keyless publishers: identities and the Fulcio CAs, both or neither. */
function keylessConfig(o: Record<string, unknown>): Pick<EnclaveConfig, 'publisherIdentities' | 'fulcioCAs'> | null {
  if (o.publisherIdentities === undefined && o.fulcioCAs === undefined) return null;
  if (!Array.isArray(o.publisherIdentities) || o.publisherIdentities.length === 0 || o.publisherIdentities.length > 64)
    throw bad('publisherIdentities', 'must be a list of 1..64 identity policies (with fulcioCAs)');
  const publisherIdentities = o.publisherIdentities.map((p, i) => {
    try {
      return parseIdentityPolicy(p);
    } catch (e) {
      if (!isVerifierError(e)) throw e;
      throw bad(`publisherIdentities[${i}]`, e.message);
    }
  });
  const fulcioCAs = list(o.fulcioCAs, 'fulcioCAs', (pem) => {
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw bad('fulcioCAs', 'must hold PEM certificates');
    parseTrustedKey(pem);
  });
  return { publisherIdentities, fulcioCAs };
}

/** The keyless publishers of a config as identity-policy.ts checks them (CAs as a trust root). */
export function configKeylessPublishers(c: EnclaveConfig): KeylessPublishers | null {
  if (!c.publisherIdentities || !c.fulcioCAs) return null;
  return {
    policies: c.publisherIdentities,
    trustedRoot: {
      mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
      certificateAuthorities: c.fulcioCAs.map((pem) => ({
        certChain: { certificates: [{ rawBytes: pemBody(pem) }] },
        validFor: { start: '1970-01-01T00:00:00Z' },
      })),
      tlogs: [],
      ctlogs: [],
      timestampAuthorities: [],
    },
  };
}

function pemBody(pem: string): string {
  return pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
}

/**
 * The hook the gate calls for a leaf whose signer is no pinned key: a keyless leaf is allowed
 * when its certificate was issued by a pinned Fulcio CA for a pinned identity. Throws
 * SIGNER_NOT_ALLOWED, IDENTITY_MISMATCH (naming the field), CERT_CHAIN.
 */
export function requireConfigIdentity(c: EnclaveConfig, entry: DecodedEntry): void {
  const pubs = configKeylessPublishers(c);
  if (!pubs || !entry.signer.certificate)
    throw new VerifierError('SIGNER_NOT_ALLOWED', 'the entry is not signed by a pinned publisher key', {
      signerSpkiSha256: entry.signer.spkiSha256,
    });
  keylessLeafSigner(new Uint8Array(new X509Certificate(entry.signer.pem).raw), pubs);
}

/** The canonical bytes of a config (what `keycast build --enclave-config` writes into the image). */
export function formatEnclaveConfig(c: EnclaveConfig): string {
  const text = canonicalize(c) + '\n';
  parseEnclaveConfig(text);
  return text;
}

/** Whether the config pins logged deliveries (issue 19). */
export function deliveriesRequired(c: EnclaveConfig): boolean {
  return c.deliveries?.required === true;
}

/** The accepted release signers of a parsed config. */
export function configPublishers(c: EnclaveConfig): readonly ReleaseSigner[] {
  return pinnedKeys(c).publishers;
}
