/**
 * `keycast build`: pinned inputs → a deterministic EIF. Nothing from the host
 * reaches the image: no clock (build time is the epoch), no owner/mtime/umask/order (the
 * rootfs is normalised, rootfs/tree.ts), no locale/TZ/cwd (paths resolve against the lock's
 * directory; names sort bytewise). Inputs are checked against the lock before use; the rootfs
 * is checked while it streams and the image is deleted if its digest disagrees.
 * Output: <out>/enclave.eif, <out>/measurements.json, and <out>/builder.lock.json (the lock
 * actually used, with every digest filled in).
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createHash, sign as cryptoSign } from 'node:crypto';
import { join } from 'node:path';
import { isVerifierError, parseEnclaveConfig } from '#verifier';
import { ENCLAVE_CONFIG_PATH, compareUtf8, FIXED_BUILD_TIME, encodeMetadata, type EifSigning } from '#verifier/build';
import { BuilderError } from './errors.ts';
import { checkDigest, fileSha256, kernelIdentity, resolveInput } from './inputs.ts';
import { formatLock, type BuildLock } from './lock.ts';
import { streamCpio } from './cpio-stream.ts';
import { bootstrapMembers, customerMembers } from './ramdisk.ts';
import { loadRootfs } from './rootfs/load.ts';
import type { RootfsEntry } from './rootfs/tree.ts';
import { treeDigest } from './tree-digest.ts';
import { MemorySink } from './sink.ts';
import { writeEifStreaming } from './eif-stream.ts';

export const BUILD_TOOL = 'keycast';
export const BUILD_TOOL_VERSION = '0.1.0';

export interface BuildOptions {
  lock: BuildLock;
  /** Directory relative input paths resolve against (the lock file's directory). */
  lockDir: string;
  outDir: string;
  /** false: digests in `lock` are ignored and filled in (first build, no lock yet). */
  verify: boolean;
  signing?: { certificatePath: string; keyPath: string };
  progress?: (message: string) => void;
}

export interface BuildResult {
  eifPath: string;
  sha256: string;
  size: number;
  pcr0: string;
  pcr1: string;
  pcr2: string;
  pcr8?: string;
  lock: BuildLock;
  lockSha256: string;
}

async function pin(
  name: string,
  o: BuildOptions,
  f: { path: string; sha256: string },
): Promise<{ path: string; size: number; sha256: string }> {
  const path = resolveInput(o.lockDir, f.path);
  const d = await fileSha256(path);
  if (o.verify) checkDigest(name, f.path, f.sha256, d.sha256);
  return { path, size: d.size, sha256: d.sha256 };
}

async function signingFor(o: BuildOptions): Promise<EifSigning | undefined> {
  if (!o.signing) return undefined;
  const [certificatePem, keyPem] = await Promise.all([
    readFile(o.signing.certificatePath, 'utf8'),
    readFile(o.signing.keyPath, 'utf8'),
  ]).catch((e) => {
    throw new BuilderError(
      'SIGNING_INPUT_INVALID',
      'cannot read the signing certificate or key',
      { certificate: o.signing!.certificatePath },
      { cause: e },
    );
  });
  return {
    certificatePem,
    sign: (tbs, hash) => new Uint8Array(cryptoSign(hash, tbs, { key: keyPem, dsaEncoding: 'ieee-p1363' })),
  };
}

