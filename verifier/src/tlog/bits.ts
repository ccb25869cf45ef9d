/**
 * Integer helpers for tree sizes and indexes held as JS numbers. Sizes and indexes are
 * non-negative safe integers (< 2^53); JS bitwise operators only cover 32 bits, so these
 * split values into 32-bit halves.
 */
const TWO32 = 2 ** 32;

/** True if `n` is a non-negative safe integer (a valid tree size or index). */
export function isUint53(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

/** Number of bits needed to represent `n` (Go's bits.Len64). */
export function bitLen(n: number): number {
  if (n < TWO32) return 32 - Math.clz32(n);
  return 32 + bitLen(Math.floor(n / TWO32));
}

/** Number of set bits in `n`. */
export function popCount(n: number): number {
  let c = 0;
  for (let lo = n % TWO32, hi = Math.floor(n / TWO32); lo !== 0 || hi !== 0; lo >>>= 1, hi >>>= 1) {
    c += (lo & 1) + (hi & 1);
  }
  return c;
}

/** Bitwise XOR of two safe non-negative integers. */
export function xor(a: number, b: number): number {
  const lo = ((a % TWO32) ^ (b % TWO32)) >>> 0;
  const hi = (Math.floor(a / TWO32) ^ Math.floor(b / TWO32)) >>> 0;
  return hi * TWO32 + lo;
}

/** floor(n / 2^k). */
export function shr(n: number, k: number): number {
  if (k < 32 && n >= 0 && n < TWO32) return n >>> k; // the common case, without a division
  return k === 0 ? n : Math.floor(n / 2 ** k);
}

/** Bit `k` of `n` (0 or 1). */
export function bitAt(n: number, k: number): number {
  return shr(n, k) % 2;
}

/** Number of trailing zero bits of `n` (n > 0). */
export function trailingZeros(n: number): number {
  let k = 0;
  while (n % 2 === 0) {
    n /= 2;
    k++;
  }
  return k;
}

/** The largest power of two strictly less than `n` (n ≥ 2). */
export function splitPoint(n: number): number {
  return 2 ** (bitLen(n - 1) - 1);
}
