/**
 * DKDM admission: whether a mastering tool's KDM addressed to the enclave (a "distribution KDM",
 * notes/kdm.md §11) may be used to forward one film under the studio's signed rules. One stable
 * code per reason it is refused, checked in this order (public checks first, so nothing is
 * decrypted for a document that is refused anyway):
 *
 * | code | refused because |
 * |------|-----------------|
 * | DKDM_NOT_ALLOWED | the rules name no `dkdmSigners` (dkdmRulesRoots) |
 * | DKDM_RELEASE_NOT_ALLOWED | the enclave's release is not in the rules' `releases` (checkDkdmRelease, before anything is opened) |
 * | DKDM_OVERSIZED | over MAX_KDM_BYTES |
 * | DKDM_MALFORMED | not a well-formed ETM/KDM (the strict reader: DOCTYPE, duplicate Id, …), bad window strings, EncryptedKey count ≠ KeyIdList |
 * | DKDM_SIGNATURE | the XML signature does not verify with the certificate `Signer` names |
 * | DKDM_SIGNER_NOT_LEAF | the signing certificate is not a CA:false leaf, or its dnQualifier is not its key's thumbprint |
 * | DKDM_SIGNER_CHAIN | the KeyInfo chain is not a valid ST 430-2 chain at the check time |
 * | DKDM_SIGNER_NOT_PINNED | the chain is valid but does not end in a root the studio pinned (`dkdmSigners`) |
 * | DKDM_RECIPIENT | Recipient (X509IssuerSerial, X509SubjectName) is not the enclave's decryption certificate |
 * | DKDM_CPL_MISMATCH | CompositionPlaylistId ≠ the rules' film.cplId, or a block's CPL id ≠ CompositionPlaylistId |
 * | DKDM_KEY_IDS | KeyIdList ≠ the rules' contentKeyIds exactly, an unknown key type, or a block's key id/type not in KeyIdList (or repeated) |
 * | DKDM_WINDOW_SIGNER_CHAIN | the DKDM window runs outside the validity of its own signer chain |
 * | DKDM_WINDOW_OUTSIDE | the issued window (the rules' kdmWindow, never clamped) is not inside the DKDM window |
 * | DKDM_WINDOW_ENCLAVE_CHAIN | the issued window is not inside the validity of the enclave's signer chain |
 * | DKDM_DECRYPT | a CipherValue does not open with the enclave's key (RSA-OAEP, SHA-1 MGF1) |
 * | DKDM_INTEROP_BLOCK | a block is the 134-byte Interop layout |
 * | DKDM_BLOCK_MALFORMED | a block is not 138 bytes or has the wrong structure id |
 * | DKDM_BLOCK_SIGNER | a block's signer thumbprint is not the DKDM signer leaf's (libdcp skips this check) |
 * | DKDM_BLOCK_WINDOW | a block's window strings differ from the XML window |
 *
 * Without `decrypt` (offline, `keycast dkdm check`) the block checks are skipped and the verdict
 * says so (`keys: null`). Keys opened by a refused document are wiped before the refusal is
 * thrown; evidence never holds a key. Pure.
 */
import { VerifierError, isVerifierError, type VerifierErrorCode } from '../errors.ts';
import { KEY_BLOCK_BYTES, KEY_BLOCK_STRUCTURE_ID, decodeKeyBlock } from './block.ts';
import {
  type DcCertificate,
  certificateThumbprint,
  nameValue,
  parseDcCertificate,
  publicKeyThumbprint,
} from './certificate.ts';
import { fromBase64 } from '../encoding/bytes.ts';
import { verifyDcChain } from './profile.ts';
import { type DecryptedKey, type ParsedKdm, MAX_KDM_BYTES, checkKdmRecipient, verifyKdmSignature } from './read.ts';

/** The length of an Interop (pre-SMPTE) key block: the SMPTE layout without KeyType. */
export const INTEROP_KEY_BLOCK_BYTES = 134;
/** ST 430-1 key types (and Dolby's MDEK). */
export const KDM_KEY_TYPES: ReadonlySet<string> = new Set(['MDIK', 'MDAK', 'MDSK', 'FMIK', 'FMAK', 'MDEK']);
const KDM_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$/;

/** What of the studio's rules a DKDM is checked against (rules v1 and v2 both carry these). */
export interface DkdmRules {
  film: { cplId: string };
  contentKeyIds: readonly string[];
  kdmWindow: { notBefore: string; notAfter: string };
}

