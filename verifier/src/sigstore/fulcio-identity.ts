/**
 * What a Fulcio (Sigstore keyless) certificate says about who signed: its subject alternative
 * names and the Fulcio extensions under 1.3.6.1.4.1.57264.1 (fulcio docs/oid-info.md). Read
 * straight from the DER with the strict reader, never from a library's summary string (Node's
 * `subjectAltName` escapes and joins values; a value containing ", URI:" could pose as a
 * second name).
 *
 * Current extensions (1.8 onward) hold a DER UTF8String; the deprecated ones (1.1–1.6) hold the
 * raw string bytes. Both are read; which one a policy field uses is identity-policy.ts's rule.
 * Pure; throws CERT_MALFORMED on a certificate or extension that does not decode.
 */
import { VerifierError } from '../errors.ts';
import { children, DerError, expect, readBoolean, readOid, readTlv, TAG, type Tlv } from '../encoding/der.ts';

const FULCIO = '1.3.6.1.4.1.57264.1';
/** The Fulcio extension OIDs this module reads (name → OID). */
export const FULCIO_OID = {
  issuerV1: `${FULCIO}.1`,
  githubWorkflowTrigger: `${FULCIO}.2`,
  githubWorkflowSha: `${FULCIO}.3`,
  githubWorkflowName: `${FULCIO}.4`,
  githubWorkflowRepository: `${FULCIO}.5`,
  githubWorkflowRef: `${FULCIO}.6`,
  issuer: `${FULCIO}.8`,
  buildSignerUri: `${FULCIO}.9`,
  buildSignerDigest: `${FULCIO}.10`,
  runnerEnvironment: `${FULCIO}.11`,
  sourceRepositoryUri: `${FULCIO}.12`,
  sourceRepositoryDigest: `${FULCIO}.13`,
  sourceRepositoryRef: `${FULCIO}.14`,
  buildConfigUri: `${FULCIO}.18`,
  buildTrigger: `${FULCIO}.20`,
  runInvocationUri: `${FULCIO}.21`,
} as const;
export type FulcioField = keyof typeof FULCIO_OID;

const SAN_OID = '2.5.29.17';
/** Fulcio extensions whose value is a raw string (deprecated encoding), not a DER UTF8String. */
const RAW_VALUED = new Set<string>([
  FULCIO_OID.issuerV1,
  FULCIO_OID.githubWorkflowTrigger,
  FULCIO_OID.githubWorkflowSha,
  FULCIO_OID.githubWorkflowName,
  FULCIO_OID.githubWorkflowRepository,
  FULCIO_OID.githubWorkflowRef,
]);

export interface SubjectAltName {
  type: 'email' | 'uri' | 'dns' | 'other';
  value: string;
}

export interface FulcioIdentity {
  /** Every SAN the certificate carries, in order (Fulcio issues exactly one). */
  sans: SubjectAltName[];
  /** Fulcio extension values by field name (only those present). */
  fields: Partial<Record<FulcioField, string>>;
  notBefore: Date;
  notAfter: Date;
}

function malformed(reason: string): never {
  throw new VerifierError('CERT_MALFORMED', `signing certificate: ${reason}`, { reason });
}

const utf8Fatal = new TextDecoder('utf-8', { fatal: true });
function text(b: Uint8Array, what: string): string {
  try {
    return utf8Fatal.decode(b);
  } catch {
    return malformed(`${what} is not UTF-8`);
  }
}

function readTime(t: Tlv): Date {
  const s = text(t.content, 'a validity time');
  const m =
    t.tag === TAG.UTC_TIME
      ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s)
      : /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) return malformed('bad validity time');
  let year = Number(m[1]);
  if (t.tag === TAG.UTC_TIME) year += year < 50 ? 2000 : 1900;
  return new Date(Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
}

function sans(value: Uint8Array): SubjectAltName[] {
  const seq = readTlv(value, 0);
  if (seq.end !== value.length) malformed('trailing bytes after subjectAltName');
  return children(expect(seq, TAG.SEQUENCE)).map((n): SubjectAltName => {
    // GeneralName: [1] rfc822Name, [2] dNSName, [6] URI (IMPLICIT IA5String), [0] otherName.
    if (n.tag === 0x81) return { type: 'email', value: text(n.content, 'an email SAN') };
    if (n.tag === 0x82) return { type: 'dns', value: text(n.content, 'a DNS SAN') };
    if (n.tag === 0x86) return { type: 'uri', value: text(n.content, 'a URI SAN') };
    if (n.tag === 0xa0) {
      // otherName { type-id OID, [0] EXPLICIT UTF8String } (Fulcio's username identities)
      const [, v] = children(n);
      const inner = v ? children(v)[0] : undefined;
      if (!inner || inner.tag !== TAG.UTF8_STRING) return { type: 'other', value: '' };
      return { type: 'other', value: text(inner.content, 'an otherName SAN') };
    }
    return { type: 'other', value: '' };
  });
}

function fulcioValue(oid: string, value: Uint8Array): string {
  if (RAW_VALUED.has(oid)) return text(value, `extension ${oid}`);
  const t = readTlv(value, 0);
  if (t.end !== value.length || t.tag !== TAG.UTF8_STRING) malformed(`extension ${oid} must be a DER UTF8String`);
  return text(t.content, `extension ${oid}`);
}

/** Reads the identity of a DER X.509 certificate. Throws CERT_MALFORMED. */
export function fulcioIdentity(der: Uint8Array): FulcioIdentity {
  try {
    const cert = readTlv(der, 0);
    if (cert.end !== der.length) malformed('trailing bytes after the certificate');
    const [tbs] = children(expect(cert, TAG.SEQUENCE));
    const f = children(expect(tbs ?? malformed('no TBSCertificate'), TAG.SEQUENCE));
    const hasVersion = f[0]?.tag === 0xa0;
    const validity = f[hasVersion ? 4 : 3];
    const [nb, na] = children(expect(validity ?? malformed('no validity'), TAG.SEQUENCE));
    const out: FulcioIdentity = {
      sans: [],
      fields: {},
      notBefore: readTime(nb ?? malformed('no notBefore')),
      notAfter: readTime(na ?? malformed('no notAfter')),
    };
    const extWrapper = f.find((t) => t.tag === 0xa3);
    if (!extWrapper) return out;
    const byOid = new Map<string, FulcioField>(
      Object.entries(FULCIO_OID).map(([k, v]) => [v, k as FulcioField] as const),
    );
    const seen = new Set<string>();
    for (const item of children(expect(children(extWrapper)[0] ?? malformed('empty extensions'), TAG.SEQUENCE))) {
      const parts = children(expect(item, TAG.SEQUENCE));
      const oid = readOid(parts[0] ?? malformed('bad extension'));
      if (seen.has(oid)) malformed(`duplicate extension ${oid}`);
      seen.add(oid);
      if (parts.length === 3) readBoolean(parts[1]!);
      else if (parts.length !== 2) malformed('bad extension');
      const value = expect(parts[parts.length - 1]!, TAG.OCTET_STRING).content;
      if (oid === SAN_OID) out.sans = sans(value);
      const field = byOid.get(oid);
      if (field) out.fields[field] = fulcioValue(oid, value);
    }
    return out;
  } catch (e) {
    if (e instanceof DerError) malformed(e.message);
    throw e;
  }
}
