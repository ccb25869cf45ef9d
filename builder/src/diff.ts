/**
 * `keycast diff-eif A B` — the PCR-mismatch debugger. Compares two EIFs section by section
 * (type, size, SHA-384), says which PCRs differ and why, and for differing ramdisks lists
 * the files that differ: added/removed, content, type, mode, owner, link target, mtime,
 * nlink, device numbers, and archive-level encoding (hex case, inode numbering, padding) when
 * the files are equal but the bytes are not. Members are matched by their raw name bytes and,
 * for a name that repeats, by occurrence; such members and those whose names are not UTF-8 are
 * named by position and raw bytes, so no difference hides behind a lossy or repeated name. Both images are read into memory (a debugging
 * tool; use describe-eif for bounded-memory measurement). Malformed inputs → VerifierError.
 */
import { createHash } from 'node:crypto';
import { isUtf8 } from 'node:buffer';
import { S_IFMT, readCpio, scanEif, EIF_SECTION_HEADER_SIZE, type CpioEntry, type EifScan } from '#verifier/build';

export interface FileChange {
  ramdisk: number;
  /** The member's name; for a name that repeats or is not UTF-8, a label with its position and raw bytes. */
  path: string;
  changes: string[];
  a?: string;
  b?: string;
  /** Position of the member in each archive (0-based), when the name alone does not identify it. */
  member?: { a?: number; b?: number };
  /** The name's raw bytes (hex), when the name repeats or is not UTF-8. */
  nameHex?: string;
}

export interface EifDiff {
  identical: boolean;
  pcrs: Record<string, { a?: string; b?: string; same: boolean }>;
  header: string[];
  sections: Array<{ index: number; a?: string; b?: string; same: boolean; note?: string }>;
  files: FileChange[];
  ramdiskEncoding: Array<{ ramdisk: number; note: string }>;
}

const TYPE_NAMES: Record<number, string> = {
  9604: 'dir',
  16807: 'file',
  21609: 'symlink',
  4802: 'char',
  14406: 'block',
  2401: 'fifo',
};

function secLabel(s: EifScan['sections'][number] | undefined): string | undefined {
  return s ? `${s.typeName}:${s.size}:${s.sha384.slice(0, 16)}` : undefined;
}

function describeEntry(e: CpioEntry): string {
  const t = TYPE_NAMES[e.mode & S_IFMT] ?? 'other';
  return `${t} ${(e.mode & 0o7777).toString(8)} ${e.uid}:${e.gid} ${e.size}B`;
}

/** A member as the diff keys it: raw name bytes and which occurrence of that name it is. */
interface Member {
  entry: CpioEntry;
  position: number;
  hex: string;
  nth: number;
  count: number;
}

/**
 * Members keyed by raw name bytes and occurrence (`<hex>/<n>`), so a name that repeats pairs
 * its n-th occurrence in A with the n-th in B, and names that are not UTF-8 are never merged
 * by their lossy decoding.
 */
function members(entries: CpioEntry[]): Map<string, Member> {
  const count = new Map<string, number>();
  for (const e of entries) {
    const h = Buffer.from(e.nameBytes).toString('hex');
    count.set(h, (count.get(h) ?? 0) + 1);
  }
  const seen = new Map<string, number>();
  const out = new Map<string, Member>();
  entries.forEach((entry, position) => {
    const hex = Buffer.from(entry.nameBytes).toString('hex');
    const nth = seen.get(hex) ?? 0;
    seen.set(hex, nth + 1);
    out.set(`${hex}/${nth}`, { entry, position, hex, nth, count: count.get(hex)! });
  });
  return out;
}

/** The name as shown: plain when it is UTF-8 and unique in both archives, else position and raw bytes. */
function memberName(x: Member | undefined, y: Member | undefined): Pick<FileChange, 'path' | 'member' | 'nameHex'> {
  const m = (x ?? y)!;
  const plain = isUtf8(m.entry.nameBytes) && (x?.count ?? 1) === 1 && (y?.count ?? 1) === 1;
  if (plain) return { path: m.entry.name };
  const where = [x ? `#${x.position} in a` : '', y ? `#${y.position} in b` : ''].filter(Boolean).join(', ');
  const count = Math.max(x?.count ?? 0, y?.count ?? 0);
  const which = count > 1 ? `, occurrence ${m.nth + 1} of the name` : '';
  const shown = isUtf8(m.entry.nameBytes) ? JSON.stringify(m.entry.name) : 'a name that is not UTF-8';
  return {
    path: `member ${where}: ${shown} (bytes ${m.hex}${which})`,
    member: { ...(x ? { a: x.position } : {}), ...(y ? { b: y.position } : {}) },
    nameHex: m.hex,
  };
}