export async function build(o: BuildOptions): Promise<BuildResult> {
  const say = o.progress ?? (() => {});
  const l = o.lock;
  const kernel = await pin('kernel', o, l.inputs.kernel);
  const init = await pin('init', o, l.inputs.init);
  const nsm = l.inputs.nsm ? await pin('nsm', o, l.inputs.nsm) : undefined;
  const config = l.inputs.kernelConfig ? await pin('kernelConfig', o, l.inputs.kernelConfig) : undefined;
  const ident = config ? kernelIdentity(await readFile(config.path, 'utf8')) : { os: 'OS', kernel: 'kernel' };
  await mkdir(o.outDir, { recursive: true });
  const enclaveConfig = l.inputs.enclaveConfig ? await pinEnclaveConfig(o, l.inputs.enclaveConfig) : undefined;
  const rootfs = await loadRootfs(resolveInput(o.lockDir, l.inputs.rootfs.path), l.inputs.rootfs.type, o.outDir, say);
  try {
    const tree = enclaveConfig ? withEnclaveConfig(rootfs.tree, enclaveConfig) : rootfs.tree;
    say(`rootfs: ${rootfs.tree.length} entries`);
    const boot = new MemorySink();
    await streamCpio(
      boot,
      bootstrapMembers({ init: init.path, initSize: init.size, ...(nsm ? { nsm: nsm.path, nsmSize: nsm.size } : {}) }),
      l.format,
    );
    const metadata = encodeMetadata({
      ImageName: l.image.name,
      ImageVersion: l.image.version,
      BuildMetadata: {
        BuildTime: FIXED_BUILD_TIME,
        BuildTool: BUILD_TOOL,
        BuildToolVersion: BUILD_TOOL_VERSION,
        OperatingSystem: ident.os,
        KernelVersion: ident.kernel,
      },
      DockerInfo: null,
      CustomMetadata: l.customMetadata ?? null,
    });
    const eifPath = join(o.outDir, 'enclave.eif');
    let last = 0;
    const signing = await signingFor(o);
    const res = await writeEifStreaming(eifPath, {
      arch: l.arch,
      kernelPath: kernel.path,
      kernelSize: kernel.size,
      cmdline: new Uint8Array(Buffer.from(l.cmdline, 'utf8')),
      metadata,
      ramdisk0: boot.bytes(),
      writeRamdisk1: async (sink) => {
        await streamCpio(sink, customerMembers(tree, l.argv, l.env, l.format), l.format, (n) => {
          if (n - last >= 64 << 20) {
            last = n;
            say(`customer ramdisk: ${Math.round(n / (1 << 20))} MiB`);
          }
        });
      },
      ...(signing ? { signing } : {}),
    });
    const digests = res.files; // each file's SHA-256 as archived, by archive name
    const rootfsSha = rootfs.digest ?? treeDigest(rootfs.tree, (e) => groupDigest(e, rootfs.tree, digests));
    if (o.verify && rootfsSha !== l.inputs.rootfs.sha256) {
      await rm(eifPath, { force: true });
      checkDigest('rootfs', l.inputs.rootfs.path, l.inputs.rootfs.sha256, rootfsSha);
    }
    if (enclaveConfig && digests.get(`rootfs/${ENCLAVE_CONFIG_PATH}`) !== enclaveConfig.sha256) {
      await rm(eifPath, { force: true });
      checkDigest(
        'enclaveConfig',
        l.inputs.enclaveConfig!.path,
        enclaveConfig.sha256,
        digests.get(`rootfs/${ENCLAVE_CONFIG_PATH}`) ?? 'changed while building',
      );
    }
    const used: BuildLock = {
      ...l,
      inputs: {
        ...l.inputs,
        kernel: { ...l.inputs.kernel, sha256: kernel.sha256 },
        init: { ...l.inputs.init, sha256: init.sha256 },
        rootfs: { ...l.inputs.rootfs, sha256: rootfsSha },
      },
    };
    if (nsm && l.inputs.nsm) used.inputs.nsm = { ...l.inputs.nsm, sha256: nsm.sha256 };
    if (enclaveConfig && l.inputs.enclaveConfig)
      used.inputs.enclaveConfig = { ...l.inputs.enclaveConfig, sha256: enclaveConfig.sha256 };
    if (config && l.inputs.kernelConfig) used.inputs.kernelConfig = { ...l.inputs.kernelConfig, sha256: config.sha256 };
    const lockText = formatLock(used);
    const result: BuildResult = {
      eifPath,
      sha256: res.sha256,
      size: res.length,
      ...res.pcrs,
      lock: used,
      lockSha256: createHash('sha256').update(lockText).digest('hex'),
    };
    await writeFile(join(o.outDir, 'builder.lock.json'), lockText);
    await writeFile(join(o.outDir, 'measurements.json'), JSON.stringify(measurementsJson(result, l), null, 2) + '\n');
    return result;
  } finally {
    await rootfs.cleanup();
  }
}

/** The enclave's pinned configuration: pinned like any input and refused unless it parses. */
async function pinEnclaveConfig(
  o: BuildOptions,
  f: { path: string; sha256: string },
): Promise<{ path: string; size: number; sha256: string }> {
  const p = await pin('enclaveConfig', o, f);
  try {
    parseEnclaveConfig(await readFile(p.path));
  } catch (e) {
    if (!isVerifierError(e)) throw e;
    throw new BuilderError(
      'INPUT_UNREADABLE',
      `the enclave config ${f.path} is not a valid Keycast enclave config: ${e.message}`,
      { input: 'enclaveConfig', path: f.path, code: e.code },
    );
  }
  return p;
}

/**
 * The rootfs tree with the enclave config at ENCLAVE_CONFIG_PATH (and its parent directories
 * when missing), in byte order. A rootfs that already has a file there is refused: the image
 * must hold exactly the pinned config.
 */
function withEnclaveConfig(tree: readonly RootfsEntry[], f: { path: string; size: number }): RootfsEntry[] {
  if (tree.some((e) => e.name === ENCLAVE_CONFIG_PATH)) {
    throw new BuilderError(
      'ROOTFS_MALFORMED',
      `the rootfs already has ${ENCLAVE_CONFIG_PATH}; pass the config with --enclave-config only`,
      { path: ENCLAVE_CONFIG_PATH },
    );
  }
  const parts = ENCLAVE_CONFIG_PATH.split('/');
  const out = [...tree];
  for (let i = 1; i < parts.length; i++) {
    const dir = parts.slice(0, i).join('/');
    const have = out.find((e) => e.name === dir);
    if (have && have.type !== 'dir')
      throw new BuilderError(
        'ROOTFS_MALFORMED',
        `the rootfs has ${dir} as a ${have.type}, where the enclave config needs a directory`,
        { path: dir },
      );
    if (!have) out.push({ name: dir, type: 'dir', perm: 0o755, size: 0 });
  }
  out.push({ name: ENCLAVE_CONFIG_PATH, type: 'file', perm: 0o644, size: f.size, source: f.path });
  return out.sort((a, b) => compareUtf8(a.name, b.name));
}

function groupDigest(
  e: { name: string; linkGroup?: string },
  tree: readonly { name: string; linkGroup?: string }[],
  d: Map<string, string>,
): string | undefined {
  const own = d.get(`rootfs/${e.name}`);
  if (own || !e.linkGroup) return own;
  for (const o of tree) if (o.linkGroup === e.linkGroup && d.has(`rootfs/${o.name}`)) return d.get(`rootfs/${o.name}`);
  return undefined;
}

export function measurementsJson(r: BuildResult, l: BuildLock): Record<string, unknown> {
  const m: Record<string, string> = { pcr0: r.pcr0, pcr1: r.pcr1, pcr2: r.pcr2 };
  if (r.pcr8) m.pcr8 = r.pcr8;
  return {
    eif: 'enclave.eif',
    sha256: r.sha256,
    size: r.size,
    arch: l.arch,
    format: l.format,
    measurements: m,
    lockSha256: r.lockSha256,
  };
}
