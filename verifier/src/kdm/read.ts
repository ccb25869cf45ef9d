/**
 * KDM reader: strict structural parse (@xmldom/xmldom), XML-DSig verification with an
 * independent implementation (xmldsigjs: its own C14N, not the writer's template), signer-chain
 * checks, and decryption of the 138-byte key blocks with every cross-check a Security Manager or
 * the DCI CTP makes (notes/kdm.md §7): structure id, signer thumbprint = SHA-1(TBS) of the
 * certificate that signed, CPL id, key id and type listed in KeyIdList, block window = XML window.
 * Refuses a DOCTYPE, duplicate Id values, References other than the two ST 430-3 ones, and
 * Transforms (signature-wrapping routes). Pure (WebCrypto and node:crypto computation only).
 */
import { webcrypto, type KeyObject } from 'node:crypto';
import { DOMParser, XMLSerializer, DOMImplementation } from '@xmldom/xmldom';
import * as xpath from 'xpath';
import { setNodeDependencies } from 'xml-core';
import { Application, SignedXml } from 'xmldsigjs';
import { VerifierError } from '../errors.ts';
import { type DcCertificate, parseDcCertificate } from './certificate.ts';
import { verifyDcChain } from './profile.ts';
import { decryptKeyBlock } from './block.ts';
import { NS_DS, NS_ENC, NS_ETM, NS_KDM, KDM_MESSAGE_TYPE } from './xml-names.ts';

export const MAX_KDM_BYTES = 1024 * 1024;

let engineReady = false;
function engine(): void {
  if (engineReady) return;
  setNodeDependencies({ DOMParser, XMLSerializer, DOMImplementation, xpath });
  Application.setEngine('NodeJS', webcrypto as unknown as Crypto);
  engineReady = true;
}

export interface ParsedKdm {
  messageId: string;
  annotation: string | null;
  issueDate: string;
  signer: { issuerName: string; serial: string };
  recipient: { issuerName: string; serial: string; subjectName: string };
  cplId: string;
  title: string;
  notBefore: string;
  notAfter: string;
  deviceList: string[];
  keyIds: Array<{ id: string; type: string; scope: string | null }>;
  cipherValues: Uint8Array[];
  /** KeyInfo certificates in document order (leaf first) */
  signerChain: DcCertificate[];
}

function bad(message: string, evidence: Record<string, unknown> = {}): never {
  throw new VerifierError('KDM_MALFORMED', `KDM: ${message}`, evidence);
}

type El = Element;

function kids(e: El, ns: string, name: string): El[] {
  const out: El[] = [];
  for (let n = e.firstChild; n; n = n.nextSibling)
    if (n.nodeType === 1 && (n as El).namespaceURI === ns && (n as El).localName === name) out.push(n as El);
  return out;
}

function one(e: El, ns: string, name: string, optional = false): El {
  const k = kids(e, ns, name);
  if (k.length > 1 || (k.length === 0 && !optional)) bad(`expected exactly one ${name} in ${e.localName}`);
  return k[0]!;
}

function text(e: El | undefined): string {
  return (e?.textContent ?? '').trim();
}

function b64(s: string, what: string): Uint8Array {
  const clean = s.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean)) bad(`${what} is not base64`);
  return new Uint8Array(Buffer.from(clean, 'base64'));
}

function parseDoc(xml: string): Document {
  if (xml.length > MAX_KDM_BYTES)
    throw new VerifierError('OVERSIZED', `KDM is over ${MAX_KDM_BYTES} bytes`, { size: xml.length });
  if (/<!DOCTYPE/i.test(xml)) bad('a DOCTYPE is not allowed');
  try {
    return new DOMParser({
      onError: (level: string, msg: string) => {
        if (level !== 'warning') throw new Error(msg);
      },
    }).parseFromString(xml, 'application/xml') as unknown as Document;
  } catch (e) {
    bad(`not well-formed XML: ${(e as Error).message.split('\n')[0]}`);
  }
}

function toText(xml: string | Uint8Array): string {
  if (typeof xml === 'string') return xml;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(xml);
  } catch {
    bad('not UTF-8');
  }
}

function checkIds(doc: Document): void {
  const ids = xpath.select(
    '//@*[local-name()="Id" or local-name()="ID" or local-name()="id"]',
    doc as unknown as Node,
  ) as Attr[];
  const seen = new Set<string>();
  for (const a of ids) {
    if (seen.has(a.value)) bad(`Id ${a.value} appears twice`);
    seen.add(a.value);
  }
}

/** Structural parse of a KDM (text or UTF-8 bytes). Throws KDM_MALFORMED / OVERSIZED / CERT_MALFORMED. */
export function parseKdm(input: string | Uint8Array): ParsedKdm {
  const doc = parseDoc(toText(input));
  return parseParts(doc);
}

