/**
 * The enclave a studio seals to, forwards through or checks receipts against (`--enclave`), read
 * the one way every such command shares (issue 16 item 5: `seal` used to seal to anything that
 * attests, and took a record's `"verified": true` on its word):
 *
 * - ENCLAVE.json, the record `keycast verify enclave --out` wrote (keycast-verified-enclave/v2):
 *   the attestation document it carries is verified again — chain to the AWS root (or
 *   --trust-root), signature, the nonce the record names, at most --max-age old — and every field
 *   the record states must be the document's (#verifier reverifyEnclaveRecord); a v1 record, or
 *   one without its document, is RECORD_UNVERIFIABLE;
 * - or an attestation document (CBOR or base64), verified the same way minus the nonce.
 *
 * Then the PCR policy `keycast verify attestation` requires: --expect-pcr0 HEX, or --log URL
 * --log-key VKEY [--witness …] (PCR0 a logged release, checked live). Without one, a command that
 * seals or forwards refuses to run (exit 2): a genuine attestation proves only that some Nitro
 * enclave runs some image, and anyone can run their own.
 */
import { VerifierError, parseVerifiedEnclave, reverifyEnclaveRecord, verifyAttestationDocument } from '../index.ts';
import {
  enclaveKeysFromAttestation,
  type EnclaveKeys,
  type VerifiedEnclaveRecord,
} from '../src/forward/enclave-keys.ts';
import type { IdentityBinding } from '../src/gate/identity.ts';
import { fromHex, toHex } from '../build.ts';
import { hexArg, readRoot } from './flags.ts';
import { LOG_OPTIONS } from './log.ts';
import { readInput } from './io.ts';
import { checkLog } from './logged-pcr0.ts';
import { usageError, type FlagOptions as Options, type Flags as Values } from '../kit/flags.ts';

/** The flags of the enclave check (spread into a command's options). */
export const ENCLAVE_TRUST_OPTIONS = {
  ...LOG_OPTIONS,
  'trust-root': { type: 'string', multiple: true },
  'expect-pcr0': { type: 'string' },
  'max-age': { type: 'string' },
} as const satisfies Options;

export const ENCLAVE_TRUST_HELP = `  --expect-pcr0 HEX     the enclave must run this release (PCR0) — or:
  --log URL --log-key VKEY [--witness VKEY…]
                        PCR0 must be a logged release (checked now, as verify attestation --log)
  --trust-root FILE     trust this root INSTEAD of the AWS Nitro root (test PKIs)
  --max-age S           the attestation may be at most S seconds old (default 3600)`;

/** Default --max-age: a verified-enclave record is good for an hour. */
export const DEFAULT_ENCLAVE_MAX_AGE_S = 3600;

/** DOC: raw CBOR COSE_Sign1 or base64 of it. Anything else (a bare key file) is refused. */
function readAttestation(file: string, raw: Uint8Array): Uint8Array {
  if (raw[0] === 0x84 || raw[0] === 0xd2) return raw;
  const text = Buffer.from(raw).toString('utf8').replace(/\s+/g, '');
  if (/^[A-Za-z0-9+/]+={0,2}$/.test(text) && text.length > 100) return new Uint8Array(Buffer.from(text, 'base64'));
  throw new VerifierError(
    'PUBLIC_KEY_MISMATCH',
    `${file} is not an attestation document: an enclave key is only accepted inside a verified attestation`,
  );
}

export interface AttestedEnclave extends EnclaveKeys {
  /** the record, when --enclave was one */
  record?: VerifiedEnclaveRecord;
  binding?: IdentityBinding;
}

/**
 * Reads and verifies --enclave under the flags' PCR policy. `policy: 'required'` (seal, forward)
 * refuses to run without one; `fresh: false` (receipt verify, long after) lifts the age limit.
 */
export async function attestedEnclave(
  v: Values,
  o: { policy: 'required' | 'optional'; fresh: boolean },
): Promise<AttestedEnclave> {
  const file = v.enclave;
  if (typeof file !== 'string' || !file) throw usageError('--enclave is required');
  const pinned = typeof v['expect-pcr0'] === 'string';
  const logged = typeof v.log === 'string';
  if (o.policy === 'required' && !pinned && !logged)
    throw usageError(
      'no PCR policy: give --expect-pcr0 HEX or --log URL --log-key VKEY (a genuine attestation alone proves only that some enclave runs some image)',
    );
  if (logged && typeof v['log-key'] !== 'string') throw usageError("--log needs --log-key (the log's verifier key)");
  const roots = ((v['trust-root'] as string[] | undefined) ?? []).map(readRoot);
  const maxAgeS =
    typeof v['max-age'] === 'string'
      ? /^[1-9]\d{0,9}$/.test(v['max-age'])
        ? Number(v['max-age'])
        : (() => {
            throw usageError('--max-age must be a positive number of seconds');
          })()
      : DEFAULT_ENCLAVE_MAX_AGE_S;
  const maxAgeMs = o.fresh ? maxAgeS * 1000 : Number.MAX_SAFE_INTEGER;
  const raw = readInput(file, 256 * 1024, 'enclave');
  let out: AttestedEnclave;
  if (raw[0] === 0x7b) {
    const parsed = parseVerifiedEnclave(raw);
    reverifyEnclaveRecord(parsed, { at: new Date(), maxAgeMs, ...(roots.length ? { trustedRoots: roots } : {}) });
    out = parsed;
  } else {
    const att = verifyAttestationDocument(readAttestation(file, raw), {
      at: new Date(),
      policy: { maxAgeMs, allowDebug: false },
      ...(roots.length ? { trustedRoots: roots } : {}),
    });
    out = enclaveKeysFromAttestation(att);
  }
  if (pinned) {
    const want = toHex(hexArg('--expect-pcr0', v['expect-pcr0'] as string, 48));
    if (want !== toHex(out.pcr0))
      throw new VerifierError('PCR_MISMATCH', 'the attested enclave runs another PCR0', {
        pcr: 0,
        expected: want,
        actual: toHex(out.pcr0),
      });
  }
  if (logged) await checkLog(v, fromHex(toHex(out.pcr0)));
  return out;
}
