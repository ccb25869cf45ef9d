/**
 * .github/workflows/release.yml, parse-checked: a small strict reader of the YAML block subset the
 * file uses (mappings, sequences, plain/quoted scalars, `|` blocks, `[a, b]` flow lists; tabs,
 * anchors, tags and duplicate keys refused), then the structure a keyless release needs: tag pushes
 * only, read-only by default with id-token: write on the release job alone, every action pinned by
 * commit SHA, and the steps build reproducibly → sign --keyless → publish → verify by identity.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

type Yaml = string | Yaml[] | { [k: string]: Yaml };

interface Line {
  indent: number;
  text: string;
  no: number;
}

function stripComment(s: string): string {
  let q: string | null = null;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (q) {
      if (c === q) q = null;
    } else if (c === '"' || c === "'") q = c;
    else if (c === '#' && (i === 0 || s[i - 1] === ' ')) return s.slice(0, i).trimEnd();
  }
  return s.trimEnd();
}

function scalar(s: string, no: number): Yaml {
  const t = s.trim();
  if (/^[&*!]/.test(t)) throw new Error(`line ${no}: anchors, aliases and tags are not accepted`);
  if (t.startsWith('[')) {
    if (!t.endsWith(']')) throw new Error(`line ${no}: unterminated flow list`);
    const inner = t.slice(1, -1).trim();
    return inner === '' ? [] : inner.split(',').map((x) => scalar(x, no) as string);
  }
  if (t.startsWith("'")) {
    if (!t.endsWith("'") || t.length < 2) throw new Error(`line ${no}: unterminated quote`);
    return t.slice(1, -1).replace(/''/g, "'");
  }
  if (t.startsWith('"')) {
    if (!t.endsWith('"') || t.length < 2) throw new Error(`line ${no}: unterminated quote`);
    return JSON.parse(t) as string;
  }
  if (t.startsWith('{')) throw new Error(`line ${no}: flow mappings are not accepted`);
  return t;
}

export function parseYamlSubset(text: string): Yaml {
  if (text.includes('\t')) throw new Error('tabs are not accepted');
  const raw = text.split('\n');
  const lines: Line[] = [];
  for (let i = 0; i < raw.length; i++) {
    const body = stripComment(raw[i]!);
    if (body.trim() === '') continue;
    lines.push({ indent: body.length - body.trimStart().length, text: body.trim(), no: i + 1 });
    // a literal block keeps its lines verbatim (comments inside are text)
    if (/:\s*\|$/.test(body) || /^-\s.*:\s*\|$/.test(body.trim())) {
      const base = lines[lines.length - 1]!.indent;
      const block: string[] = [];
      while (
        i + 1 < raw.length &&
        (raw[i + 1]!.trim() === '' || raw[i + 1]!.length - raw[i + 1]!.trimStart().length > base)
      ) {
        block.push(raw[++i]!);
      }
      const ind = Math.min(...block.filter((b) => b.trim()).map((b) => b.length - b.trimStart().length));
      lines.push({
        indent: -1,
        text: block
          .map((b) => b.slice(ind))
          .join('\n')
          .trimEnd(),
        no: i + 1,
      });
    }
  }
  let pos = 0;
  function block(indent: number): Yaml {
    const first = lines[pos]!;
    if (first.text.startsWith('- ') || first.text === '-') {
      const out: Yaml[] = [];
      while (pos < lines.length && lines[pos]!.indent === indent && lines[pos]!.text.startsWith('-')) {
        const l = lines[pos]!;
        const rest = l.text.slice(1).trimStart();
        // "- key: value" opens a mapping whose keys sit at indent + 2
        lines[pos] = { indent: indent + 2, text: rest, no: l.no };
        if (/^[^'"[\s][^:]*:(\s|$)/.test(rest)) out.push(block(indent + 2));
        else {
          pos++;
          out.push(scalar(rest, l.no));
        }
      }
      return out;
    }
    const out: { [k: string]: Yaml } = {};
    while (pos < lines.length && lines[pos]!.indent === indent && !lines[pos]!.text.startsWith('- ')) {
      const l = lines[pos]!;
      const m = /^([^'"[\s][^:]*|'[^']*'|"[^"]*"):(?:\s+(.*))?$/.exec(l.text);
      if (!m) throw new Error(`line ${l.no}: expected "key: value"`);
      const key = scalar(m[1]!, l.no) as string;
      if (Object.hasOwn(out, key)) throw new Error(`line ${l.no}: duplicate key ${key}`);
      pos++;
      const v = m[2];
      if (v === '|') {
        const b = lines[pos];
        if (!b || b.indent !== -1) throw new Error(`line ${l.no}: empty block`);
        pos++;
        out[key] = b.text;
      } else if (v !== undefined && v !== '') out[key] = scalar(v, l.no);
      else if (pos < lines.length && lines[pos]!.indent > indent) out[key] = block(lines[pos]!.indent);
      else if (pos < lines.length && lines[pos]!.indent === indent && lines[pos]!.text.startsWith('- '))
        out[key] = block(indent);
      else out[key] = '';
    }
    return out;
  }
  const doc = block(0);
  if (pos !== lines.length) throw new Error(`line ${lines[pos]!.no}: unexpected indentation`);
  return doc;
}

const WORKFLOW = resolve(import.meta.dirname, '../.github/workflows/release.yml');
const obj = (v: Yaml | undefined): { [k: string]: Yaml } => {
  assert.ok(v && typeof v === 'object' && !Array.isArray(v), `expected a mapping, got ${JSON.stringify(v)}`);
  return v;
};

test('the subset reader refuses what it does not understand', () => {
  assert.throws(() => parseYamlSubset('a: 1\na: 2\n'), /duplicate key/);
  assert.throws(() => parseYamlSubset('a:\n\tb: 1\n'), /tabs/);
  assert.throws(() => parseYamlSubset('a: &x 1\n'), /anchors/);
  assert.throws(() => parseYamlSubset('a: 1\n   b: 2\n'), /indentation|expected/);
  assert.deepEqual(parseYamlSubset("a:\n  - b: 'x' # c\n    c: [d, 'e']\n  - f\n"), {
    a: [{ b: 'x', c: ['d', 'e'] }, 'f'],
  });
});

test('release.yml: tag pushes, least privilege, pinned actions, build → sign --keyless → publish → verify by identity', () => {
  const wf = obj(parseYamlSubset(readFileSync(WORKFLOW, 'utf8')));
  assert.equal(wf.name, 'release');
  assert.deepEqual(obj(obj(wf.on).push), { tags: ['v*'] });
  assert.deepEqual(Object.keys(obj(wf.on)), ['push'], 'no pull_request(_target) or other triggers');
  assert.deepEqual(wf.permissions, { contents: 'read' }, 'read-only by default');
  const jobs = obj(wf.jobs);
  assert.deepEqual(Object.keys(jobs), ['release']);
  const job = obj(jobs.release);
  assert.deepEqual(job.permissions, { contents: 'read', 'id-token': 'write' });
  const env = obj(job.env);
  assert.equal(env.ISSUER, 'https://token.actions.githubusercontent.com');
  assert.equal(
    env.IDENTITY,
    // biome-ignore lint/suspicious/noTemplateCurlyInString: GitHub's expression syntax, not a JS template
    'https://github.com/${{ github.repository }}/.github/workflows/release.yml@${{ github.ref }}',
  );
  const steps = job.steps as Yaml[];
  assert.ok(Array.isArray(steps) && steps.length >= 6);
  for (const s of steps.map(obj)) {
    if (s.uses !== undefined)
      assert.match(s.uses as string, /^[\w.-]+\/[\w.-]+@[0-9a-f]{40}$/, `unpinned action ${s.uses}`);
    if (s.run !== undefined) assert.ok(!/secrets\.|--identity-token/.test(s.run as string), 'no token handled by hand');
  }
  const checkout = obj(steps.map(obj).find((s) => String(s.uses).startsWith('actions/checkout@')));
  assert.equal(obj(checkout.with)['persist-credentials'], 'false');
  const runs = steps.map((s) => String(obj(s).run ?? ''));
  const at = (re: RegExp) => {
    const i = runs.findIndex((r) => re.test(r));
    assert.ok(i >= 0, `no step matches ${re}`);
    return i;
  };
  const build = at(/nix build 'git\+file:\.\?dir=nix#eif'/);
  const rebuild = at(/nix build .*--rebuild/);
  const sign = at(/keycast release sign --keyless/);
  const publish = at(/keycast release publish --log "\$KEYCAST_LOG_URL" --log-key "\$KEYCAST_LOG_VKEY"/);
  const verify = at(
    /keycast verify release .*--certificate-identity "\$IDENTITY" --certificate-oidc-issuer "\$ISSUER"/s,
  );
  assert.ok(build < rebuild && rebuild < sign && sign < publish && publish < verify, 'steps out of order');
  assert.match(runs[sign]!, /--source "https:\/\/github\.com\/\$\{GITHUB_REPOSITORY\}@\$\{GITHUB_SHA\}"/);
  for (const flag of ['repository', 'ref', 'sha', 'trigger'])
    assert.match(runs[verify]!, new RegExp(`--certificate-github-workflow-${flag} `));
});
