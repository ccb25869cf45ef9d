/**
 * X.501 Name handling for RFC 5280 §4.1.2.4: DER Name encode/decode and a readable one-line
 * form for evidence. Names are compared by their exact DER bytes (RFC 5280 §7.1 allows
 * binary comparison, and every issuer in an AWS Nitro chain is a byte copy of its parent's subject).
 */
import {
  DerError,
  TAG,
  children,
  derOid,
  derPrintable,
  derUtf8,
  expect,
  readOid,
  seq,
  tlv,
  type Tlv,
} from '../encoding/der.ts';

const SHORT: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.5': 'serialNumber',
};
const BY_SHORT: Record<string, string> = Object.fromEntries(Object.entries(SHORT).map(([k, v]) => [v, k]));

const UTF8 = new TextDecoder('utf-8', { fatal: true });
const STRING_TAGS = new Set([TAG.UTF8_STRING, TAG.PRINTABLE_STRING, TAG.IA5_STRING, 0x14 /* T61 */]);

/** One line like `C=US, O=Amazon, OU=AWS, CN=aws.nitro-enclaves`, in encoding order. */
export function nameToString(name: Tlv): string {
  expect(name, TAG.SEQUENCE);
  const parts: string[] = [];
  for (const rdn of children(name)) {
    expect(rdn, TAG.SET);
    const atvs = children(rdn);
    if (atvs.length === 0) throw new DerError('empty RDN', rdn.start);
    for (const atv of atvs) {
      const [type, value, extra] = children(expect(atv, TAG.SEQUENCE));
      if (!type || !value || extra) throw new DerError('bad AttributeTypeAndValue', atv.start);
      const oid = readOid(type);
      if (!STRING_TAGS.has(value.tag as never))
        throw new DerError(`unsupported attribute value tag 0x${value.tag.toString(16)}`, value.start);
      let text: string;
      try {
        text = value.tag === TAG.UTF8_STRING ? UTF8.decode(value.content) : String.fromCharCode(...value.content);
      } catch {
        throw new DerError('invalid UTF-8 in a name', value.start);
      }
      parts.push(`${SHORT[oid] ?? oid}=${text}`);
    }
  }
  return parts.join(', ');
}

/** Attributes for a Name, in the order given, one per RDN (e.g. `{ C: 'US', O: 'Amazon', CN: '…' }`). */
export type NameInput = Record<string, string>;

/** DER Name: C as PrintableString (RFC 5280 Appendix A), everything else UTF8String. */
export function encodeName(name: NameInput): Uint8Array {
  const rdns: Uint8Array[] = [];
  for (const [key, value] of Object.entries(name)) {
    const oid = BY_SHORT[key] ?? (/^\d+(\.\d+)+$/.test(key) ? key : undefined);
    if (!oid) throw new RangeError(`encodeName: unknown attribute ${key}`);
    if (typeof value !== 'string' || value.length === 0)
      throw new RangeError(`encodeName: ${key} must be a non-empty string`);
    const v = key === 'C' ? derPrintable(value) : derUtf8(value);
    rdns.push(tlv(TAG.SET, seq(derOid(oid), v)));
  }
  return seq(...rdns);
}
