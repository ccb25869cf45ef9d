/**
 * What the enclave image runs, computed, and held to one rule: nothing of it is a development tool
 * or the host. The image's one command is enclave/deploy/enclave/entrypoint.sh (image.json's
 * argv), which execs `/bin/keycast enclave run …`; /bin/keycast is bin/keycast.mjs (the launcher
 * in enclave/deploy/enclave/keycast) or cli/main.ts (nix/keycast.nix). keycast dispatches through
 * its command table (cli/groups.ts) and loads only the module the table names for that argv; that
 * module, with the launcher and cli/main.ts, is where the closure starts. From there every import
 * is followed — static, and dynamic import() too, since a branch that is not taken today still
 * ships — except the table's own import()s, which each run only for their own argv.
 *
 * Development only: enclave/dev/ (dev-kms and its KMS, the NSM simulator and its test PKI, the
 * projector PKIs of `dev certs`); the host: enclave/host/; the operator's key-policy tools:
 * enclave/kms-policy/; and enclave/'s entries (index.ts, cli.ts), which reach all of them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { findEntry, loaderFor, type Loader } from '../cli/index.ts'; // main.ts registers the table
import { REPO, chainTo, importClosure, resolveSpecifier, type Closure } from './import-graph.ts';

const image = JSON.parse(readFileSync(join(REPO, 'enclave/deploy/enclave/image.json'), 'utf8')) as {
  argv: string[];
  app: string;
};
const ENTRYPOINT = image.argv[1]!.slice(`${image.app}/`.length);
/** The dispatch tables: their import()s are resolved for the image's argv instead of followed. */
const TABLES = new Set(['cli/groups.ts', 'cli/groups-verifier.ts']);
/** Where the launcher and the Nix wrapper start keycast. */
const KEYCAST = ['bin/keycast.mjs', 'cli/main.ts'];

/** The image's keycast argv: the entrypoint's `exec /bin/keycast …` (image.json passes it no arguments). */
function imageArgv(): string[] {
  assert.equal(image.argv.length, 2, 'the image runs the entrypoint with no arguments of its own');
  const script = readFileSync(join(REPO, ENTRYPOINT), 'utf8');
  const exec = script.split('\n').filter((l) => /^exec \/bin\/keycast /.test(l));
  assert.equal(exec.length, 1, 'the entrypoint ends in one exec /bin/keycast');
  const words = exec[0]!.trim().split(/\s+/).slice(2);
  assert.equal(words.at(-1), '"$@"');
  return words.slice(0, -1);
}

