/**
 * The forward bench's request certificates, as DER in shared memory: one SharedArrayBuffer of
 * certificate bytes and one of offsets (certificate i is bytes [offsets[i], offsets[i + 1])). The
 * main thread writes them once; every thread takes views of a range without a copy, because
 * posting a SharedArrayBuffer to a worker shares it.
 */
export interface SharedCerts {
  bytes: SharedArrayBuffer;
  /** count + 1 offsets, on a SharedArrayBuffer */
  offsets: Uint32Array;
}

/**
 * Room for `count` certificates of at most `maxDer` bytes each. The pages past what is written
 * are never touched, so they never become resident.
 */
export function sharedCerts(
  count: number,
  maxDer: number,
): SharedCerts & { add(der: Uint8Array): void; used(): number } {
  const bytes = new SharedArrayBuffer(count * maxDer);
  const offsets = new Uint32Array(new SharedArrayBuffer((count + 1) * 4));
  let n = 0;
  return {
    bytes,
    offsets,
    add(der) {
      if (n >= count) throw new RangeError(`sharedCerts: room for ${count} certificates`);
      if (der.length > maxDer) throw new RangeError(`certificate ${n} is larger than ${maxDer} bytes`);
      new Uint8Array(bytes, offsets[n]!, der.length).set(der);
      offsets[n + 1] = offsets[n]! + der.length;
      n++;
    },
    used: () => offsets[n]!,
  };
}

/** Certificates [from, to) as DER views into the shared bytes. */
export function certViews(c: SharedCerts, from: number, to: number): Uint8Array[] {
  return Array.from(
    { length: to - from },
    (_, k) => new Uint8Array(c.bytes, c.offsets[from + k]!, c.offsets[from + k + 1]! - c.offsets[from + k]!),
  );
}
