/**
 * The bodies of `keycast build | describe-eif | diff-eif` (builder/cli.ts holds the flags
 * and help). Progress goes to stderr; results to stdout (JSON with --json).
 */
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, relative, resolve } from 'node:path';
import { EifScanner, crcError, describeScan } from '#verifier/build';
import { build } from './build.ts';
import { diffEif, formatDiff } from './diff.ts';
import { BuilderError } from './errors.ts';
import { parseLock, type BuildLock, type RootfsType } from './lock.ts';
import { requireOutParent } from '#flag-kit';

type Usage = (m: string) => Error;

function opt(v: Record<string, unknown>, k: string): string | undefined {
  return typeof v[k] === 'string' ? (v[k] as string) : undefined;
}

async function cmdlineOf(v: Record<string, unknown>): Promise<string | undefined> {
  const file = opt(v, 'cmdline-file');
  if (file) return (await readFile(file, 'utf8')).trim();
  return opt(v, 'cmdline');
}

/** A lock from flags alone (first build): paths relative to the output dir, digests unknown. */
async function lockFromFlags(v: Record<string, unknown>, outDir: string, usage: Usage): Promise<BuildLock> {
  const need = (k: string) =>
    opt(v, k) ??
    (() => {
      throw usage(`--${k} is required without --lock`);
    })();
  const rel = (p: string) => relative(outDir, resolve(p)) || '.';
  const cmdline = await cmdlineOf(v);
  if (cmdline === undefined) throw usage('--cmdline or --cmdline-file is required without --lock');
  const arch = opt(v, 'arch') ?? 'x86_64';
  const format = opt(v, 'format') ?? 'linuxkit';
  const type = (opt(v, 'rootfs-type') ?? 'dir') as RootfsType;
  const none = '0'.repeat(64);
  const lock = {
    version: 1,
    arch,
    format,
    inputs: {
      kernel: { path: rel(need('kernel')), sha256: none },
      ...(opt(v, 'kernel-config') ? { kernelConfig: { path: rel(opt(v, 'kernel-config')!), sha256: none } } : {}),
      init: { path: rel(need('init')), sha256: none },
      ...(opt(v, 'nsm') ? { nsm: { path: rel(opt(v, 'nsm')!), sha256: none } } : {}),
      rootfs: { path: rel(need('rootfs')), sha256: none, type },
      ...(opt(v, 'enclave-config') ? { enclaveConfig: { path: rel(opt(v, 'enclave-config')!), sha256: none } } : {}),
    },
    cmdline,
    argv: (v.arg as string[] | undefined) ?? [],
    env: (v.env as string[] | undefined) ?? [],
    image: { name: opt(v, 'name') ?? 'enclave', version: opt(v, 'version') ?? '1.0' },
  };
  return parseLock(JSON.stringify(lock));
}

/** --lock plus path overrides from flags (digests still checked). */
async function lockWithOverrides(
  v: Record<string, unknown>,
  usage: Usage,
): Promise<{ lock: BuildLock; lockDir: string }> {
  const path = opt(v, 'lock')!;
  const text = await readFile(path, 'utf8').catch((e) => {
    throw new BuilderError('LOCK_MISSING', `cannot read lock ${path}`, { path }, { cause: e });
  });
  const lock = parseLock(text);
  const i = lock.inputs;
  const over = (k: string) => (opt(v, k) ? resolve(opt(v, k)!) : undefined);
  if (over('kernel')) i.kernel.path = over('kernel')!;
  if (over('init')) i.init.path = over('init')!;
  if (over('rootfs')) i.rootfs.path = over('rootfs')!;
  if (over('nsm')) {
    if (!i.nsm) throw usage('--nsm overrides a path, but the lock pins no nsm');
    i.nsm.path = over('nsm')!;
  }
  if (over('enclave-config')) {
    if (!i.enclaveConfig) throw usage('--enclave-config overrides a path, but the lock pins no enclaveConfig');
    i.enclaveConfig.path = over('enclave-config')!;
  }
  if (over('kernel-config')) {
    if (!i.kernelConfig) throw usage('the lock pins no kernelConfig');
    i.kernelConfig.path = over('kernel-config')!;
  }
  for (const k of ['cmdline', 'cmdline-file', 'arg', 'env', 'arch', 'format', 'name', 'version', 'rootfs-type']) {
    if (v[k] !== undefined) throw usage(`--${k} cannot change a locked build; edit the lock instead`);
  }
  return { lock, lockDir: dirname(resolve(path)) };
}