/** The rules' pinned DKDM signer roots, parsed. Throws DKDM_NOT_ALLOWED when the rules pin none. */
export function dkdmRulesRoots(rules: { dkdmSigners?: readonly string[] }): DcCertificate[] {
  if (!rules.dkdmSigners || rules.dkdmSigners.length === 0)
    refuse('DKDM_NOT_ALLOWED', 'the rules pin no DKDM signer (dkdmSigners): keys cannot come in as a DKDM');
  return rules.dkdmSigners.map((b) => parseDcCertificate(fromBase64(b)));
}

/**
 * Throws DKDM_RELEASE_NOT_ALLOWED unless the enclave's own release may open DKDMs under these
 * rules: its PCR0 is listed, or one of the publishers whose signature its release's log entry
 * carries (`publishers`, hex SHA-256 of each SPKI, as the gate verified them) is.
 */
export function checkDkdmRelease(
  rules: { releases?: { pcr0s: readonly string[]; publishers: readonly string[] } },
  self: { pcr0: string; publishers: readonly string[] },
): void {
  const r = rules.releases;
  const pcr0 = self.pcr0.toLowerCase();
  if (r && (r.pcr0s.includes(pcr0) || self.publishers.some((p) => r.publishers.includes(p.toLowerCase())))) return;
  refuse('DKDM_RELEASE_NOT_ALLOWED', "this enclave's release is not one the rules let open the DKDM", {
    pcr0,
    publishers: [...self.publishers],
    allowed: r ?? null,
  });
}

/** Opens one CipherValue with the enclave's decryption key; throws when it does not open. The caller's result is wiped here. */
export type DkdmDecrypt = (cipher: Uint8Array) => Uint8Array;

export interface Validity {
  notBefore: Date;
  notAfter: Date;
}

export interface DkdmCheckInput {
  dkdm: string | Uint8Array;
  /** the studio's pinned DKDM signer roots (rules `dkdmSigners`, parsed) */
  signerRoots: readonly DcCertificate[];
  /** the enclave's KDM decryption certificate: the DKDM's Recipient must name it */
  recipient: DcCertificate;
  /** RSA-OAEP (SHA-1) decryption with the enclave's decryption key; omitted offline */
  decrypt?: DkdmDecrypt;
  rules: DkdmRules;
  /** the validity of the enclave's KDM signer chain (chainValidity of its certificates) */
  enclaveSigner: Validity;
  /** the time the signer chain must be valid at */
  at: Date;
}

export interface DkdmVerdict {
  kdm: ParsedKdm;
  /** the DKDM's signer path, leaf first, ending in the pinned root */
  signerChain: DcCertificate[];
  /** the window KDMs will carry: exactly the rules' kdmWindow */
  window: { notBefore: string; notAfter: string };
  /** the opened keys in KeyIdList order (the caller wipes them), or null when no decrypt was given */
  keys: DecryptedKey[] | null;
}

function refuse(
  code: VerifierErrorCode,
  message: string,
  evidence: Record<string, unknown> = {},
  cause?: unknown,
): never {
  throw new VerifierError(code, `DKDM refused: ${message}`, evidence, cause === undefined ? undefined : { cause });
}

/** The span every certificate of `certs` is valid in (latest notBefore, earliest notAfter). */
export function chainValidity(certs: readonly DcCertificate[]): Validity {
  if (certs.length === 0) throw new RangeError('chainValidity: no certificates');
  let nb = certs[0]!.notBefore;
  let na = certs[0]!.notAfter;
  for (const c of certs) {
    if (c.notBefore > nb) nb = c.notBefore;
    if (c.notAfter < na) na = c.notAfter;
  }
  return { notBefore: nb, notAfter: na };
}

function instant(s: string, field: string): number {
  const ms = KDM_TIME.test(s) ? Date.parse(s) : Number.NaN;
  if (!Number.isFinite(ms)) refuse('DKDM_MALFORMED', `${field} is not a KDM dateTime`, { field, value: s });
  return ms;
}

/** Throws DKDM_SIGNER_NOT_LEAF unless `c` is a CA:false leaf whose dnQualifier is its key's thumbprint. */
export function checkSignerLeaf(c: DcCertificate): void {
  const ev = { subject: c.subject, thumbprint: certificateThumbprint(c) };
  if (c.basicConstraints?.ca !== false)
    refuse('DKDM_SIGNER_NOT_LEAF', 'the signing certificate is not a CA:false leaf', ev);
  if (c.keyType !== 'rsa' || nameValue(c.subjectRdns, 'dnQualifier') !== publicKeyThumbprint(c.pkcs1))
    refuse('DKDM_SIGNER_NOT_LEAF', "the signing certificate's dnQualifier does not match its key", ev);
}