/** The one module a table loader imports, as a repository path. */
function loadedModule(load: Loader): string {
  const literals = [...load.toString().matchAll(/import\(\s*["'`]([^"'`]+)["'`]\s*\)/g)].map((m) => m[1]!);
  assert.equal(literals.length, 1, `a table loader imports one module: ${load.toString()}`);
  return resolveSpecifier('cli/groups.ts', literals[0]!)!;
}

/** The closure keycast runs for argv: its start, the table's module for argv, and what they import. */
async function closureFor(argv: string[]): Promise<{ module: string; closure: Closure }> {
  const entry = findEntry(argv);
  assert.ok(entry, `keycast has a command for ${argv.join(' ')}`);
  const load = loaderFor(entry, argv);
  const module = loadedModule(load);
  // the literal is what the loader really loads: the very module namespace
  assert.equal(await load(), await import(pathToFileURL(join(REPO, module)).href));
  return { module, closure: importClosure([...KEYCAST, module], { dispatchTables: TABLES }) };
}

const DEV_OR_HOST = /^enclave\/(dev|host|kms-policy)\/|^enclave\/(index|cli)\.ts$/;

function offenders(c: Closure): string[] {
  return [...c.files.keys()].filter((f) => DEV_OR_HOST.test(f)).map((f) => chainTo(c, f).join(' → '));
}

test("the enclave image's closure is the runtime and the common room: no dev tool, no host", async (t) => {
  const argv = imageArgv();
  assert.deepEqual(argv.slice(0, 4), ['enclave', 'run', '--nsm', 'device']);
  const { module, closure } = await closureFor(argv);
  assert.equal(module, 'enclave/runtime/cli.ts');
  assert.deepEqual(closure.missing, [], 'every import of the closure names a file');
  // the scan sees what runs: the boot, the gate, the identity, forwarding, the device and KMS
  for (const f of [
    'enclave/runtime/run.ts',
    'enclave/runtime/boot.ts',
    'enclave/runtime/gatekeeper.ts',
    'enclave/runtime/identity/keeper.ts',
    'enclave/runtime/forward/engine.ts',
    'enclave/runtime/nsm/device.ts',
    'enclave/runtime/kms/aws.ts',
    'enclave/common/errors.ts',
    'verifier/index.ts',
  ])
    assert.ok(closure.files.has(f), `${f} is in the closure`);
  assert.ok(closure.external.has('pkg:koffi') && closure.external.has('pkg:@aws-sdk/client-kms'));
  assert.deepEqual(offenders(closure), [], 'the image reaches a development tool or the host');
  const enclave = [...closure.files.keys()].filter((f) => f.startsWith('enclave/'));
  assert.deepEqual(
    enclave.filter((f) => !/^enclave\/(runtime|common)\//.test(f)),
    [],
    'every enclave/ file the image runs is the runtime or the common room',
  );
  // nor another product: the log, the builder, the tests
  assert.deepEqual(
    [...closure.files.keys()].filter((f) => /^(log-server|builder|test|bench|scripts)\//.test(f)),
    [],
  );
  const by = new Map<string, number>();
  for (const f of closure.files.keys())
    by.set(f.split('/').slice(0, 2).join('/'), (by.get(f.split('/').slice(0, 2).join('/')) ?? 0) + 1);
  t.diagnostic(`closure: ${closure.files.size} files (${[...by].map(([k, n]) => `${k} ${n}`).join(', ')})`);
});

test('the same scan sees the dev tools when argv asks for them: --nsm sim loads the simulator', async () => {
  const argv = [...imageArgv(), '--nsm', 'sim', '--pki', 'pki.json', '--pcrs', 'pcrs.json'];
  const { module, closure } = await closureFor(argv);
  assert.equal(module, 'enclave/dev/cli.ts');
  const found = offenders(closure).map((o) => o.split(' → ').at(-1));
  for (const f of ['enclave/dev/nsm/simulator.ts', 'enclave/dev/nsm/test-pki.ts', 'enclave/dev/dev-kms/serve.ts'])
    assert.ok(found.includes(f), `${f} is reached`);
  // `--nsm=sim` too; `--nsm device` (or none) is the runtime's
  assert.equal((await closureFor(['enclave', 'run', '--nsm=sim'])).module, 'enclave/dev/cli.ts');
  assert.equal((await closureFor(['enclave', 'run', '--listen', '127.0.0.1:1'])).module, 'enclave/runtime/cli.ts');
});

test('a dynamic import is followed like a static one, except in a dispatch table', () => {
  const dynamicImport = (p: string) => `import('${p}')`; // written so the architecture scan skips it
  const files: Record<string, string> = {
    'cli/main.ts': "import './groups.ts';",
    'cli/groups.ts': "group(['x'], () => import('../enclave/dev/cli.ts'));",
    'enclave/runtime/cli.ts': "import { run } from './run.ts';",
    'enclave/runtime/run.ts': `const sim = () => ${dynamicImport('../dev/nsm/simulator.ts')};`,
    'enclave/dev/cli.ts': '',
    'enclave/dev/nsm/simulator.ts': "export * from '../../host/run.ts';",
    'enclave/host/run.ts': '',
  };
  const c = importClosure(['cli/main.ts', 'enclave/runtime/cli.ts'], {
    read: (p) => files[p]!,
    exists: (p) => p in files,
    dispatchTables: new Set(['cli/groups.ts']),
  });
  assert.deepEqual(offenders(c), [
    'enclave/runtime/cli.ts → enclave/runtime/run.ts → enclave/dev/nsm/simulator.ts',
    'enclave/runtime/cli.ts → enclave/runtime/run.ts → enclave/dev/nsm/simulator.ts → enclave/host/run.ts',
  ]);
  assert.ok(!c.files.has('enclave/dev/cli.ts'), "the table's import() is not followed");
});