export async function runBuild(v: Record<string, unknown>, usage: Usage): Promise<number> {
  const out = opt(v, 'out');
  if (!out) throw usage('--out DIR is required');
  const outDir = resolve(out);
  requireOutParent(outDir);
  const cert = opt(v, 'signing-certificate');
  const key = opt(v, 'signing-key');
  if (!!cert !== !!key) throw usage('--signing-certificate and --signing-key go together');
  const { lock, lockDir } = opt(v, 'lock')
    ? await lockWithOverrides(v, usage)
    : { lock: await lockFromFlags(v, outDir, usage), lockDir: outDir };
  const started = Date.now();
  const r = await build({
    lock,
    lockDir,
    outDir,
    verify: opt(v, 'lock') !== undefined,
    ...(cert && key ? { signing: { certificatePath: resolve(cert), keyPath: resolve(key) } } : {}),
    progress: (m) => process.stderr.write(`build: ${m}\n`),
  });
  process.stderr.write(`build: done in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  const m: Record<string, string> = { PCR0: r.pcr0, PCR1: r.pcr1, PCR2: r.pcr2, ...(r.pcr8 ? { PCR8: r.pcr8 } : {}) };
  if (v.json)
    console.log(
      JSON.stringify({ eif: r.eifPath, sha256: r.sha256, size: r.size, measurements: m, lockSha256: r.lockSha256 }),
    );
  else {
    console.log(`${r.eifPath}\nsha256 ${r.sha256}\nsize   ${r.size}`);
    for (const [k, x] of Object.entries(m)) console.log(`${k.padEnd(6)} ${x}`);
  }
  return 0;
}

export async function scanFile(path: string): Promise<ReturnType<EifScanner['finish']>> {
  const s = new EifScanner();
  const stream = path === '-' ? process.stdin : createReadStream(path, { highWaterMark: 1 << 20 });
  try {
    for await (const chunk of stream) s.push(chunk as Buffer);
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT' || (e as { code?: string }).code === 'EISDIR')
      throw new BuilderError('INPUT_MISSING', `cannot read ${path}`, { path }, { cause: e });
    throw e;
  }
  return s.finish();
}

export async function runDescribe(path: string, json: boolean): Promise<number> {
  const scan = await scanFile(path);
  const d = describeScan(scan);
  const view = json
    ? {
        ...d,
        Keycast: {
          sha256: scan.sha256,
          length: scan.length,
          sections: scan.sections.map(({ typeName, offset, size, sha384 }) => ({
            type: typeName,
            offset,
            size,
            sha384,
          })),
        },
      }
    : d;
  console.log(JSON.stringify(view, null, json ? 0 : 2)); // serde_json::to_string_pretty indents by 2
  if (!scan.crcOk) {
    process.stderr.write(`${crcError(scan).message}\n`);
    return 1;
  }
  return 0;
}

/** A file, or all of stdin for `-`. */
async function readFileOrStdin(path: string): Promise<Buffer> {
  if (path !== '-') return readFile(path);
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export async function runDiff(a: string, b: string, json: boolean): Promise<number> {
  const [x, y] = await Promise.all([readFileOrStdin(a), readFileOrStdin(b)]).catch((e) => {
    throw new BuilderError('INPUT_MISSING', 'cannot read an image to compare', { a, b }, { cause: e });
  });
  const d = diffEif(x, y);
  // through console.log like every other command's output (the in-process test runner captures it)
  console.log(json ? JSON.stringify(d) : formatDiff(d).replace(/\n$/, ''));
  return d.identical ? 0 : 1;
}