function parseParts(doc: Document): ParsedKdm {
  const root = doc.documentElement as El | null;
  if (!root || root.namespaceURI !== NS_ETM || root.localName !== 'DCinemaSecurityMessage')
    bad('root must be ETM DCinemaSecurityMessage');
  checkIds(doc);
  const pub = one(root, NS_ETM, 'AuthenticatedPublic');
  const priv = one(root, NS_ETM, 'AuthenticatedPrivate');
  if (pub.getAttribute('Id') !== 'ID_AuthenticatedPublic' || priv.getAttribute('Id') !== 'ID_AuthenticatedPrivate')
    bad('AuthenticatedPublic/Private must carry the ST 430-3 Id values');
  if (text(one(pub, NS_ETM, 'MessageType')) !== KDM_MESSAGE_TYPE) bad('MessageType is not the KDM type');
  const signerEl = one(pub, NS_ETM, 'Signer');
  const ext = one(one(pub, NS_ETM, 'RequiredExtensions'), NS_KDM, 'KDMRequiredExtensions');
  const rec = one(ext, NS_KDM, 'Recipient');
  const ris = one(rec, NS_KDM, 'X509IssuerSerial');
  const adi = one(ext, NS_KDM, 'AuthorizedDeviceInfo');
  const keyIds = kids(one(ext, NS_KDM, 'KeyIdList'), NS_KDM, 'TypedKeyId').map((t) => {
    const kt = one(t, NS_KDM, 'KeyType');
    return { id: text(one(t, NS_KDM, 'KeyId')), type: text(kt), scope: kt.getAttribute('scope') || null };
  });
  if (keyIds.length === 0) bad('KeyIdList is empty');
  const cipherValues = kids(priv, NS_ENC, 'EncryptedKey').map((ek) => {
    const m = one(ek, NS_ENC, 'EncryptionMethod');
    if (m.getAttribute('Algorithm') !== 'http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p')
      bad('EncryptedKey must use rsa-oaep-mgf1p');
    const dm = kids(m, NS_DS, 'DigestMethod')[0];
    if (dm && dm.getAttribute('Algorithm') !== 'http://www.w3.org/2000/09/xmldsig#sha1')
      bad('OAEP digest must be SHA-1');
    return b64(text(one(one(ek, NS_ENC, 'CipherData'), NS_ENC, 'CipherValue')), 'CipherValue');
  });
  const sig = one(root, NS_DS, 'Signature');
  const keyInfo = one(sig, NS_DS, 'KeyInfo');
  const signerChain = kids(keyInfo, NS_DS, 'X509Data').map((d) =>
    parseDcCertificate(b64(text(one(d, NS_DS, 'X509Certificate')), 'X509Certificate')),
  );
  if (signerChain.length === 0) bad('KeyInfo carries no certificate');
  return {
    messageId: text(one(pub, NS_ETM, 'MessageId')),
    annotation: kids(pub, NS_ETM, 'AnnotationText').length ? text(one(pub, NS_ETM, 'AnnotationText')) : null,
    issueDate: text(one(pub, NS_ETM, 'IssueDate')),
    signer: {
      issuerName: text(one(signerEl, NS_DS, 'X509IssuerName')),
      serial: text(one(signerEl, NS_DS, 'X509SerialNumber')),
    },
    recipient: {
      issuerName: text(one(ris, NS_DS, 'X509IssuerName')),
      serial: text(one(ris, NS_DS, 'X509SerialNumber')),
      subjectName: text(one(rec, NS_KDM, 'X509SubjectName')),
    },
    cplId: text(one(ext, NS_KDM, 'CompositionPlaylistId')),
    title: text(one(ext, NS_KDM, 'ContentTitleText')),
    notBefore: text(one(ext, NS_KDM, 'ContentKeysNotValidBefore')),
    notAfter: text(one(ext, NS_KDM, 'ContentKeysNotValidAfter')),
    deviceList: kids(one(adi, NS_KDM, 'DeviceList'), NS_KDM, 'CertificateThumbprint').map((e) => text(e)),
    keyIds,
    cipherValues,
    signerChain,
  };
}

/** RFC 2253 names compare after undoing OpenSSL-vs-others spacing differences (`, ` vs `,`). */
function sameName(a: string, b: string): boolean {
  const norm = (s: string) => s.replace(/\s*,\s*/g, ',').trim();
  return norm(a) === norm(b);
}

/** Finds the KeyInfo certificate `Signer` names (by issuer and decimal serial). */
function signerCertificate(k: ParsedKdm): DcCertificate {
  const c = k.signerChain.find(
    (x) => x.serial.toString(10) === k.signer.serial && sameName(x.issuer, k.signer.issuerName),
  );
  if (!c)
    throw new VerifierError('KDM_SIGNATURE', 'no KeyInfo certificate matches AuthenticatedPublic/Signer', {
      signer: k.signer,
    });
  return c;
}

