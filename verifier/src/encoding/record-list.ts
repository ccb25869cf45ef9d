/**
 * A growable list of fixed-width byte records (hashes, thumbprints) kept in one buffer instead of
 * one Uint8Array object per record: ~`width` bytes a record rather than ~150 bytes of object and
 * backing-store overhead each, which matters for trees over 100,000 leaves. Records are written
 * once; `get` returns a view that stays valid (and unchanged) after the list grows.
 */
export class RecordList {
  private buf: Uint8Array;
  private n = 0;

  constructor(
    readonly width: number,
    capacity = 64,
  ) {
    if (!Number.isSafeInteger(width) || width <= 0)
      throw new RangeError('RecordList: width must be a positive integer');
    this.buf = new Uint8Array(width * Math.max(1, capacity));
  }

  get length(): number {
    return this.n;
  }

  /** Appends a copy of `record` (exactly `width` bytes); returns its index. */
  push(record: Uint8Array): number {
    if (record.length !== this.width) throw new RangeError(`RecordList: records are ${this.width} bytes`);
    return this.set(this.n, record);
  }

  /** Writes record `index` (at most one past the end); returns the index. */
  set(index: number, record: Uint8Array): number {
    if (record.length !== this.width) throw new RangeError(`RecordList: records are ${this.width} bytes`);
    if (!Number.isSafeInteger(index) || index < 0 || index > this.n)
      throw new RangeError(`RecordList: index ${index} is outside 0..${this.n}`);
    if ((index + 1) * this.width > this.buf.length) {
      const grown = new Uint8Array(this.buf.length * 2);
      grown.set(this.buf.subarray(0, this.n * this.width));
      this.buf = grown;
    }
    this.buf.set(record, index * this.width);
    if (index === this.n) this.n++;
    return index;
  }

  /** Record `index` as a view (undefined past the end). */
  get(index: number): Uint8Array | undefined {
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.n) return undefined;
    return this.buf.subarray(index * this.width, (index + 1) * this.width);
  }
}
