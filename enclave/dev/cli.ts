/**
 * The development tools' commands: `keycast nsm …` (the NSM, real /dev/nsm or the simulator, and
 * the simulator's test PKI), `keycast dev-kms`, `keycast dev certs` (projector test PKIs), and
 * `keycast enclave run --nsm sim` (the runtime's command given the simulator). None of this is
 * in the enclave image's closure (test/enclave-image-closure.test.ts).
 */
import { closeSync, fstatSync, openSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { requireOutParent, usageError as usage, type Command } from '#flag-kit';
import { certificatePem, certificateThumbprint, secretFileModeProblem } from '#verifier/build';
import { EnclaveError } from '../common/errors.ts';
import { parse, type FlagValues, type Spec } from '../common/cli-flags.ts';
import { enclaveRunCommand } from '../runtime/cli.ts';
import { openDeviceNsm } from '../runtime/nsm/device.ts';
import type { Nsm } from '../runtime/nsm/types.ts';
import { createProjectorPki } from './projector-pki.ts';
import { SimulatedNsm } from './nsm/simulator.ts';
import { createTestPki, renewTestPki } from './nsm/test-pki.ts';
import { exportTestPki, importTestPki, type KeyExport } from './nsm/test-pki-json.ts';
import { MAX_PCRS } from './nsm/pcr-bank.ts';
import { devKmsCommand } from './dev-kms/command.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
function fromHexFlag(v: unknown, flag: string): Uint8Array | null {
  if (v === undefined) return null;
  if (typeof v !== 'string' || !/^([0-9a-fA-F]{2})*$/.test(v)) throw usage(`--${flag} must be hex`);
  return Uint8Array.from(Buffer.from(v, 'hex'));
}

const BACKEND_FLAGS: Spec = {
  device: { type: 'string' },
  sim: { type: 'boolean' },
  pki: { type: 'string' },
  pcrs: { type: 'string' },
  'module-id': { type: 'string' },
};
const BACKEND_HELP = `Backend:
  --device PATH     the NSM device (default /dev/nsm)
  --sim             use the simulator instead; needs --pki and --pcrs
  --pki FILE        test PKI JSON from 'keycast nsm test-pki init' (with the instance key)
  --pcrs FILE       EIF measurement JSON: {"pcr0","pcr1","pcr2","pcr8"?} hex (also under "pcrs"/"measurements"/"Measurements", as keycast build and nitro-cli write it)
  --module-id ID    simulated module id (default <instance-id>-enc<random>)`;

function readPcrs(file: string): Record<string, string> {
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    if (e instanceof SyntaxError) throw usage(`--pcrs ${file} is not JSON`);
    throw e;
  }
  if (j === null || typeof j !== 'object') throw usage(`--pcrs ${file} is not a JSON object`);
  const m = (j.pcrs ?? j.measurements ?? j.Measurements ?? j) as Record<string, unknown>;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(m)) if (/^pcr\d+$/i.test(k) && typeof v === 'string') out[k.toLowerCase()] = v;
  return out;
}

/**
 * A test PKI file holds the simulator's private keys: read it under the verifier's secret-file
 * policy (owner-only mode, checked on the open descriptor before reading). Content problems are
 * importTestPki's (PKI_MALFORMED).
 */
