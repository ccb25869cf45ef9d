/**
 * Shared helpers for the EIF/cpio tests: the synthetic vectors in testdata/nitro/eif
 * and the cpio archives rebuilt from their inputs with the verifier's own writer.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  DIALECTS,
  encodeNewcHeader,
  finalPadding,
  pad4,
  planArchive,
  readCpio,
  trailerHeader,
  type CpioDialect,
  type CpioMember,
} from '../build.ts';

export const EIF_DIR = resolve(import.meta.dirname, '../../testdata/nitro/eif');
export const vec = (name: string): Uint8Array => new Uint8Array(readFileSync(resolve(EIF_DIR, name)));
export const sidecar = (name: string): Record<string, any> => JSON.parse(readFileSync(resolve(EIF_DIR, name), 'utf8'));

/** Writes a whole archive in memory from members and their contents. */
export function writeCpio(members: CpioMember[], content: Map<string, Uint8Array>, d: CpioDialect): Uint8Array {
  const { planned, nextIno } = planArchive(members, d);
  const parts: Uint8Array[] = [];
  for (const p of planned) {
    parts.push(encodeNewcHeader(p.header, DIALECTS[d].upper));
    const b = p.data === 'source' ? content.get(p.member.name)! : p.data === 'none' ? new Uint8Array(0) : p.data;
    parts.push(b, new Uint8Array(pad4(b.length)));
  }
  parts.push(trailerHeader(d, nextIno));
  const n = parts.reduce((a, b) => a + b.length, 0);
  parts.push(new Uint8Array(finalPadding(n)));
  return new Uint8Array(Buffer.concat(parts));
}

/** ramdisk0.linuxkit.cpio from init.fake and nsm.ko.fake (nitro-cli's bootstrap YAML). */
export function bootstrapFromInputs(): Uint8Array {
  const init = vec('init.fake');
  const nsm = vec('nsm.ko.fake');
  return writeCpio(
    [
      { name: 'dev', type: 'dir', perm: 0o755, size: 0 },
      { name: 'init', type: 'file', perm: 0o755, size: init.length },
      { name: 'nsm.ko', type: 'file', perm: 0o755, size: nsm.length },
    ],
    new Map([
      ['init', init],
      ['nsm.ko', nsm],
    ]),
    'linuxkit',
  );
}

/** ramdisk1.gnu.cpio from its inputs: cmd/env from the sidecar, hello.sh's bytes, the nitro-cli dirs. */
export function customerFromInputs(): Uint8Array {
  const s = sidecar('ramdisk1.gnu.cpio.json');
  const cmd = new Uint8Array(Buffer.from(s.cmd_file_bytes));
  const env = new Uint8Array(Buffer.from(String(s.env_file_bytes).split(' (the cmd/env')[0]!));
  // hello.sh's 54 bytes are only published inside the archive itself.
  const hello = readCpio(vec('ramdisk1.gnu.cpio')).entries.find((e) => e.name === 'rootfs/bin/hello.sh')!.data;
  const dir = (name: string): CpioMember => ({ name, type: 'dir', perm: 0o755, size: 0 });
  return writeCpio(
    [
      { name: 'cmd', type: 'file', perm: 0o644, size: cmd.length },
      { name: 'env', type: 'file', perm: 0o644, size: env.length },
      dir('rootfs'),
      dir('rootfs/bin'),
      { name: 'rootfs/bin/hello.sh', type: 'file', perm: 0o755, size: hello.length },
      dir('rootfs/dev'),
      dir('rootfs/proc'),
      dir('rootfs/run'),
      dir('rootfs/sys'),
      dir('rootfs/tmp'),
      dir('rootfs/var'),
    ],
    new Map([
      ['cmd', cmd],
      ['env', env],
      ['rootfs/bin/hello.sh', hello],
    ]),
    'canonical',
  );
}
