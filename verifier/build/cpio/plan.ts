/**
 * Assigns newc header fields to an ordered member list according to a dialect (newc.ts).
 * The caller decides order and content; this decides inode numbers, nlink, dev, mtime,
 * ownership (always 0:0) and how hard links are spelled:
 *  - canonical: links of one group share an inode, nlink = group size, and only the LAST
 *    member carries the data (GNU cpio's newc convention; the kernel unpacker re-links and
 *    then writes the data into the shared file).
 *  - linuxkit: every link after the first becomes a relative symlink to the first, as
 *    linuxkit's initrd.go does with tar hard links.
 * Symlink data is the target path. Pure and deterministic: same list in, same headers out.
 */
import { posix } from 'node:path';
import { VerifierError } from '../../src/errors.ts';
import {
  DIALECTS,
  S_IFBLK,
  S_IFCHR,
  S_IFDIR,
  S_IFIFO,
  S_IFLNK,
  S_IFREG,
  type CpioDialect,
  type NewcHeader,
} from './newc.ts';

export type MemberType = 'dir' | 'file' | 'symlink' | 'char' | 'block' | 'fifo';

export interface CpioMember {
  /** Archive path, no leading "/" or "./", no "." or ".." components. */
  name: string;
  type: MemberType;
  /** Permission bits (0o7777 mask). */
  perm: number;
  /** Regular file size in bytes (0 for others). */
  size: number;
  /** Symlink target. */
  target?: string;
  /** Members with the same key are hard links of one file. */
  linkGroup?: string;
  rdev?: [number, number];
}

export interface PlannedMember {
  header: NewcHeader;
  /** 'source': stream the member's file (header.size bytes); bytes: write these; 'none': no data. */
  data: 'source' | 'none' | Uint8Array;
  member: CpioMember;
}

const TYPE_BITS: Record<MemberType, number> = {
  dir: S_IFDIR,
  file: S_IFREG,
  symlink: S_IFLNK,
  char: S_IFCHR,
  block: S_IFBLK,
  fifo: S_IFIFO,
};

function parentOf(name: string): string {
  const i = name.lastIndexOf('/');
  return i < 0 ? '' : name.slice(0, i);
}

/** Relative link target from `from`'s directory to `to` (valid before and after a chroot). */
function relativeTarget(from: string, to: string): string {
  return posix.relative(posix.dirname(from), to);
}

export function planArchive(
  members: readonly CpioMember[],
  dialect: CpioDialect,
): { planned: PlannedMember[]; nextIno: number } {
  const r = DIALECTS[dialect];
  const subdirs = new Map<string, number>();
  const groups = new Map<string, CpioMember[]>();
  for (const m of members) {
    if (m.type === 'dir') subdirs.set(parentOf(m.name), (subdirs.get(parentOf(m.name)) ?? 0) + 1);
    if (m.linkGroup !== undefined) groups.set(m.linkGroup, [...(groups.get(m.linkGroup) ?? []), m]);
  }
  const groupIno = new Map<string, number>();
  let ino = r.firstIno;
  const planned: PlannedMember[] = [];
  for (const m of members) {
    const group =
      m.linkGroup !== undefined && (groups.get(m.linkGroup)?.length ?? 0) > 1 ? groups.get(m.linkGroup)! : undefined;
    if (group && dialect === 'linuxkit' && group[0] !== m) {
      const target = relativeTarget(m.name, group[0]!.name);
      planned.push(
        entry({ ...m, type: 'symlink', perm: 0o777, target, size: 0 }, ino++, 1, Buffer.from(target, 'utf8')),
      );
      continue;
    }
    let myIno: number;
    if (group && dialect === 'canonical') {
      const seen = groupIno.get(m.linkGroup!);
      myIno = seen ?? ino++;
      groupIno.set(m.linkGroup!, myIno);
    } else myIno = ino++;
    const nlink =
      m.type === 'dir'
        ? r.dirNlink === 'two'
          ? 2
          : 2 + (subdirs.get(m.name) ?? 0)
        : group && dialect === 'canonical'
          ? group.length
          : 1;
    if (m.type === 'symlink') planned.push(entry(m, myIno, nlink, Buffer.from(m.target ?? '', 'utf8')));
    else if (m.type === 'file' && !(group && dialect === 'canonical' && group[group.length - 1] !== m))
      planned.push(entry(m, myIno, nlink, 'source'));
    else planned.push(entry(m, myIno, nlink, 'none'));
  }
  return { planned, nextIno: ino };

  function entry(m: CpioMember, i: number, nlink: number, data: PlannedMember['data']): PlannedMember {
    if (m.type === 'symlink' && !m.target)
      throw new VerifierError('CPIO_MALFORMED', 'symlink without a target', { name: m.name });
    const size = data === 'source' ? m.size : data === 'none' ? 0 : data.length;
    const [rdevMajor, rdevMinor] = m.rdev ?? [0, 0];
    return {
      member: m,
      data,
      header: {
        name: m.name,
        ino: i,
        mode: TYPE_BITS[m.type] | (m.perm & 0o7777),
        uid: 0,
        gid: 0,
        nlink,
        mtime: r.mtime,
        size,
        devMajor: r.dev[0],
        devMinor: r.dev[1],
        rdevMajor,
        rdevMinor,
      },
    };
  }
}