function byRawName(p: string, q: string): number {
  const [ph, pn] = p.split('/') as [string, string];
  const [qh, qn] = q.split('/') as [string, string];
  return Buffer.compare(Buffer.from(ph, 'hex'), Buffer.from(qh, 'hex')) || Number(pn) - Number(qn);
}

export function diffCpio(ramdisk: number, a: Uint8Array, b: Uint8Array): { files: FileChange[]; encoding: string[] } {
  const ra = readCpio(a);
  const rb = readCpio(b);
  const ma = members(ra.entries);
  const mb = members(rb.entries);
  const names = [...new Set([...ma.keys(), ...mb.keys()])].sort(byRawName);
  const files: FileChange[] = [];
  for (const n of names) {
    const mx = ma.get(n);
    const my = mb.get(n);
    const x = mx?.entry;
    const y = my?.entry;
    const label = memberName(mx, my);
    if (!x || !y) {
      files.push({
        ramdisk,
        ...label,
        changes: [x ? 'removed' : 'added'],
        ...(x ? { a: describeEntry(x) } : { b: describeEntry(y!) }),
      });
      continue;
    }
    const c: string[] = [];
    if ((x.mode & S_IFMT) !== (y.mode & S_IFMT)) c.push('type');
    if ((x.mode & 0o7777) !== (y.mode & 0o7777)) c.push('mode');
    if (x.uid !== y.uid || x.gid !== y.gid) c.push('owner');
    const sha = (e: CpioEntry) => createHash('sha256').update(e.data).digest('hex');
    if ((x.mode & S_IFMT) === 0o120000 && (y.mode & S_IFMT) === 0o120000) {
      if (sha(x) !== sha(y)) c.push('link-target');
    } else if (x.size !== y.size || sha(x) !== sha(y)) c.push('content');
    if (x.mtime !== y.mtime) c.push('mtime');
    if (x.nlink !== y.nlink) c.push('nlink');
    if (x.rdevMajor !== y.rdevMajor || x.rdevMinor !== y.rdevMinor) c.push('rdev');
    if (c.length)
      files.push({
        ramdisk,
        ...label,
        changes: c,
        a: `${describeEntry(x)} mtime=${x.mtime}`,
        b: `${describeEntry(y)} mtime=${y.mtime}`,
      });
  }
  const encoding: string[] = [];
  const ea = ra.entries.map((e) => Buffer.from(e.nameBytes).toString('hex')).join('/');
  const eb = rb.entries.map((e) => Buffer.from(e.nameBytes).toString('hex')).join('/');
  if (ea !== eb && names.length === ra.entries.length && names.length === rb.entries.length)
    encoding.push('same members in a different order');
  if (ra.trailer.upperHex !== rb.trailer.upperHex)
    encoding.push(
      `header hex case differs (${ra.trailer.upperHex ? 'upper' : 'lower'} vs ${rb.trailer.upperHex ? 'upper' : 'lower'}): different cpio writers`,
    );
  if (ra.entries[0] && rb.entries[0] && ra.entries[0].ino !== rb.entries[0].ino)
    encoding.push(`inode numbering differs (first ino ${ra.entries[0].ino} vs ${rb.entries[0].ino})`);
  if (
    ra.entries[0] &&
    rb.entries[0] &&
    (ra.entries[0].devMajor !== rb.entries[0].devMajor || ra.entries[0].devMinor !== rb.entries[0].devMinor)
  )
    encoding.push('device numbers of the archive differ');
  if (a.length !== b.length && files.length === 0)
    encoding.push(`archive length differs (${a.length} vs ${b.length}): padding or encoding`);
  return { files, encoding };
}

