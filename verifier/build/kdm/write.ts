/**
 * KDM writer: one SMPTE ST 430-1 KDM (an ST 430-3 ETM) per recipient certificate, signed with
 * enveloped-by-Id XML-DSig exactly as libdcp, easyDCP and cinemaslides sign (notes/kdm.md §1, §4):
 * C14N 1.0 #WithComments for SignedInfo, rsa-sha256, two References (#ID_AuthenticatedPublic,
 * #ID_AuthenticatedPrivate) with xmlenc#sha256 and no Transforms, KeyInfo = the signer chain leaf
 * first, root last.
 *
 * Why a template and not a DOM library: a forward request emits thousands of KDMs and the target
 * is most of the raw RSA throughput, which a DOM build + generic canonicaliser per document cannot
 * reach. The writer therefore emits one fixed layout that is already in canonical form (no
 * comments, no empty-element shorthand, attributes in canonical order, text escaped exactly as
 * C14N escapes it, namespaces declared once on the root), so the canonical bytes of each signed
 * element are its own text with the root's three namespace declarations written onto its start
 * tag. Every test KDM is checked by three independent implementations (xmlsec1, xml-crypto, and
 * xmldsigjs in this folder's reader) and against the official XSDs, which is what keeps this honest.
 * Bytes are produced once (each part UTF-8 encoded once, the signed parts hashed from those bytes)
 * and never touched after signing. Pure.
 */
import { createHash, randomUUID, sign, type KeyObject } from 'node:crypto';
import { type DcCertificate, nameValue } from '../../src/kdm/certificate.ts';
import { encodeKeyBlock, encryptKeyBlock } from '../../src/kdm/block.ts';
import {
  DOLBY_KEY_TYPE_SCOPE,
  KDM_MESSAGE_TYPE,
  KEY_TYPE_SCOPE,
  NS_DS,
  NS_ENC,
  NS_ETM,
  NS_KDM,
} from '../../src/kdm/xml-names.ts';

export {
  DOLBY_KEY_TYPE_SCOPE,
  KDM_MESSAGE_TYPE,
  KEY_TYPE_SCOPE,
  NS_DS,
  NS_ENC,
  NS_ETM,
  NS_KDM,
} from '../../src/kdm/xml-names.ts';

/** base64 SHA-1 of zero bytes: the modified-transitional-1 "assume trust" device list entry */
export const ASSUME_TRUST_THUMBPRINT = '2jmj7l5rSw0yVb/vlWAYkK/YBwk=';
const C14N_WITH_COMMENTS = 'http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments';
const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';
const XMLENC_SHA256 = 'http://www.w3.org/2001/04/xmlenc#sha256';
const RSA_OAEP_MGF1P = 'http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p';
const DS_SHA1 = 'http://www.w3.org/2000/09/xmldsig#sha1';
const ROOT_NS = `xmlns="${NS_ETM}" xmlns:ds="${NS_DS}" xmlns:enc="${NS_ENC}"`;

/** Text content escaped the way C14N writes it (&, <, >; CR never occurs in our input). */
export function xmlText(s: string): string {
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\r\ufffe\uffff]/.test(s))
    throw new RangeError('xmlText: control characters cannot appear in a KDM');
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export interface KdmContentKey {
  id: string;
  type: string;
  key: Uint8Array;
}

/** The enclave's KDM signer: its ST 430-2 chain (leaf first, root last) and the leaf's private key. */
export interface KdmSigner {
  chain: DcCertificate[];
  privateKey: KeyObject;
  /** precomputed: the leaf's thumbprint, the Signer element and the KeyInfo element */
  readonly thumbprint: Uint8Array;
  readonly signerXml: string;
  readonly keyInfoXml: string;
}

const issuerSerial = (c: DcCertificate, ind: string) =>
  `${ind}<ds:X509IssuerName>${xmlText(c.issuer)}</ds:X509IssuerName>\n${ind}<ds:X509SerialNumber>${c.serial.toString(10)}</ds:X509SerialNumber>\n`;

