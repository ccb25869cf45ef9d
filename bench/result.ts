/**
 * The one result shape every benchmark prints, so `npm run bench` (scripts/bench-all.mjs) can
 * collect any bench/<name>/run.ts into bench/REPORT.md without knowing it. A bench prints, on
 * stdout, one line per run:
 *
 *   KEYCAST-BENCH {"bench":"<name>","quick":false,"figures":[BenchFigure, …]}
 *
 * Each figure carries its value, the baseline measured in the same run (null when the figure is
 * an absolute budget, e.g. peak memory), the ratio as its target reads it, and the target.
 * Plain text for people goes to stdout/stderr as before; only this line is machine-read.
 */

export const RESULT_PREFIX = 'KEYCAST-BENCH ';

export interface BenchTarget {
  /** What the bound applies to: the figure's value, or its ratio to the baseline. */
  on: 'value' | 'ratio';
  op: '>=' | '<=';
  bound: number;
}

export interface BenchFigure {
  figure: string;
  value: number;
  unit: string;
  /** The same-run baseline this figure is compared with; null for absolute budgets. */
  baseline: { what: string; value: number; unit: string } | null;
  /** value / baseline (or the bench's stated inverse, e.g. build time / hash time); null without baseline. */
  ratio: number | null;
  target: BenchTarget | null;
  /** Free text: spread over rounds, sample counts, what the ratio means. */
  note?: string;
}

export interface BenchResult {
  bench: string;
  quick: boolean;
  figures: BenchFigure[];
}

/** Whether a figure meets its target (null when it has none). */
export function meets(f: BenchFigure): boolean | null {
  if (!f.target) return null;
  const x = f.target.on === 'value' ? f.value : f.ratio;
  if (x === null) return null;
  return f.target.op === '>=' ? x >= f.target.bound : x <= f.target.bound;
}

/** Rounds a ratio for printing and comparison (3 significant decimals). */
export const ratio = (a: number, b: number): number => Number((a / b).toFixed(3));

/** Prints the machine-readable line (stdout). */
export function emitResult(result: BenchResult): void {
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`);
}
