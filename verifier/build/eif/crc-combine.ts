/**
 * crc32_combine for CRC-32/ISO-HDLC (zlib's algorithm, crc32.c `crc32_combine_`, Mark Adler):
 * given crc(A), crc(B) and len(B), returns crc(A ‖ B) without touching the bytes again.
 * The EIF header (which holds every section size) comes first in the CRC's input, yet the
 * builder only knows the customer ramdisk's size after streaming it; combining lets it CRC
 * each piece as it is written and assemble the file's CRC at the end in O(log n).
 */
const POLY = 0xedb88320;

function multModP(a: number, b: number): number {
  let m = 0x80000000;
  let p = 0;
  for (;;) {
    if ((a & m) !== 0) {
      p ^= b;
      if ((a & (m - 1)) === 0) break;
    }
    m >>>= 1;
    b = (b & 1) !== 0 ? (b >>> 1) ^ POLY : b >>> 1;
  }
  return p >>> 0;
}

/** x^(2^k) mod P for k = 0..31 (zlib's x2n_table). */
const X2N: number[] = (() => {
  const t: number[] = [];
  let p = 1 << 30; // x^1
  t.push(p);
  for (let n = 1; n < 32; n++) t.push((p = multModP(p, p)));
  return t;
})();

/** x^(n·2^k) mod P: x^(8·len) when called with k = 3. */
function x2nModP(n: number, k: number): number {
  let p = 0x80000000; // x^0
  while (n > 0) {
    if (n % 2 === 1) p = multModP(X2N[k & 31]!, p);
    n = Math.floor(n / 2);
    k++;
  }
  return p;
}

/** crc(A ‖ B) from crcA = crc(A), crcB = crc(B) and lenB = |B| (any safe integer). */
export function crc32Combine(crcA: number, crcB: number, lenB: number): number {
  if (!Number.isSafeInteger(lenB) || lenB < 0) throw new RangeError('crc32Combine: bad length');
  return (multModP(x2nModP(lenB, 3), crcA >>> 0) ^ (crcB >>> 0)) >>> 0;
}
