/**
 * A bounded reader for JSON bodies that arrive in chunks: it tracks nesting depth and counts
 * values (every array element and object member) as the bytes stream in, without building
 * anything, and throws the moment a body goes past its limits — before JSON.parse ever sees it.
 * Issue 16: one 32 MiB body of `[[[[…` cost the enclave 2.3–2.9 GB in JSON.parse (a heap object
 * per level); with maxDepth 3 and a value cap, what JSON.parse then builds is bounded by the
 * body's size. Pure: no I/O, O(1) memory, one pass over each byte.
 *
 *   const g = new JsonShapeGuard({ maxDepth: 3, maxValues: 100_128 });
 *   for (const chunk of body) g.push(chunk);   // throws MALFORMED (depth) / OVERSIZED (values)
 *
 * It does not validate JSON (JSON.parse does that afterwards); it only has to know, byte by
 * byte, whether it is inside a string, so brackets and commas there are not counted.
 */
import { VerifierError } from '../errors.ts';

export interface JsonShapeLimits {
  /** deepest nesting of arrays and objects (a top-level object is depth 1) */
  maxDepth: number;
  /** most values in all (array elements and object members, counted by their separators) */
  maxValues: number;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const OPEN_OBJECT = 0x7b;
const CLOSE_ARRAY = 0x5d;
const CLOSE_OBJECT = 0x7d;
const COMMA = 0x2c;

export class JsonShapeGuard {
  private depth = 0;
  private values = 0;
  private inString = false;
  private escaped = false;

  constructor(private readonly limits: JsonShapeLimits) {
    if (!(limits.maxDepth >= 1) || !(limits.maxValues >= 1)) throw new RangeError('JsonShapeGuard: limits must be ≥ 1');
  }

  /** Feeds the next chunk; throws VerifierError MALFORMED (too deep) or OVERSIZED (too many values). */
  push(chunk: Uint8Array): void {
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (b === BACKSLASH) this.escaped = true;
        else if (b === QUOTE) this.inString = false;
        continue;
      }
      if (b === QUOTE) this.inString = true;
      else if (b === OPEN_ARRAY || b === OPEN_OBJECT) {
        if (++this.depth > this.limits.maxDepth)
          throw new VerifierError('MALFORMED', `JSON nested deeper than ${this.limits.maxDepth} levels`, {
            maxDepth: this.limits.maxDepth,
          });
        this.count();
      } else if (b === CLOSE_ARRAY || b === CLOSE_OBJECT) this.depth--;
      else if (b === COMMA) this.count();
    }
  }

  private count(): void {
    if (++this.values > this.limits.maxValues)
      throw new VerifierError('OVERSIZED', `JSON holds more than ${this.limits.maxValues} values`, {
        maxValues: this.limits.maxValues,
      });
  }
}