async function signature(dkdm: string | Uint8Array) {
  try {
    return await verifyKdmSignature(dkdm);
  } catch (e) {
    if (!(e instanceof VerifierError)) throw e;
    const code: VerifierErrorCode =
      e.code === 'OVERSIZED' ? 'DKDM_OVERSIZED' : e.code === 'KDM_SIGNATURE' ? 'DKDM_SIGNATURE' : 'DKDM_MALFORMED';
    refuse(code, e.message, { reason: e.code, ...e.evidence }, e);
  }
}

function signerPath(kdm: ParsedKdm, signer: DcCertificate, i: DkdmCheckInput): DcCertificate[] {
  try {
    return verifyDcChain(signer, { intermediates: kdm.signerChain, roots: i.signerRoots, at: i.at });
  } catch (e) {
    if (!(e instanceof VerifierError)) throw e;
    if (isVerifierError(e, 'CERT_CHAIN')) {
      // valid on its own but not under a pinned root, or not valid at all?
      const own = kdm.signerChain.filter((c) => Buffer.compare(c.issuerDer, c.subjectDer) === 0);
      let selfConsistent = false;
      try {
        verifyDcChain(signer, { intermediates: kdm.signerChain, roots: own, at: i.at });
        selfConsistent = own.length > 0;
      } catch {}
      if (selfConsistent)
        refuse('DKDM_SIGNER_NOT_PINNED', "the signer chain does not end in a root pinned in the rules' dkdmSigners", {
          signer: signer.subject,
          roots: own.map(certificateThumbprint),
          pinned: i.signerRoots.map(certificateThumbprint),
        });
    }
    refuse(
      'DKDM_SIGNER_CHAIN',
      `the signer chain is not a valid ST 430-2 chain: ${e.message}`,
      { reason: e.code, ...e.evidence },
      e,
    );
  }
}

/**
 * Decides whether a DKDM is accepted (see the table above). Returns the verdict (with the opened
 * keys when `decrypt` is given); throws one DKDM_* VerifierError otherwise.
 */
export async function checkDkdm(i: DkdmCheckInput): Promise<DkdmVerdict> {
  const size = typeof i.dkdm === 'string' ? Buffer.byteLength(i.dkdm) : i.dkdm.length;
  if (size > MAX_KDM_BYTES) refuse('DKDM_OVERSIZED', `the document is over ${MAX_KDM_BYTES} bytes`, { size });
  const { kdm, signer } = await signature(i.dkdm);
  const ev = { messageId: kdm.messageId };
  checkSignerLeaf(signer);
  const path = signerPath(kdm, signer, i);
  try {
    checkKdmRecipient(kdm, i.recipient);
  } catch {
    refuse('DKDM_RECIPIENT', "the DKDM is not addressed to the enclave's decryption certificate", {
      ...ev,
      recipient: kdm.recipient,
      expected: {
        issuerName: i.recipient.issuer,
        serial: i.recipient.serial.toString(10),
        subjectName: i.recipient.subject,
      },
    });
  }
  const cpl = kdm.cplId.toLowerCase();
  if (cpl !== i.rules.film.cplId.toLowerCase())
    refuse('DKDM_CPL_MISMATCH', "CompositionPlaylistId is not the rules' film.cplId", {
      ...ev,
      cplId: kdm.cplId,
      rules: i.rules.film.cplId,
    });
  const listed = new Map<string, string>();
  for (const t of kdm.keyIds) {
    const id = t.id.toLowerCase();
    if (listed.has(id)) refuse('DKDM_KEY_IDS', 'KeyIdList repeats a key id', { ...ev, keyId: id });
    if (!KDM_KEY_TYPES.has(t.type))
      refuse('DKDM_KEY_IDS', `unknown key type ${t.type}`, { ...ev, keyId: id, type: t.type });
    listed.set(id, t.type);
  }
  const wanted = new Set(i.rules.contentKeyIds.map((k) => k.toLowerCase()));
  if (wanted.size !== listed.size || [...wanted].some((k) => !listed.has(k)))
    refuse('DKDM_KEY_IDS', "the DKDM's key ids are not exactly the rules' contentKeyIds", {
      ...ev,
      dkdm: [...listed.keys()],
      rules: [...wanted],
    });
  if (kdm.cipherValues.length !== kdm.keyIds.length)
    refuse('DKDM_MALFORMED', 'EncryptedKey count differs from KeyIdList', ev);
  const dNb = instant(kdm.notBefore, 'ContentKeysNotValidBefore');
  const dNa = instant(kdm.notAfter, 'ContentKeysNotValidAfter');
  if (!(dNb < dNa)) refuse('DKDM_MALFORMED', 'the DKDM window ends before it starts', ev);
  const dWindow = { notBefore: kdm.notBefore, notAfter: kdm.notAfter };
  const own = chainValidity(path);
  if (dNb < own.notBefore.getTime() || dNa > own.notAfter.getTime())
    refuse('DKDM_WINDOW_SIGNER_CHAIN', "the DKDM window runs outside its own signer chain's validity", {
      ...ev,
      window: dWindow,
      chain: { notBefore: own.notBefore.toISOString(), notAfter: own.notAfter.toISOString() },
    });
  const w = i.rules.kdmWindow;
  const nb = instant(w.notBefore, 'rules.kdmWindow.notBefore');
  const na = instant(w.notAfter, 'rules.kdmWindow.notAfter');
  if (nb < dNb || na > dNa)
    refuse('DKDM_WINDOW_OUTSIDE', "the rules' kdmWindow is not inside the DKDM window (never clamped)", {
      ...ev,
      window: dWindow,
      rules: w,
    });
  const es = i.enclaveSigner;
  if (nb < es.notBefore.getTime() || na > es.notAfter.getTime())
    refuse('DKDM_WINDOW_ENCLAVE_CHAIN', "the rules' kdmWindow is not inside the enclave signer chain's validity", {
      ...ev,
      rules: w,
      chain: { notBefore: es.notBefore.toISOString(), notAfter: es.notAfter.toISOString() },
    });
  const verdict: DkdmVerdict = {
    kdm,
    signerChain: path,
    window: { notBefore: w.notBefore, notAfter: w.notAfter },
    keys: null,
  };
  if (!i.decrypt) return verdict;
  verdict.keys = openBlocks(kdm, signer, i.decrypt, listed);
  return verdict;
}