export function diffEif(a: Uint8Array, b: Uint8Array): EifDiff {
  const sa = scanEif(a);
  const sb = scanEif(b);
  const pcrs: EifDiff['pcrs'] = {};
  for (const k of ['pcr0', 'pcr1', 'pcr2', 'pcr8'] as const) {
    if (sa.pcrs[k] === undefined && sb.pcrs[k] === undefined) continue;
    pcrs[k] = {
      same: sa.pcrs[k] === sb.pcrs[k],
      ...(sa.pcrs[k] ? { a: sa.pcrs[k] } : {}),
      ...(sb.pcrs[k] ? { b: sb.pcrs[k] } : {}),
    };
  }
  const header: string[] = [];
  if (sa.header.version !== sb.header.version) header.push(`version ${sa.header.version} vs ${sb.header.version}`);
  if (sa.header.flags !== sb.header.flags) header.push(`flags (arch) ${sa.header.flags} vs ${sb.header.flags}`);
  if (sa.header.numSections !== sb.header.numSections)
    header.push(`num_sections ${sa.header.numSections} vs ${sb.header.numSections}`);
  if (sa.crcOk !== sb.crcOk) header.push(`CRC ok: ${sa.crcOk} vs ${sb.crcOk}`);
  const sections: EifDiff['sections'] = [];
  const files: FileChange[] = [];
  const ramdiskEncoding: EifDiff['ramdiskEncoding'] = [];
  const data = (buf: Uint8Array, s: EifScan['sections'][number]) =>
    buf.subarray(s.offset + EIF_SECTION_HEADER_SIZE, s.offset + EIF_SECTION_HEADER_SIZE + s.size);
  const ramA = sa.sections.filter((s) => s.typeName === 'EifSectionRamdisk');
  const ramB = sb.sections.filter((s) => s.typeName === 'EifSectionRamdisk');
  for (let i = 0; i < Math.max(sa.sections.length, sb.sections.length); i++) {
    const x = sa.sections[i];
    const y = sb.sections[i];
    const same = !!x && !!y && x.type === y.type && x.sha384 === y.sha384;
    const entry: EifDiff['sections'][number] = {
      index: i,
      same,
      ...(x ? { a: secLabel(x) } : {}),
      ...(y ? { b: secLabel(y) } : {}),
    };
    if (!same && x && y && x.typeName === 'EifSectionCmdline' && y.typeName === 'EifSectionCmdline')
      entry.note = `cmdline ${JSON.stringify(Buffer.from(data(a, x)).toString())} vs ${JSON.stringify(Buffer.from(data(b, y)).toString())}`;
    if (!same && x && y && x.typeName === 'EifSectionMetadata')
      entry.note = 'metadata differs (not measured: changes the file hash, not the PCRs)';
    sections.push(entry);
  }
  for (let r = 0; r < Math.min(ramA.length, ramB.length); r++) {
    if (ramA[r]!.sha384 === ramB[r]!.sha384) continue;
    try {
      const d = diffCpio(r, data(a, ramA[r]!), data(b, ramB[r]!));
      files.push(...d.files);
      for (const note of d.encoding) ramdiskEncoding.push({ ramdisk: r, note });
    } catch (e) {
      ramdiskEncoding.push({ ramdisk: r, note: `not a readable newc cpio: ${(e as Error).message}` });
    }
  }
  const identical = Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;
  return { identical, pcrs, header, sections, files, ramdiskEncoding };
}

export function formatDiff(d: EifDiff): string {
  if (d.identical) return 'identical: the two images are byte for byte the same\n';
  const out: string[] = [];
  for (const [k, v] of Object.entries(d.pcrs))
    out.push(`${k.toUpperCase()}: ${v.same ? 'same' : `DIFFERS\n  a ${v.a ?? '(absent)'}\n  b ${v.b ?? '(absent)'}`}`);
  for (const h of d.header) out.push(`header: ${h}`);
  for (const s of d.sections)
    if (!s.same)
      out.push(`section ${s.index}: ${s.a ?? '(absent)'} vs ${s.b ?? '(absent)'}${s.note ? `\n  ${s.note}` : ''}`);
  for (const f of d.files)
    out.push(
      `ramdisk${f.ramdisk} ${f.path}: ${f.changes.join(', ')}${f.a ? `\n  a ${f.a}` : ''}${f.b ? `\n  b ${f.b}` : ''}`,
    );
  for (const e of d.ramdiskEncoding) out.push(`ramdisk${e.ramdisk}: ${e.note}`);
  if (out.length === Object.keys(d.pcrs).length)
    out.push('PCR inputs agree; the images differ only in unmeasured bytes (metadata, signature or header)');
  return out.join('\n') + '\n';
}
