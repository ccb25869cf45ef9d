/**
 * `keycast demo` (npm run demo): the whole Keycast story on embedded defaults, on loopback,
 * with the real CLI and no network beyond 127.0.0.1:
 *
 *   run a log (SQLite) that re-cosigns every second, three witnesses (the image pins 2 of 3) and dev-kms → build an EIF twice (byte-identical) with the
 *   enclave's pinned config inside → run the enclave (simulated NSM) and its host: the gate
 *   answers 503 while the image is unlogged → sign the release into a Sigstore bundle and
 *   publish it → stock @sigstore/verify accepts it → the gate opens and the enclave seals its
 *   identity through KMS → a studio verifies the enclave's attestation (logged, witnessed,
 *   fresh, keys bound) → the studio forwards a film's two content keys through the host to 300
 *   projectors (rules, sealed keys, KDMs, a verified receipt; one projector decrypts its KDM; an
 *   excluded projector is refused) — through a transparent enclave (deliveries.required pinned): the
 *   forward's delivery entry is on the log before any KDM is usable, the studio's monitor --deliveries
 *   lists it with its projectors, a cinema proves its KDM with kdm logged → a quiet day later (no release for several freshness windows, one
 *   witness down): the door stays open, /metrics shows it → a restart unseals the same keys → a modified image is refused and
 *   diff-eif says why → after revocation the gate shuts and the studio refuses.
 *
 * The demo's "kernel", init and nsm.ko are deterministic filler bytes, not bootable binaries:
 * the image does not boot, but every byte is measured exactly as nitro-cli would.
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { cosignatureVerifierKey, generateNoteKey } from '#verifier/build';
import { parseFlags, type Command } from '#flag-kit';
import { freePort, keycast, keycastOk, startService, type Narrator, type Service } from './demo-steps.ts';
import { demoChecks, type Check, type LiveStack } from './demo-checks.ts';

const ORIGIN = 'demo.keycast.test/log';
const SOURCE = `https://github.com/keycast/demo-enclave@${'c0ffee'.padEnd(40, '0')}`;

function filler(label: string, size: number): Buffer {
  const out = Buffer.alloc(size);
  for (let off = 0, i = 0; off < size; i++) off += createHash('sha256').update(`${label}/${i}`).digest().copy(out, off);
  return out;
}

/** Writes the pinned inputs of the demo enclave; `variant` changes one byte of the app. */
function writeInputs(dir: string, variant: string): void {
  mkdirSync(join(dir, 'rootfs/app'), { recursive: true });
  writeFileSync(join(dir, 'bzImage'), filler('keycast demo kernel (not bootable)', 256 * 1024));
  writeFileSync(join(dir, 'init'), filler('keycast demo init', 16 * 1024));
  writeFileSync(join(dir, 'nsm.ko'), filler('keycast demo nsm.ko', 8 * 1024));
  writeFileSync(
    join(dir, 'rootfs/app/forwarder.js'),
    `// content-key forwarder (${variant})\nprocess.stdout.write('forwarding sealed keys to allowed projectors\\n');\n`,
  );
  writeFileSync(
    join(dir, 'rootfs/app/projectors.json'),
    JSON.stringify({ allowed: ['projector-1', 'projector-2'] }) + '\n',
  );
}

function buildArgs(inputs: string, out: string, enclaveConfig: string): string[] {
  return [
    'build',
    '--kernel',
    join(inputs, 'bzImage'),
    '--init',
    join(inputs, 'init'),
    '--nsm',
    join(inputs, 'nsm.ko'),
    '--rootfs',
    join(inputs, 'rootfs'),
    '--enclave-config',
    enclaveConfig,
    '--cmdline',
    'reboot=k panic=30 pci=off nomodules console=ttyS0',
    '--arg',
    '/usr/bin/node',
    '--arg',
    '/app/forwarder.js',
    '--env',
    'NODE_ENV=production',
    '--name',
    'demo-forwarder',
    '--version',
    '1.0.0',
    '--out',
    out,
    '--json',
  ];
}

function narrator(json: boolean): Narrator & { n: number } {
  const w = (s: string): void => {
    if (!json) process.stdout.write(s + '\n');
  };
  return {
    n: 0,
    step(title) {
      this.n++;
      w(`\n${this.n}. ${title}`);
    },
    say(text) {
      w(`   ${text}`);
    },
    command(args) {
      w(`   $ keycast ${args.map((a) => (/[\s"']/.test(a) ? JSON.stringify(a) : a)).join(' ')}`);
    },
  };
}

export async function runDemo(dir: string, json: boolean, live?: (s: LiveStack) => Promise<void>): Promise<Check[]> {
  const say = narrator(json);
  const services: Service[] = [];
  const p = (...s: string[]): string => join(dir, ...s);
  try {
    return await demoChecks({
      say,
      p,
      services,
      writeInputs,
      buildArgs,
      ORIGIN,
      SOURCE,
      keycast: (a) => keycast(a, say),
      keycastOk: (a) => keycastOk(a, say),
      startService: (a) => startService(a, say),
      freePort,
      otherWitnessVkey: cosignatureVerifierKey(generateNoteKey('absent-witness.demo.keycast.test').skey),
      ...(live ? { live } : {}),
    });
  } finally {
    await Promise.all(services.map((s) => s.stop()));
  }
}

export const commands: Command[] = [
  {
    path: ['demo'],
    summary: 'run the whole Keycast story locally (build, log, witness, sign, attest, verify, forward, revoke)',
    help: `keycast demo [--dir DIR] [--keep] [--json]

Runs every part of Keycast on loopback with embedded defaults (SQLite log, local keys, simulated
NSM with a test PKI trusted only here) through the real CLI, narrating each command, and checks
every outcome. Exit 0 when every check passed, 1 otherwise.
  --dir DIR   work in DIR (default: a new temporary directory)
  --keep      keep the work directory (always kept with --dir)
  --json      print only a JSON summary of the checks`,
    async run(args) {
      const { values } = parseFlags(args, { dir: { type: 'string' }, keep: { type: 'boolean' } });
      const dir = typeof values.dir === 'string' ? values.dir : mkdtempSync(join(tmpdir(), 'keycast-demo-'));
      mkdirSync(dir, { recursive: true });
      // the studio commands remember each log's checkpoint: the demo's logs are its own, so is that memory
      process.env.XDG_STATE_HOME = join(dir, 'state');
      const json = values.json === true;
      let checks: Check[] = [];
      try {
        checks = await runDemo(dir, json);
      } finally {
        if (!values.dir && !values.keep) rmSync(dir, { recursive: true, force: true });
      }
      const failed = checks.filter((c) => !c.ok);
      if (json)
        console.log(
          JSON.stringify({ ok: failed.length === 0, dir: values.dir || values.keep ? dir : null, checks }, null, 2),
        );
      else {
        console.log(`\n${checks.length - failed.length} passed, ${failed.length} failed`);
        for (const f of failed) console.log(`FAILED: ${f.name}: ${f.detail}`);
      }
      return failed.length === 0 ? 0 : 1;
    },
  },
];