/** Prepares a signer once (the chain's XML is the same in every KDM). */
export function kdmSigner(chain: DcCertificate[], privateKey: KeyObject): KdmSigner {
  if (chain.length === 0) throw new RangeError('kdmSigner: empty chain');
  const leaf = chain[0]!;
  const keyInfo = chain
    .map(
      (c) =>
        `      <ds:X509Data>\n        <ds:X509IssuerSerial>\n${issuerSerial(c, '          ')}        </ds:X509IssuerSerial>\n        <ds:X509Certificate>${Buffer.from(c.der).toString('base64')}</ds:X509Certificate>\n      </ds:X509Data>\n`,
    )
    .join('');
  return Object.freeze({
    chain,
    privateKey,
    thumbprint: leaf.thumbprint,
    signerXml: `    <Signer>\n${issuerSerial(leaf, '      ')}    </Signer>\n`,
    keyInfoXml: `    <ds:KeyInfo>\n${keyInfo}    </ds:KeyInfo>\n`,
  });
}

export interface KdmInput {
  cplId: string;
  title: string;
  annotation?: string;
  keys: readonly KdmContentKey[];
  /** 25-character window strings, written identically in the XML and every key block */
  notBefore: string;
  notAfter: string;
  /** xs:dateTime of signing (25-character form) */
  issueDate: string;
  recipient: DcCertificate;
  signer: KdmSigner;
  /** fresh urn:uuid values; generated when omitted */
  messageId?: string;
  deviceListId?: string;
}

function keyScope(type: string): string {
  return type === 'MDEK' ? DOLBY_KEY_TYPE_SCOPE : KEY_TYPE_SCOPE;
}

/**
 * base64 SHA-256 of the canonical form of a signed element (its UTF-8 bytes, which start with
 * `<tag `) whose ancestors declare the root's namespaces: the declarations written onto its start
 * tag, hashed piecewise from the bytes already encoded for the document.
 */
function digestWithNs(element: Buffer, tag: string): string {
  const open = `<${tag} `;
  if (element.toString('latin1', 0, open.length) !== open) throw new RangeError(`digestWithNs: not a <${tag}> element`);
  return createHash('sha256').update(`${open}${ROOT_NS} `).update(element.subarray(open.length)).digest('base64');
}

