/**
 * A strict reader of the Prometheus text exposition format 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/), for tests: every line is
 * `# HELP name text`, `# TYPE name counter|gauge|…`, another `#` comment, blank, or a sample
 * `name{label="value",…} value [timestamp]`; names and label names follow the format's
 * grammar, label values use only the \\ \" \n escapes; a family's TYPE comes once and before
 * its samples, its samples are contiguous, no series repeats, counters are not negative, and
 * the text ends in a newline. Throws with the line number on the first violation.
 */
const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

export interface Exposition {
  types: Map<string, string>;
  /** `name{a="x",b="y"}` (labels sorted) → value */
  samples: Map<string, number>;
}

export function seriesKey(name: string, labels: Record<string, string> = {}): string {
  const l = Object.keys(labels)
    .sort()
    .map((k) => `${k}="${labels[k]}"`)
    .join(',');
  return l ? `${name}{${l}}` : name;
}

export function parseExposition(text: string): Exposition {
  if (!text.endsWith('\n')) throw new Error('the exposition must end in a newline');
  const types = new Map<string, string>();
  const helps = new Set<string>();
  const samples = new Map<string, number>();
  const closed = new Set<string>();
  let current: string | null = null;
  text
    .slice(0, -1)
    .split('\n')
    .forEach((line, i) => {
      const fail = (why: string): never => {
        throw new Error(`line ${i + 1}: ${why}: ${JSON.stringify(line)}`);
      };
      if (line === '') return;
      const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
      if (meta) {
        const [, kind, name, rest] = meta as unknown as [string, string, string, string];
        if (!NAME.test(name)) fail('bad metric name');
        if (kind === 'HELP') {
          if (helps.has(name)) fail('second HELP');
          helps.add(name);
          if (/\\[^\\n]/.test(rest.replace(/\\\\/g, ''))) fail('bad escape in HELP');
        } else {
          if (types.has(name)) fail('second TYPE');
          if (!TYPES.has(rest)) fail('unknown type');
          if ([...samples.keys()].some((k) => k === name || k.startsWith(`${name}{`))) fail('TYPE after samples');
          types.set(name, rest);
        }
        return;
      }
      if (line.startsWith('#')) return;
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: (-?\d+))?$/.exec(line);
      if (!m) return fail('not a sample');
      const [, name, body, raw] = m as unknown as [string, string, string | undefined, string];
      const labels: Record<string, string> = {};
      let rest = body ?? '';
      while (rest.length > 0) {
        const lm = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/.exec(rest);
        if (!lm || !LABEL.test(lm[1]!)) return fail('bad label');
        if (lm[1]! in labels) fail('repeated label');
        labels[lm[1]!] = lm[2]!.replace(/\\(.)/g, (_s, c: string) => (c === 'n' ? '\n' : c));
        rest = rest.slice(lm[0].length);
      }
      const value = raw === 'NaN' ? Number.NaN : raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw);
      if (raw !== 'NaN' && Number.isNaN(value)) fail('bad value');
      const family = name.replace(/_(sum|count|bucket)$/, '');
      const fam = types.has(name) ? name : types.has(family) ? family : name;
      if (current !== fam) {
        if (closed.has(fam)) fail('samples of a family are not contiguous');
        if (current !== null) closed.add(current);
        current = fam;
      }
      if (types.get(fam) === 'counter' && !(value >= 0)) fail('negative counter');
      const key = seriesKey(name, labels);
      if (samples.has(key)) fail('repeated series');
      samples.set(key, value);
    });
  return { types, samples };
}
