/**
 * The two ramdisks nitro-cli puts in an EIF (byte-exact examples: testdata/nitro/eif/ramdisk*.cpio):
 *  - bootstrap (ramdisk0, PCR1): `dev/` (0755), `init` (0755), `nsm.ko` (0755, omitted when
 *    the kernel has NSM built in) — nitro-cli's bootstrap YAML, byte-identical in the
 *    linuxkit dialect.
 *  - customer (ramdisk1, PCR2): `rootfs/…` (the normalised tree), the directories init
 *    mounts on (`rootfs/{dev,run,sys,var,proc,tmp}`, 0755, added when missing), `cmd` and
 *    `env` (0644; one argv element / KEY=VALUE per line, each followed by "\n", as nitro-cli's
 *    docker.rs writes them; init strips the newline).
 * Member order: canonical sorts every path bytewise (GNU `sort -z` recipe); linuxkit emits
 * `rootfs`, the sorted tree, the missing init directories, then `cmd`, `env` (its YAML order).
 */
import type { CpioDialect } from '#verifier/build';
import type { SourcedMember } from './cpio-stream.ts';
import { compareUtf8 } from '#verifier/build';
import type { RootfsEntry } from './rootfs/tree.ts';

export const INIT_DIRS = ['dev', 'run', 'sys', 'var', 'proc', 'tmp'] as const;

export interface BootstrapInputs {
  init: string;
  initSize: number;
  nsm?: string;
  nsmSize?: number;
}

export function bootstrapMembers(b: BootstrapInputs): SourcedMember[] {
  const out: SourcedMember[] = [
    { name: 'dev', type: 'dir', perm: 0o755, size: 0 },
    { name: 'init', type: 'file', perm: 0o755, size: b.initSize, source: b.init },
  ];
  if (b.nsm !== undefined) out.push({ name: 'nsm.ko', type: 'file', perm: 0o755, size: b.nsmSize ?? 0, source: b.nsm });
  return out;
}

export function lineFile(items: readonly string[]): Uint8Array {
  return new Uint8Array(Buffer.from(items.map((x) => `${x}\n`).join(''), 'utf8'));
}

export function customerMembers(
  tree: readonly RootfsEntry[],
  argv: readonly string[],
  env: readonly string[],
  dialect: CpioDialect,
): SourcedMember[] {
  const rootfs: SourcedMember[] = tree.map((e) => {
    const m: SourcedMember = { name: `rootfs/${e.name}`, type: e.type, perm: e.perm, size: e.size };
    if (e.source !== undefined) m.source = e.source;
    if (e.target !== undefined) m.target = e.target;
    if (e.linkGroup !== undefined) m.linkGroup = e.linkGroup;
    if (e.rdev !== undefined) m.rdev = e.rdev;
    return m;
  });
  const present = new Set(tree.map((e) => e.name));
  const dirs: SourcedMember[] = INIT_DIRS.filter((d) => !present.has(d)).map((d) => ({
    name: `rootfs/${d}`,
    type: 'dir',
    perm: 0o755,
    size: 0,
  }));
  const cmd = lineFile(argv);
  const envf = lineFile(env);
  const files: SourcedMember[] = [
    { name: 'cmd', type: 'file', perm: 0o644, size: cmd.length, content: cmd },
    { name: 'env', type: 'file', perm: 0o644, size: envf.length, content: envf },
  ];
  const top: SourcedMember = { name: 'rootfs', type: 'dir', perm: 0o755, size: 0 };
  if (dialect === 'linuxkit') return [top, ...rootfs, ...dirs, ...files];
  return [top, ...rootfs, ...dirs, ...files].sort((a, b) => compareUtf8(a.name, b.name));
}
