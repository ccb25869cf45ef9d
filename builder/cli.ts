/**
 * `keycast build`, `keycast describe-eif`, `keycast diff-eif`. Matches
 * cli/command.ts structurally. Heavy modules load inside `run`. The release signer adds its
 * commands by appending to `commands` below.
 */
import { parseFlags, usageError, type Command } from '#flag-kit';
import { releaseCommands } from './src/release/commands.ts';

const BUILD_FLAGS = {
  lock: { type: 'string' },
  out: { type: 'string' },
  kernel: { type: 'string' },
  'kernel-config': { type: 'string' },
  init: { type: 'string' },
  nsm: { type: 'string' },
  rootfs: { type: 'string' },
  'rootfs-type': { type: 'string' },
  cmdline: { type: 'string' },
  'cmdline-file': { type: 'string' },
  arg: { type: 'string', multiple: true },
  env: { type: 'string', multiple: true },
  arch: { type: 'string' },
  format: { type: 'string' },
  name: { type: 'string' },
  version: { type: 'string' },
  'signing-certificate': { type: 'string' },
  'signing-key': { type: 'string' },
  'enclave-config': { type: 'string' },
} as const;

const buildCmd: Command = {
  path: ['build'],
  summary: 'build a byte-reproducible EIF from pinned inputs',
  help: `keycast build --out DIR [--lock builder.lock.json] [input flags] [--json]
       keycast build --out DIR --kernel F --init F --rootfs PATH --cmdline STR [--arg A…] [--json]

Assembles DIR/enclave.eif from pinned inputs and writes DIR/measurements.json (PCR0/1/2[/8],
sha256, size) and DIR/builder.lock.json (the lock actually used, every digest filled in).

With --lock, every input is checked against the lock's SHA-256 (a mismatch refuses with the
file, expected and actual digests); input flags then only override paths. Without --lock, the
flags define the inputs and the generated DIR/builder.lock.json pins them for the next build.

Without --lock, --kernel, --init, --rootfs and --cmdline (or --cmdline-file) are required.
DIR itself may be new, but its parent directory must exist.

Inputs:
  --kernel FILE            bzImage (x86_64) or Image (aarch64)   (required without --lock)
  --kernel-config FILE     optional; fills OperatingSystem/KernelVersion like nitro-cli
  --init FILE              the enclave init binary   (required without --lock)
  --nsm FILE               nsm.ko (omit for kernels with NSM built in)
  --rootfs PATH            a directory, a docker-save tarball or an OCI layout   (required without --lock)
  --rootfs-type T          dir | docker-save | oci (default dir)
  --enclave-config FILE    the Keycast enclave's pinned configuration (log key and origin, witnesses,
                           max checkpoint age, publisher keys, KMS key); checked, pinned in the lock
                           and placed at /rootfs/etc/keycast/enclave.json, so it is part of PCR0/PCR2
  --cmdline STR | --cmdline-file FILE   the kernel command line (file trimmed, as nitro-cli does);
                           required without --lock (nitro-cli takes it from its blobs' cmdline
                           file; e.g. "reboot=k panic=30 pci=off nomodules console=ttyS0")
  --arg A (repeat)         the app's argv, written to /cmd
  --env K=V (repeat)       the app's environment, written to /env
  --arch x86_64|aarch64    (default x86_64)   --format linuxkit|canonical (default linuxkit)
  --name N --version V     ImageName / ImageVersion in the metadata
  --signing-certificate PEM --signing-key PEM   sign PCR0 (adds PCR8)
The build never reads the clock, the owner, mtimes, umask, locale or directory order.`,
  async run(args) {
    const { values: v } = parseFlags(args, BUILD_FLAGS);
    const { runBuild } = await import('./src/build-cli.ts');
    return runBuild(v, usageError);
  },
};

const describeCmd: Command = {
  path: ['describe-eif'],
  summary: "print an EIF's measurements and metadata as nitro-cli describe-eif does",
  help: `keycast describe-eif FILE [--json]
keycast describe-eif --eif-path FILE      (nitro-cli's spelling)

Reads FILE (\`-\`: stdin) in one streaming pass (bounded memory), checks its structure and CRC-32, and
prints nitro-cli's describe-eif JSON: EifVersion, Measurements {HashAlgorithm, PCR0, PCR1,
PCR2[, PCR8]}, IsSigned, CheckCRC, [SignatureCheck], ImageName, ImageVersion, Metadata —
pretty-printed, as nitro-cli describe-eif prints it. With --json it adds Keycast's view (sha256 of the file, sections with offsets and SHA-384).
Exit 0 when the CRC matches, 1 (EIF_CRC) when it does not; malformed files: EIF_MALFORMED.`,
  async run(args) {
    const { values: v, positionals } = parseFlags(args, { 'eif-path': { type: 'string' } }, 1);
    const files = [...positionals, ...(typeof v['eif-path'] === 'string' ? [v['eif-path']] : [])];
    if (files.length !== 1) throw usageError('describe-eif takes exactly one FILE (or --eif-path FILE)');
    const { runDescribe } = await import('./src/build-cli.ts');
    return runDescribe(files[0]!, v.json === true);
  },
};

const diffCmd: Command = {
  path: ['diff-eif'],
  summary: 'explain why two EIFs differ (sections, PCRs, files in the ramdisks)',
  help: `keycast diff-eif A B [--json]      (one of A and B may be -: stdin)

Compares two EIFs: which PCRs differ, which sections, and for ramdisks which files differ
(added, removed, content, type, mode, owner, link target, mtime, nlink) or whether only the
cpio encoding differs (hex case, inode numbering, order). Exit 0 identical, 1 different.`,
  async run(args) {
    const { values: v, positionals } = parseFlags(args, {}, 2);
    if (positionals.length !== 2) throw usageError('diff-eif takes two files: A B');
    if (positionals[0] === '-' && positionals[1] === '-') throw usageError('only one of A and B can be - (stdin)');
    const { runDiff } = await import('./src/build-cli.ts');
    return runDiff(positionals[0]!, positionals[1]!, v.json === true);
  },
};

export const buildCommands: Command[] = [buildCmd, describeCmd, diffCmd];

export const commands: Command[] = [...buildCommands, ...releaseCommands];
