/**
 * The one flag kit (verifier/kit/flags.ts, `#flag-kit`): the behaviours the four copies it replaced
 * had, each pinned, so that one kit keeps every command's flags as they were.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  IoError,
  UsageError,
  checkUrl,
  listFlag,
  oneStdin,
  parseFlags,
  positiveInt,
  requireFlag,
  requireOutParent,
  stringFlag,
  urlOption,
} from '../kit/flags.ts';

const usage = (re: RegExp) => (e: unknown) => e instanceof UsageError && e.code === 'USAGE' && re.test(e.message);

test('parseFlags is strict, always takes --json, and counts positionals three ways', () => {
  const opts = { out: { type: 'string' as const } };
  assert.deepEqual({ ...parseFlags(['--out', 'x', '--json'], opts).values }, { out: 'x', json: true });
  assert.throws(() => parseFlags(['--nope'], opts), usage(/Unknown option '--nope'/));
  // at most N (the default is none)
  assert.throws(() => parseFlags(['a'], opts), usage(/Unexpected argument 'a'|unexpected argument a/));
  assert.deepEqual(parseFlags(['a'], opts, 2).positionals, ['a']);
  assert.throws(() => parseFlags(['a', 'b', 'c'], opts, 2), usage(/^unexpected argument c$/));
  // exactly N (the studio tools' rule)
  assert.throws(() => parseFlags([], opts, { exactly: 1 }), usage(/^expected 1 argument\(s\), got 0$/));
  assert.throws(() => parseFlags(['a'], opts, { exactly: 0 }), usage(/^expected 0 argument\(s\), got 1$/));
  // any number: the command counts them itself
  assert.deepEqual(parseFlags(['a', 'b', 'c'], opts, { any: true }).positionals, ['a', 'b', 'c']);
});

test('URL flags are checked at parse time, named as the user spelled them', () => {
  const opts = { log: urlOption(), witness: urlOption(true) };
  assert.equal(parseFlags(['--log', 'https://l.example'], opts).values.log, 'https://l.example');
  assert.throws(() => parseFlags(['--log', 'l.example'], opts), usage(/^--log "l.example" is not an http/));
  assert.throws(
    () => parseFlags(['--witness', 'http://w', '--witness', 'file:///x'], opts),
    usage(/^--witness "file:\/\/\/x"/),
  );
  assert.throws(() => checkUrl('ftp://h', 'HOST_URL'), usage(/^HOST_URL "ftp:\/\/h"/));
  assert.throws(() => checkUrl('x', '-o'), usage(/^-o "x"/));
  assert.equal(checkUrl('http://h:1/p', 'log').port, '1');
});

test('flag readers: required, optional, repeatable, positive integers, one stdin', () => {
  assert.equal(requireFlag({ key: 'k' }, 'key'), 'k');
  assert.throws(() => requireFlag({ key: '' }, 'key'), usage(/^--key is required$/));
  assert.throws(() => requireFlag({}, 'key'), usage(/^--key is required$/));
  assert.equal(stringFlag({ a: true }, 'a'), undefined);
  assert.deepEqual(listFlag({ w: ['x', 'y'] }, 'w'), ['x', 'y']);
  assert.deepEqual(listFlag({}, 'w'), []);
  assert.equal(positiveInt(undefined, 'n', 7), 7);
  assert.equal(positiveInt('12', 'n', 7), 12);
  for (const bad of ['0', '-1', '01', '1.5', '12345678901', true])
    assert.throws(() => positiveInt(bad, 'n', 7), usage(/^--n must be a positive integer$/), String(bad));
  oneStdin('-', 'a', ['b']);
  assert.throws(() => oneStdin('-', ['x', '-']), usage(/^only one input can be - \(stdin\); 2 were given$/));
});

test('an --out into a missing directory is one coded I/O error naming the directory', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kit-'));
  try {
    requireOutParent(join(dir, 'new-file'));
    assert.throws(
      () => requireOutParent(join(dir, 'missing', 'file')),
      (e: unknown) =>
        e instanceof IoError &&
        e.code === 'ENOENT' &&
        (e.evidence as { directory?: string }).directory === join(dir, 'missing') &&
        /does not exist \(create it first\)/.test(e.message),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
