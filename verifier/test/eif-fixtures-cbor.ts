/** The PcrInfo{0, 0x00..0x2f} CBOR bytes from image-format src/utils/cbor.rs (nitro.md §1.6). */
export function cborPayloadBytes(): string {
  const key = (s: string) => Buffer.from([0x60 + s.length, ...Buffer.from(s)]).toString('hex');
  const vals = Array.from({ length: 48 }, (_, i) =>
    i < 24 ? i.toString(16).padStart(2, '0') : `18${i.toString(16).padStart(2, '0')}`,
  ).join('');
  return `a2${key('register_index')}00${key('register_value')}9830${vals}`;
}