function readPkiFile(path: string): string {
  const fd = openSync(path, 'r');
  try {
    const mode = fstatSync(fd).mode;
    const problem = secretFileModeProblem(mode);
    if (problem)
      throw new EnclaveError('PKI_FILE_EXPOSED', `test PKI file ${path} is ${problem}`, { path, mode: mode & 0o777 });
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

function simulatedNsm(v: FlagValues): SimulatedNsm {
  if (typeof v.pki !== 'string' || typeof v.pcrs !== 'string') throw usage('--sim needs --pki FILE and --pcrs FILE');
  const pki = importTestPki(readPkiFile(v.pki));
  return new SimulatedNsm({
    pki,
    pcrs: readPcrs(v.pcrs),
    ...(typeof v['module-id'] === 'string' ? { moduleId: v['module-id'] } : {}),
  });
}

async function backend(v: FlagValues): Promise<Nsm> {
  if (!v.sim) return openDeviceNsm(typeof v.device === 'string' ? { path: v.device } : {});
  return simulatedNsm(v);
}

/** `keycast enclave run` with `--nsm sim`: the runtime's command, given the simulator. */
export const enclaveRun = enclaveRunCommand(async (v) => {
  const nsm = simulatedNsm(v);
  return { nsm, attestationRoots: [nsm.rootDer] };
});

const describe: Command = {
  path: ['nsm', 'describe'],
  summary: 'Describe the NSM and every PCR (device or simulator)',
  help: `Usage: keycast nsm describe [--device PATH | --sim --pki FILE --pcrs FILE] [--json]\n\nPrints DescribeNSM (version, module id, max PCRs, locked PCRs, digest) and DescribePCR for each PCR.\n\n${BACKEND_HELP}`,
  async run(args) {
    const v = parse(args, BACKEND_FLAGS);
    const nsm = await backend(v);
    try {
      const d = await nsm.describeNsm();
      const pcrs = [];
      for (let i = 0; i < Math.min(d.maxPcrs, MAX_PCRS); i++) {
        const p = await nsm.describePcr(i);
        pcrs.push({ index: i, locked: p.lock, value: hex(p.data) });
      }
      if (v.json) console.log(JSON.stringify({ ...d, pcrs }, null, 2));
      else {
        console.log(
          `NSM ${d.versionMajor}.${d.versionMinor}.${d.versionPatch}  module ${d.moduleId}  ${d.maxPcrs} PCRs (${d.digest})`,
        );
        for (const p of pcrs)
          console.log(`PCR${String(p.index).padEnd(2)} ${p.locked ? 'locked  ' : 'unlocked'} ${p.value}`);
      }
      return 0;
    } finally {
      await nsm.close();
    }
  },
};

const attest: Command = {
  path: ['nsm', 'attest'],
  summary: 'Get a signed attestation document from the NSM (device or simulator)',
  help: `Usage: keycast nsm attest --out FILE [--user-data HEX] [--nonce HEX] [--public-key FILE] [backend flags] [--json]\n\nWrites the COSE_Sign1 attestation document bytes to FILE. Each of user_data, nonce and public_key is at most 1024 bytes.\n\n${BACKEND_HELP}`,
  async run(args) {
    const v = parse(args, {
      ...BACKEND_FLAGS,
      out: { type: 'string' },
      'user-data': { type: 'string' },
      nonce: { type: 'string' },
      'public-key': { type: 'string' },
    });
    if (typeof v.out !== 'string') throw usage('--out FILE is required');
    requireOutParent(v.out);
    const req = {
      userData: fromHexFlag(v['user-data'], 'user-data'),
      nonce: fromHexFlag(v.nonce, 'nonce'),
      publicKey: typeof v['public-key'] === 'string' ? new Uint8Array(readFileSync(v['public-key'])) : null,
    };
    const nsm = await backend(v);
    try {
      const doc = await nsm.attestation(req);
      writeFileSync(v.out, doc);
      const sha256 = createHash('sha256').update(doc).digest('hex');
      if (v.json) console.log(JSON.stringify({ out: v.out, bytes: doc.length, sha256 }));
      else console.log(`wrote ${doc.length}-byte attestation document to ${v.out} (sha256 ${sha256})`);
      return 0;
    } finally {
      await nsm.close();
    }
  },
};

const pkiInit: Command = {
  path: ['nsm', 'test-pki', 'init'],
  summary: 'Create a simulator test PKI (AWS-shaped P-384 chain under a NEW, untrusted test root)',
  help: `Usage: keycast nsm test-pki init --out FILE --keys all|issuing|none [--root-out FILE] [--region R] [--instance-id ID] [--json]

Creates root → regional → zonal → instance certificates for the NSM simulator and writes them as JSON.
--keys chooses which private keys go into FILE (written with mode 0600): 'all' (can renew the chain),
'issuing' (instance key only: can sign documents until the instance certificate expires in 1 day),
'none' (certificates only). --root-out writes the root certificate PEM: pass it to a verifier as a
trusted root explicitly — nothing trusts it by default.`,
  async run(args) {
    const v = parse(args, {
      out: { type: 'string' },
      keys: { type: 'string' },
      'root-out': { type: 'string' },
      region: { type: 'string' },
      'instance-id': { type: 'string' },
    });
    if (typeof v.out !== 'string') throw usage('--out FILE is required');
    requireOutParent(v.out);
    if (typeof v['root-out'] === 'string') requireOutParent(v['root-out'], '--root-out');
    if (v.keys !== 'all' && v.keys !== 'issuing' && v.keys !== 'none')
      throw usage('--keys must be all, issuing or none');
    let pki;
    try {
      pki = createTestPki({
        ...(typeof v.region === 'string' ? { region: v.region } : {}),
        ...(typeof v['instance-id'] === 'string' ? { instanceId: v['instance-id'] } : {}),
      });
    } catch (e) {
      if (e instanceof RangeError) throw usage(e.message);
      throw e;
    }
    writeFileSync(v.out, JSON.stringify(exportTestPki(pki, { keys: v.keys as KeyExport }), null, 2) + '\n', {
      mode: 0o600,
    });
    if (typeof v['root-out'] === 'string') writeFileSync(v['root-out'], pki.rootPem);
    const fingerprint = createHash('sha256').update(pki.rootDer).digest('hex');
    if (v.json)
      console.log(
        JSON.stringify({ out: v.out, rootSha256: fingerprint, instanceId: pki.instanceId, region: pki.region }),
      );
    else console.log(`test PKI for ${pki.instanceId} (${pki.region}) written to ${v.out}; root sha256 ${fingerprint}`);
    return 0;
  },
};

const pkiRenew: Command = {
  path: ['nsm', 'test-pki', 'renew'],
  summary: 'Reissue the test PKI intermediates (same root) so they are valid from now',
  help: 'Usage: keycast nsm test-pki renew --pki FILE [--json]\n\nNeeds a PKI file exported with --keys all. Rewrites FILE in place, keeping the root.',
  async run(args) {
    const v = parse(args, { pki: { type: 'string' } });
    if (typeof v.pki !== 'string') throw usage('--pki FILE is required');
    const pki = renewTestPki(importTestPki(readPkiFile(v.pki)));
    writeFileSync(v.pki, JSON.stringify(exportTestPki(pki, { keys: 'all' }), null, 2) + '\n', { mode: 0o600 });
    if (v.json) console.log(JSON.stringify({ out: v.pki, renewed: true }));
    else console.log(`renewed the intermediates of ${v.pki}`);
    return 0;
  },
};

const devCerts: Command = {
  path: ['dev', 'certs'],
  summary: 'generate realistic ST 430-2 projector chains (maker root → SM CA → SM leaves) for tests and demos',
  help: `Usage: keycast dev certs --projectors N --out DIR [--maker NAME] [--days D] [--key-pool K]
                        [--key-type rsa|x25519] [--json]

Writes a manufacturer PKI shaped like real D-cinema Security Manager chains (SMPTE ST 430-2:
RSA-2048/65537, sha256WithRSAEncryption, O/OU/CN/dnQualifier names, CN roles "LE SPB MD SM"):
  DIR/maker-root.pem, DIR/maker-ca.pem
  DIR/projectors/NNNNNN.pem (SM leaf certificate) and NNNNNN.key (its private key, PKCS#8)
  DIR/recipients.json  {"roots":[<root DER base64>],"thumbprints":[…]} for forwarding rules
FOR TESTS AND DEMOS ONLY: the private keys are written in clear.
  --maker NAME     manufacturer name (default ACME-CINEMA; PrintableString characters)
  --days D         leaf validity in days (default 1825)
  --key-pool K     reuse K RSA keys across the leaves (each leaf keeps its own certificate);
                   generating thousands of RSA keys takes minutes
  --key-type T     rsa (default) or x25519: non-DCI receivers for the raw-hpke forwarding format
                   (X25519 leaves, CN "RX.…", keyAgreement, under the same RSA root and CA; never
                   valid KDM recipients)`,
  async run(args) {
    const v = parse(args, {
      projectors: { type: 'string' },
      out: { type: 'string' },
      maker: { type: 'string' },
      days: { type: 'string' },
      'key-pool': { type: 'string' },
      'key-type': { type: 'string' },
      json: { type: 'boolean' },
    });
    const int = (name: string, x: unknown, max: number) => {
      if (typeof x !== 'string' || !/^\d+$/.test(x) || Number(x) < 1 || Number(x) > max)
        throw usage(`--${name} must be a whole number 1..${max}`);
      return Number(x);
    };
    const count = int('projectors', v.projectors, 1_000_000);
    if (typeof v.out !== 'string') throw usage('--out is required');
    requireOutParent(v.out);
    const keyType = v['key-type'] ?? 'rsa';
    if (keyType !== 'rsa' && keyType !== 'x25519') throw usage('--key-type must be rsa or x25519');
    const pki = createProjectorPki({
      keyType,
      count,
      maker: typeof v.maker === 'string' ? v.maker : undefined,
      days: v.days === undefined ? undefined : int('days', v.days, 3650),
      keyPool: v['key-pool'] === undefined ? undefined : int('key-pool', v['key-pool'], 1_000_000),
    });
    mkdirSync(join(v.out, 'projectors'), { recursive: true });
    writeFileSync(join(v.out, 'maker-root.pem'), certificatePem(pki.root.der));
    writeFileSync(join(v.out, 'maker-ca.pem'), certificatePem(pki.intermediate.der));
    const thumbprints: string[] = [];
    for (const [i, p] of pki.projectors.entries()) {
      const n = String(i + 1).padStart(6, '0');
      writeFileSync(join(v.out, 'projectors', `${n}.pem`), certificatePem(p.certificate.der));
      writeFileSync(join(v.out, 'projectors', `${n}.key`), p.privateKey.export({ type: 'pkcs8', format: 'pem' }), {
        mode: 0o600,
      });
      thumbprints.push(certificateThumbprint(p.certificate));
    }
    writeFileSync(
      join(v.out, 'recipients.json'),
      JSON.stringify({ roots: [Buffer.from(pki.root.der).toString('base64')], thumbprints }, null, 2),
    );
    if (v.json) console.log(JSON.stringify({ out: v.out, projectors: count, root: pki.root.subject }));
    else console.log(`${count} projector certificate(s) under ${pki.root.subject} → ${v.out}`);
    return 0;
  },
};

export const commands: Command[] = [describe, attest, pkiInit, pkiRenew, devKmsCommand, enclaveRun, devCerts];