function openBlocks(
  kdm: ParsedKdm,
  signer: DcCertificate,
  decrypt: DkdmDecrypt,
  listed: Map<string, string>,
): DecryptedKey[] {
  const keys: DecryptedKey[] = [];
  const seen = new Set<string>();
  function fail(code: VerifierErrorCode, message: string, evidence: Record<string, unknown> = {}): never {
    for (const k of keys) k.key.fill(0);
    refuse(code, `key block ${keys.length + 1}: ${message}`, {
      messageId: kdm.messageId,
      block: keys.length,
      ...evidence,
    });
  }
  const open = (c: Uint8Array): Uint8Array => {
    try {
      return decrypt(c);
    } catch {
      return fail('DKDM_DECRYPT', "does not open with the enclave's decryption key (RSA-OAEP, SHA-1 MGF1)");
    }
  };
  for (const c of kdm.cipherValues) {
    const p = open(c);
    try {
      if (p.length === INTEROP_KEY_BLOCK_BYTES)
        fail('DKDM_INTEROP_BLOCK', 'is a 134-byte Interop block; only SMPTE (138-byte) DKDMs are accepted', {
          length: p.length,
        });
      if (p.length !== KEY_BLOCK_BYTES || Buffer.compare(p.subarray(0, 16), KEY_BLOCK_STRUCTURE_ID) !== 0)
        fail('DKDM_BLOCK_MALFORMED', `is not a ${KEY_BLOCK_BYTES}-byte block with the SMPTE structure id`, {
          length: p.length,
        });
      const b = decodeKeyBlock(p);
      const k = { id: b.keyId, type: b.keyType, key: b.key };
      const bail: (code: VerifierErrorCode, m: string, e?: Record<string, unknown>) => never = (code, m, e = {}) => {
        b.key.fill(0);
        return fail(code, m, { keyId: b.keyId, ...e });
      };
      if (Buffer.compare(b.signerThumbprint, signer.thumbprint) !== 0)
        bail('DKDM_BLOCK_SIGNER', "carries another signer's thumbprint than the DKDM signer leaf's", {
          blockThumbprint: Buffer.from(b.signerThumbprint).toString('base64'),
          signer: certificateThumbprint(signer),
        });
      if (b.cplId !== kdm.cplId.toLowerCase())
        bail('DKDM_CPL_MISMATCH', 'CPL id differs from CompositionPlaylistId', { blockCplId: b.cplId });
      if (listed.get(b.keyId) !== b.keyType || seen.has(b.keyId))
        bail('DKDM_KEY_IDS', 'key id and type are not one KeyIdList entry (or repeat one)', { type: b.keyType });
      if (b.notBefore !== kdm.notBefore || b.notAfter !== kdm.notAfter)
        bail('DKDM_BLOCK_WINDOW', 'window strings differ from the XML window', {
          block: [b.notBefore, b.notAfter],
          xml: [kdm.notBefore, kdm.notAfter],
        });
      seen.add(b.keyId);
      keys.push(k);
    } finally {
      p.fill(0);
    }
  }
  const order = new Map(kdm.keyIds.map((t, n) => [t.id.toLowerCase(), n]));
  return keys.sort((a, b) => order.get(a.id)! - order.get(b.id)!);
}
