/**
 * The static command table against the modules it stands for, and the help/version answers
 * that read only the table: `keycast --help` loads no command module, group help lists the
 * group, `help CMD` shows a command's help, `--version` prints package.json's version.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { LOADERS, TABLE } from '../registry.ts';
import { main } from '../main.ts';
import '../groups.ts';

async function capture(fn: () => Promise<number>): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = console.log;
  const error = console.error;
  console.log = (...a: unknown[]) => void out.push(a.join(' '));
  console.error = (...a: unknown[]) => void err.push(a.join(' '));
  try {
    return { code: await fn(), out: out.join('\n'), err: err.join('\n') };
  } finally {
    console.log = log;
    console.error = error;
  }
}

test('--help, group help and --version read the table alone: no command module is loaded', async () => {
  const loaded: string[] = [];
  const saved = TABLE.map((e) => e.load);
  const savedLoaders = { ...LOADERS };
  TABLE.forEach(
    (e) =>
      (e.load = async () => {
        loaded.push(e.path.join(' '));
        throw new Error('loaded');
      }),
  );
  for (const w of Object.keys(LOADERS))
    LOADERS[w] = async () => {
      loaded.push(w);
      throw new Error('loaded');
    };
  try {
    const all = await capture(() => main(['--help']));
    assert.equal(all.code, 0);
    for (const e of TABLE)
      assert.ok(all.out.includes(`keycast ${e.path.join(' ')} `), `--help lists ${e.path.join(' ')}`);
    const verify = await capture(() => main(['verify', '--help']));
    assert.equal(verify.code, 0);
    assert.match(verify.out, /keycast verify attestation/);
    assert.match(verify.out, /keycast verify release/);
    assert.doesNotMatch(verify.out, /keycast build/);
    const release = await capture(() => main(['help', 'release']));
    assert.equal(release.code, 0);
    assert.match(release.out, /keycast release sign/);
    const bare = await capture(() => main(['verify']));
    assert.equal(bare.code, 2, 'a group without a command is a usage error');
    assert.match(bare.err, /needs a command[\s\S]*verify attestation/);
    const typo = await capture(() => main(['verify', 'atestation']));
    assert.equal(typo.code, 2);
    assert.match(typo.err, /unknown command 'keycast verify atestation'/);
    const version = await capture(() => main(['--version']));
    assert.equal(
      version.out,
      `keycast ${JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version}`,
    );
    assert.deepEqual(loaded, []);
  } finally {
    TABLE.forEach((e, i) => (e.load = saved[i]!));
    Object.assign(LOADERS, savedLoaders);
  }
});

test('the table and the modules agree: every command is listed once with its own summary', async () => {
  const modules = new Set([...TABLE.map((e) => e.load), ...Object.values(LOADERS)]);
  const defined = new Map<string, string>();
  for (const load of modules) for (const c of (await load()).commands) defined.set(c.path.join(' '), c.summary);
  const listed = new Map(TABLE.map((e) => [e.path.join(' '), e.summary]));
  assert.equal(listed.size, TABLE.length, 'no command is listed twice');
  assert.deepEqual([...listed].sort(), [...defined].sort());
  for (const e of TABLE) {
    const here = (await e.load()).commands.map((c) => c.path.join(' '));
    assert.ok(here.includes(e.path.join(' ')), `${e.path.join(' ')} is defined by the module its entry loads`);
  }
});

test('help CMD shows the command help; an unknown command is a usage error', async () => {
  const h = await capture(() => main(['help', 'verify', 'attestation']));
  assert.equal(h.code, 0);
  assert.match(h.out, /--any-pcr/);
  const same = await capture(() => main(['verify', 'attestation', '--help']));
  assert.equal(same.out, h.out);
  const none = await capture(() => main(['help', 'frobnicate']));
  assert.equal(none.code, 2);
});
