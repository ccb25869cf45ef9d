/**
 * One PCR value (a SHA-384 measurement, 48 bytes) as one type, so the enclave's own PCR0 travels
 * from the NSM through the gate, the identity, the forward request and the receipt without being
 * turned from bytes to hex and back at each step. `hex` is lowercase (the form logs, receipts,
 * KMS conditions and JSON carry); `bytes` is a fresh copy (the value itself cannot be changed
 * through it). JSON.stringify gives the hex.
 */
import { bytesEqual, fromHex, toHex } from '../encoding/bytes.ts';

const BYTES = 48;

export class Measurement {
  readonly hex: string;
  readonly #bytes: Uint8Array;

  private constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
    this.hex = toHex(bytes);
    Object.freeze(this);
  }

  /** From 48 bytes (copied). Throws RangeError for another length. */
  static fromBytes(b: Uint8Array): Measurement {
    if (!(b instanceof Uint8Array) || b.length !== BYTES) throw new RangeError(`a measurement is ${BYTES} bytes`);
    return new Measurement(b.slice());
  }

  /** From 96 lowercase hex digits. Throws RangeError otherwise. */
  static fromHex(h: string): Measurement {
    if (typeof h !== 'string' || !/^[0-9a-f]{96}$/.test(h))
      throw new RangeError('a measurement is 96 lowercase hex digits');
    return new Measurement(fromHex(h));
  }

  /** The 48 bytes, as a copy. */
  get bytes(): Uint8Array {
    return this.#bytes.slice();
  }

  equals(o: Measurement): boolean {
    return bytesEqual(this.#bytes, o.#bytes);
  }

  toString(): string {
    return this.hex;
  }

  toJSON(): string {
    return this.hex;
  }
}