const HEAD = Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>\n<DCinemaSecurityMessage ${ROOT_NS}>\n  `);
const BETWEEN = Buffer.from('\n  ');
const TAIL = Buffer.from('  </ds:Signature>\n</DCinemaSecurityMessage>\n');
/** each signer's KeyInfo element, UTF-8 encoded once */
const KEY_INFO_BYTES = new WeakMap<KdmSigner, Buffer>();

/** Builds and signs one KDM; returns its UTF-8 text. Content keys leave only inside RSA-OAEP ciphertexts. */
export function buildKdm(k: KdmInput): string {
  return buildKdmBytes(k).toString('utf8');
}

/**
 * buildKdm() as UTF-8 bytes, the form a forward request emits: each part of the document is
 * encoded once, and the signed elements are hashed from those bytes (no second encoding).
 */
export function buildKdmBytes(k: KdmInput): Buffer {
  const r = k.recipient;
  const cn = nameValue(r.subjectRdns, 'CN') ?? '';
  const description = cn.includes('.') ? cn.slice(cn.indexOf('.') + 1) : cn;
  const typed = k.keys
    .map(
      (key) =>
        `          <TypedKeyId>\n            <KeyType scope="${keyScope(key.type)}">${xmlText(key.type)}</KeyType>\n            <KeyId>${key.id}</KeyId>\n          </TypedKeyId>\n`,
    )
    .join('');
  const pub =
    `<AuthenticatedPublic Id="ID_AuthenticatedPublic">\n` +
    `    <MessageId>${k.messageId ?? `urn:uuid:${randomUUID()}`}</MessageId>\n` +
    `    <MessageType>${KDM_MESSAGE_TYPE}</MessageType>\n` +
    `    <AnnotationText>${xmlText(k.annotation ?? `${k.title} — ${description}`)}</AnnotationText>\n` +
    `    <IssueDate>${k.issueDate}</IssueDate>\n` +
    k.signer.signerXml +
    `    <RequiredExtensions>\n` +
    `      <KDMRequiredExtensions xmlns="${NS_KDM}">\n` +
    `        <Recipient>\n          <X509IssuerSerial>\n${issuerSerial(r, '            ')}          </X509IssuerSerial>\n` +
    `          <X509SubjectName>${xmlText(r.subject)}</X509SubjectName>\n        </Recipient>\n` +
    `        <CompositionPlaylistId>${k.cplId}</CompositionPlaylistId>\n` +
    `        <ContentTitleText>${xmlText(k.title)}</ContentTitleText>\n` +
    `        <ContentKeysNotValidBefore>${k.notBefore}</ContentKeysNotValidBefore>\n` +
    `        <ContentKeysNotValidAfter>${k.notAfter}</ContentKeysNotValidAfter>\n` +
    `        <AuthorizedDeviceInfo>\n` +
    `          <DeviceListIdentifier>${k.deviceListId ?? `urn:uuid:${randomUUID()}`}</DeviceListIdentifier>\n` +
    `          <DeviceListDescription>${xmlText(description || 'projector')}</DeviceListDescription>\n` +
    `          <DeviceList>\n            <CertificateThumbprint>${ASSUME_TRUST_THUMBPRINT}</CertificateThumbprint>\n          </DeviceList>\n` +
    `        </AuthorizedDeviceInfo>\n` +
    `        <KeyIdList>\n${typed}        </KeyIdList>\n` +
    `      </KDMRequiredExtensions>\n` +
    `    </RequiredExtensions>\n` +
    `    <NonCriticalExtensions></NonCriticalExtensions>\n` +
    `  </AuthenticatedPublic>`;
  const blocks: string[] = [];
  for (const key of k.keys) {
    const plain = encodeKeyBlock({
      signerThumbprint: k.signer.thumbprint,
      cplId: k.cplId,
      keyType: key.type,
      keyId: key.id,
      notBefore: k.notBefore,
      notAfter: k.notAfter,
      key: key.key,
    });
    try {
      const cipher = encryptKeyBlock(plain, r.publicKey);
      blocks.push(
        `    <enc:EncryptedKey>\n      <enc:EncryptionMethod Algorithm="${RSA_OAEP_MGF1P}">\n        <ds:DigestMethod Algorithm="${DS_SHA1}"></ds:DigestMethod>\n      </enc:EncryptionMethod>\n` +
          `      <enc:CipherData>\n        <enc:CipherValue>${Buffer.from(cipher).toString('base64')}</enc:CipherValue>\n      </enc:CipherData>\n    </enc:EncryptedKey>\n`,
      );
    } finally {
      plain.fill(0);
    }
  }
  const priv = `<AuthenticatedPrivate Id="ID_AuthenticatedPrivate">\n${blocks.join('')}  </AuthenticatedPrivate>`;
  const pubBytes = Buffer.from(pub, 'utf8');
  const privBytes = Buffer.from(priv, 'utf8');
  const ref = (id: string, d: string) =>
    `      <ds:Reference URI="#${id}">\n        <ds:DigestMethod Algorithm="${XMLENC_SHA256}"></ds:DigestMethod>\n        <ds:DigestValue>${d}</ds:DigestValue>\n      </ds:Reference>\n`;
  const signedInfo =
    `<ds:SignedInfo>\n      <ds:CanonicalizationMethod Algorithm="${C14N_WITH_COMMENTS}"></ds:CanonicalizationMethod>\n      <ds:SignatureMethod Algorithm="${RSA_SHA256}"></ds:SignatureMethod>\n` +
    ref('ID_AuthenticatedPublic', digestWithNs(pubBytes, 'AuthenticatedPublic')) +
    ref('ID_AuthenticatedPrivate', digestWithNs(privBytes, 'AuthenticatedPrivate')) +
    `    </ds:SignedInfo>`;
  const canonicalSignedInfo = signedInfo.replace('<ds:SignedInfo>', `<ds:SignedInfo ${ROOT_NS}>`);
  const signatureValue = sign('sha256', Buffer.from(canonicalSignedInfo, 'utf8'), k.signer.privateKey).toString(
    'base64',
  );
  let keyInfo = KEY_INFO_BYTES.get(k.signer);
  if (!keyInfo) {
    keyInfo = Buffer.from(k.signer.keyInfoXml, 'utf8');
    KEY_INFO_BYTES.set(k.signer, keyInfo);
  }
  const signature = Buffer.from(
    `\n  <ds:Signature>\n    ${signedInfo}\n    <ds:SignatureValue>${signatureValue}</ds:SignatureValue>\n`,
    'utf8',
  );
  return Buffer.concat([HEAD, pubBytes, BETWEEN, privBytes, signature, keyInfo, TAIL]);
}
