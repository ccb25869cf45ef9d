/**
 * builder.lock.json, version 1 — the pinned inputs of an enclave image (documented in
 * builder/README.md). Every file input carries its SHA-256; paths are relative to the lock
 * file's directory (absolute paths are allowed but make the lock machine-specific).
 *
 *   { "version": 1, "arch": "x86_64"|"aarch64", "format": "linuxkit"|"canonical",
 *     "inputs": { "kernel": {path, sha256}, "kernelConfig"?: {path, sha256},
 *                 "init": {path, sha256}, "nsm"?: {path, sha256},
 *                 "rootfs": {path, sha256, "type": "dir"|"docker-save"|"oci"} },
 *     "cmdline": "…", "argv": ["/bin/app", …], "env": ["K=V", …],
 *     "image": { "name": "…", "version": "…" }, "customMetadata"?: {…} }
 *
 * The rootfs digest of a directory is the tree digest (tree-digest.ts); of a docker-save
 * tarball, the file's SHA-256; of an OCI layout directory, the tree digest as well.
 * Parsing is strict: unknown keys, wrong types, lines with "\n" in argv/env → LOCK_MALFORMED.
 */
import { BuilderError } from './errors.ts';

export type RootfsType = 'dir' | 'docker-save' | 'oci';
export interface PinnedFile {
  path: string;
  sha256: string;
}
export interface PinnedRootfs extends PinnedFile {
  type: RootfsType;
}

export interface BuildLock {
  version: 1;
  arch: 'x86_64' | 'aarch64';
  format: 'linuxkit' | 'canonical';
  inputs: {
    kernel: PinnedFile;
    kernelConfig?: PinnedFile;
    init: PinnedFile;
    nsm?: PinnedFile;
    rootfs: PinnedRootfs;
    enclaveConfig?: PinnedFile;
  };
  cmdline: string;
  argv: string[];
  env: string[];
  image: { name: string; version: string };
  customMetadata?: Record<string, unknown>;
}

const SHA256_RE = /^[0-9a-f]{64}$/;

function bad(msg: string, field: string): never {
  throw new BuilderError('LOCK_MALFORMED', msg, { field });
}

function obj(v: unknown, field: string, keys: string[], optional: string[] = []): Record<string, unknown> {
  if (!v || typeof v !== 'object' || Array.isArray(v)) bad(`${field} must be an object`, field);
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o))
    if (!keys.includes(k) && !optional.includes(k)) bad(`unknown key ${field}.${k}`, `${field}.${k}`);
  for (const k of keys) if (!(k in o)) bad(`missing ${field}.${k}`, `${field}.${k}`);
  return o;
}

function str(v: unknown, field: string, re?: RegExp): string {
  if (typeof v !== 'string' || v.length === 0 || (re && !re.test(v)))
    bad(`${field} must be a ${re ? 'well-formed ' : 'non-empty '}string`, field);
  return v;
}

function lines(v: unknown, field: string, needEq: boolean): string[] {
  if (!Array.isArray(v)) bad(`${field} must be an array of strings`, field);
  return v.map((x, i) => {
    if (typeof x !== 'string' || x.includes('\n') || x.includes('\0'))
      bad(`${field}[${i}] must be a string without newline or NUL`, `${field}[${i}]`);
    if (needEq && !/^[^=]+=/.test(x)) bad(`${field}[${i}] must be KEY=VALUE`, `${field}[${i}]`);
    return x;
  });
}

function pinned(v: unknown, field: string): PinnedFile {
  const o = obj(v, field, ['path', 'sha256']);
  return { path: str(o.path, `${field}.path`), sha256: str(o.sha256, `${field}.sha256`, SHA256_RE) };
}

export function parseLock(text: string): BuildLock {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new BuilderError('LOCK_MALFORMED', 'lock file is not JSON', {}, { cause: e });
  }
  const o = obj(
    v,
    'lock',
    ['version', 'arch', 'format', 'inputs', 'cmdline', 'argv', 'env', 'image'],
    ['customMetadata'],
  );
  if (o.version !== 1) bad('unsupported lock version (want 1)', 'version');
  if (o.arch !== 'x86_64' && o.arch !== 'aarch64') bad('arch must be x86_64 or aarch64', 'arch');
  if (o.format !== 'linuxkit' && o.format !== 'canonical') bad('format must be linuxkit or canonical', 'format');
  const i = obj(o.inputs, 'inputs', ['kernel', 'init', 'rootfs'], ['kernelConfig', 'nsm', 'enclaveConfig']);
  const r = obj(i.rootfs, 'inputs.rootfs', ['path', 'sha256', 'type']);
  if (r.type !== 'dir' && r.type !== 'docker-save' && r.type !== 'oci')
    bad('inputs.rootfs.type must be dir, docker-save or oci', 'inputs.rootfs.type');
  const img = obj(o.image, 'image', ['name', 'version']);
  if (typeof o.cmdline !== 'string' || o.cmdline.includes('\0')) bad('cmdline must be a string', 'cmdline');
  if (
    o.customMetadata !== undefined &&
    (typeof o.customMetadata !== 'object' || o.customMetadata === null || Array.isArray(o.customMetadata))
  )
    bad('customMetadata must be an object', 'customMetadata');
  const lock: BuildLock = {
    version: 1,
    arch: o.arch,
    format: o.format,
    inputs: {
      kernel: pinned(i.kernel, 'inputs.kernel'),
      init: pinned(i.init, 'inputs.init'),
      rootfs: { ...pinned({ path: r.path, sha256: r.sha256 }, 'inputs.rootfs'), type: r.type },
    },
    cmdline: o.cmdline,
    argv: lines(o.argv, 'argv', false),
    env: lines(o.env, 'env', true),
    image: { name: str(img.name, 'image.name'), version: str(img.version, 'image.version') },
  };
  if (i.kernelConfig !== undefined) lock.inputs.kernelConfig = pinned(i.kernelConfig, 'inputs.kernelConfig');
  if (i.nsm !== undefined) lock.inputs.nsm = pinned(i.nsm, 'inputs.nsm');
  if (i.enclaveConfig !== undefined) lock.inputs.enclaveConfig = pinned(i.enclaveConfig, 'inputs.enclaveConfig');
  if (o.customMetadata !== undefined) lock.customMetadata = o.customMetadata as Record<string, unknown>;
  return lock;
}

/** Stable JSON of a lock (2-space indent, fixed key order), newline-terminated. */
export function formatLock(l: BuildLock): string {
  return JSON.stringify(l, null, 2) + '\n';
}