/**
 * Verifies the XML signature: exactly the two ST 430-3 References, no Transforms, digests and
 * SignatureValue with the key of the certificate `Signer` names. Returns the parsed KDM and the
 * signer certificate. Throws KDM_SIGNATURE (or KDM_MALFORMED for structure).
 */
export async function verifyKdmSignature(
  input: string | Uint8Array,
): Promise<{ kdm: ParsedKdm; signer: DcCertificate }> {
  engine();
  const doc = parseDoc(toText(input));
  const kdm = parseParts(doc);
  const sigEl = one(doc.documentElement as El, NS_DS, 'Signature');
  const si = one(sigEl, NS_DS, 'SignedInfo');
  const refs = kids(si, NS_DS, 'Reference').map((r) => r.getAttribute('URI'));
  if (refs.length !== 2 || !refs.includes('#ID_AuthenticatedPublic') || !refs.includes('#ID_AuthenticatedPrivate'))
    throw new VerifierError(
      'KDM_SIGNATURE',
      'the signature must reference exactly AuthenticatedPublic and AuthenticatedPrivate',
      { references: refs },
    );
  for (const r of kids(si, NS_DS, 'Reference'))
    if (kids(r, NS_DS, 'Transforms').length)
      throw new VerifierError('KDM_SIGNATURE', 'KDM references carry no Transforms');
  const signer = signerCertificate(kdm);
  let ok = false;
  try {
    const key = await webcrypto.subtle.importKey(
      'spki',
      signer.publicKey.export({ type: 'spki', format: 'der' }),
      { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
      true,
      ['verify'],
    );
    const signed = new SignedXml(doc);
    signed.LoadXml(sigEl);
    ok = await signed.Verify(key);
  } catch (e) {
    throw new VerifierError('KDM_SIGNATURE', `XML signature check failed: ${(e as Error).message}`);
  }
  if (!ok) throw new VerifierError('KDM_SIGNATURE', 'XML signature does not verify');
  return { kdm, signer };
}

/**
 * Checks the KeyInfo chain: the signer certificate chains through the KeyInfo certificates to
 * one of `roots` (default: the chain's own last, self-signed certificate — self-consistency,
 * which is all a KDM signer chain promises without a pinned root), valid at `at`. Set
 * `profile: false` for real-world chains with UTF8String names. Throws CERT_* codes.
 */
export function checkKdmSignerChain(
  k: ParsedKdm,
  signer: DcCertificate,
  o: { at: Date; roots?: DcCertificate[]; profile?: boolean },
): DcCertificate[] {
  const roots = o.roots ?? [k.signerChain[k.signerChain.length - 1]!];
  return verifyDcChain(signer, { intermediates: k.signerChain, roots, at: o.at, profile: o.profile });
}

/** Checks that the KDM is addressed to `cert` (issuer, decimal serial, subject). Throws KDM_MALFORMED. */
export function checkKdmRecipient(k: ParsedKdm, cert: DcCertificate): void {
  if (
    k.recipient.serial !== cert.serial.toString(10) ||
    !sameName(k.recipient.issuerName, cert.issuer) ||
    !sameName(k.recipient.subjectName, cert.subject)
  ) {
    bad('the KDM is not addressed to this certificate', { recipient: k.recipient, subject: cert.subject });
  }
}

export interface DecryptedKey {
  id: string;
  type: string;
  key: Uint8Array;
}

/**
 * Decrypts every key block with the recipient's private key and cross-checks it against the
 * XML; `signer` (from verifyKdmSignature) is the certificate whose thumbprint every block must
 * carry (default: the first KeyInfo certificate). Throws KDM_DECRYPT / KDM_MALFORMED.
 */
export function decryptKdm(
  k: ParsedKdm,
  privateKey: KeyObject,
  signer: DcCertificate = k.signerChain[0]!,
): DecryptedKey[] {
  if (k.cipherValues.length !== k.keyIds.length) bad('EncryptedKey count differs from KeyIdList');
  const listed = new Map(k.keyIds.map((t) => [t.id.toLowerCase(), t.type]));
  const seen = new Set<string>();
  return k.cipherValues.map((c) => {
    const b = decryptKeyBlock(c, privateKey);
    const fail = (m: string) => {
      b.key.fill(0);
      throw new VerifierError('KDM_DECRYPT', `key block: ${m}`, { keyId: b.keyId });
    };
    if (Buffer.compare(b.signerThumbprint, signer.thumbprint) !== 0)
      fail('signer thumbprint is not the signing certificate');
    if (b.cplId !== k.cplId.toLowerCase()) fail('CPL id differs from CompositionPlaylistId');
    if (listed.get(b.keyId) !== b.keyType) fail('key id/type not in KeyIdList');
    if (seen.has(b.keyId)) fail('key id repeated');
    seen.add(b.keyId);
    if (b.notBefore !== k.notBefore || b.notAfter !== k.notAfter) fail('window differs from the XML window');
    return { id: b.keyId, type: b.keyType, key: b.key };
  });
}
