/**
 * How an enclave binds its identity keys into every attestation document it issues, so a
 * studio learns from the attestation alone which key to encrypt to and which key signs the
 * enclave's receipts:
 *
 *   public_key = the raw 32-byte X25519 key senders HPKE-encrypt to
 *   user_data  = "keycast.dev/enclave-identity/v1\n"
 *                "hpke-x25519 <base64 32 bytes>\n"        (the same key as public_key)
 *                "receipts-ed25519 <base64 32 bytes>\n"
 *                ["kdm-chain-sha256 <base64 32 bytes>\n"] (the KDM signer chain, leaf first)
 *                ["kdm-decryption-sha256 <base64 32 bytes>\n"] (SHA-256 of the DER of the KDM
 *                                            decryption leaf: the certificate DKDMs are addressed to)
 *
 * Parsing is strict and requires public_key to equal the hpke line (IDENTITY_BINDING).
 */
import { VerifierError } from '../errors.ts';
import { bytesEqual, fromBase64, toBase64, utf8 } from '../encoding/bytes.ts';

export const IDENTITY_BINDING_HEADER = 'keycast.dev/enclave-identity/v1';

export interface IdentityBinding {
  hpkeX25519: Uint8Array;
  receiptsEd25519: Uint8Array;
  kdmChainSha256?: Uint8Array;
  /** SHA-256 of the KDM decryption leaf certificate's DER (the DKDM recipient) */
  kdmDecryptionSha256?: Uint8Array;
}

function bad(reason: string): VerifierError {
  return new VerifierError('IDENTITY_BINDING', `attestation identity binding: ${reason}`, { reason });
}

const FIELDS = [
  ['hpke-x25519', 'hpkeX25519'],
  ['receipts-ed25519', 'receiptsEd25519'],
  ['kdm-chain-sha256', 'kdmChainSha256'],
  ['kdm-decryption-sha256', 'kdmDecryptionSha256'],
] as const;

/** The user_data bytes for a binding. */
export function formatIdentityBinding(b: IdentityBinding): Uint8Array {
  const lines = [IDENTITY_BINDING_HEADER];
  for (const [label, key] of FIELDS) {
    const v = b[key];
    if (v === undefined) continue;
    if (!(v instanceof Uint8Array) || v.length !== 32) throw new TypeError(`${key} must be 32 bytes`);
    lines.push(`${label} ${toBase64(v)}`);
  }
  return utf8(lines.join('\n') + '\n');
}

/** Reads a document's binding: user_data parsed strictly, public_key equal to the HPKE key. */
export function parseIdentityBinding(userData: Uint8Array | null, publicKey: Uint8Array | null): IdentityBinding {
  if (userData === null || publicKey === null)
    throw bad('the document carries no identity (user_data or public_key is null)');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(userData);
  } catch {
    throw bad('user_data is not UTF-8');
  }
  if (!text.endsWith('\n')) throw bad('user_data must end in a newline');
  const [header, ...rest] = text.slice(0, -1).split('\n');
  if (header !== IDENTITY_BINDING_HEADER) throw bad(`first line must be ${IDENTITY_BINDING_HEADER}`);
  const out: Partial<IdentityBinding> = {};
  let at = 0;
  for (const line of rest) {
    const sp = line.indexOf(' ');
    const label = line.slice(0, sp);
    const pos = FIELDS.findIndex(([l]) => l === label);
    if (sp < 0 || pos < at) throw bad(`unexpected line ${JSON.stringify(line.slice(0, 40))}`);
    at = pos + 1;
    let v: Uint8Array;
    try {
      v = fromBase64(line.slice(sp + 1));
    } catch {
      throw bad(`${label} is not base64`);
    }
    if (v.length !== 32) throw bad(`${label} is not 32 bytes`);
    out[FIELDS[pos]![1]] = v;
  }
  if (!out.hpkeX25519 || !out.receiptsEd25519) throw bad('hpke-x25519 and receipts-ed25519 are required');
  if (!bytesEqual(out.hpkeX25519, publicKey)) throw bad('public_key is not the bound HPKE key');
  return out as IdentityBinding;
}
