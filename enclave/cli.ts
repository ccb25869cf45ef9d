/**
 * `keycast nsm …`: talk to the Nitro Security Module (real /dev/nsm or the simulator) and
 * manage the simulator's test PKI; `keycast dev certs` makes projector test PKIs. Commands match
 * cli/command.ts structurally.
 */
import { closeSync, fstatSync, openSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createHash, createPrivateKey } from 'node:crypto';
import { hostPort, parseFlags, requireOutParent, urlOption, usageError as usage, type Command } from '#cli-kit';
import {
  certificatePem,
  certificateThumbprint,
  parseDcCertificate,
  pemCertificates,
  secretFileModeProblem,
} from '#verifier';
import {
  ENCLAVE_CONFIG_PATH,
  SERVER_LIMIT_FLAGS_HELP,
  serverLimitFlagOptions,
  serverLimitsFromFlags,
  type EnclaveConfig,
  type ServerLimits,
} from '#verifier';
import { EnclaveError } from './shared/errors.ts';
import { createProjectorPki } from './dev/projector-pki.ts';
import { AwsKmsPort } from './runtime/kms/aws.ts';
import type { KmsPort } from './runtime/kms/port.ts';
import { runEnclave } from './runtime/run.ts';
import { runHost } from './host/run.ts';
import { openDeviceNsm } from './runtime/nsm/device.ts';
import { SimulatedNsm } from './dev/nsm/simulator.ts';
import { createTestPki, renewTestPki } from './dev/nsm/test-pki.ts';
import { exportTestPki, importTestPki, type KeyExport } from './dev/nsm/test-pki-json.ts';
import type { Nsm } from './runtime/nsm/types.ts';
import type { TestDkdm } from './runtime/identity/keys.ts';
import { MAX_PCRS } from './dev/nsm/pcr-bank.ts';
import { devKmsCommand } from './dev/dev-kms/command.ts';
import { kmsPolicyCommands, vkeyArg } from './kms-policy/policy-command.ts';

type Spec = Record<string, { type: 'string' | 'boolean' }>;
function parse(args: string[], options: Spec): Record<string, string | boolean | undefined> {
  return parseFlags(args, options).values as Record<string, string | boolean | undefined>;
}

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

async function backend(v: Record<string, string | boolean | undefined>): Promise<Nsm> {
  if (!v.sim) return openDeviceNsm(typeof v.device === 'string' ? { path: v.device } : {});
  if (typeof v.pki !== 'string' || typeof v.pcrs !== 'string') throw usage('--sim needs --pki FILE and --pcrs FILE');
  const pki = importTestPki(readPkiFile(v.pki));
  return new SimulatedNsm({
    pki,
    pcrs: readPcrs(v.pcrs),
    ...(typeof v['module-id'] === 'string' ? { moduleId: v['module-id'] } : {}),
  });
}

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

function seconds(v: unknown, flag: string, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'string' || !/^[1-9][0-9]{0,5}$/.test(v))
    throw usage(`--${flag} must be a positive number of seconds`);
  return Number(v);
}

function limitsFrom(v: Record<string, unknown>): ServerLimits {
  try {
    return serverLimitsFromFlags(v);
  } catch (e) {
    throw usage((e as Error).message);
  }
}

const enclaveRun: Command = {
  path: ['enclave', 'run'],
  summary: 'Run the enclave service: fail-closed boot gate, KMS-sealed identity, the enclave API',
  help: `Usage: keycast enclave run --nsm device|sim [--pki FILE --pcrs FILE] [--config FILE] --listen HOST:PORT [--recheck S]

Runs inside the enclave. Reads its own PCRs from the NSM and its pinned configuration from its own
image, then answers every request 503 GATE_CLOSED (with the refusal's code and reason) until the
host brings a proof bundle that passes the gate; KMS is never called before. Re-checks every
--recheck seconds and shuts the door when the proof goes stale, the release is revoked or the log
shows an inconsistent checkpoint. Prints "listening <url>" once ready.

  --nsm device|sim   the NSM: /dev/nsm (default), or the simulator (needs --pki and --pcrs)
  --device PATH      the NSM device (default /dev/nsm)
  --pki FILE         simulator: test PKI JSON with the instance key
  --pcrs FILE        simulator: the image's measurements JSON (keycast build writes it)
  --config FILE      the pinned configuration (default /${ENCLAVE_CONFIG_PATH}, where keycast build
                     --enclave-config puts it)
  --listen HOST:PORT where the host reaches the API (on AWS: socat VSOCK-LISTEN forwards here)
  --recheck S        re-check period in seconds (default 30)
  --kms-endpoint URL KMS endpoint (e.g. keycast dev-kms, or the host's KMS relay); default the
                     region's KMS (region and key from the pinned config); credentials from the
                     AWS SDK's default chain
  --kms-bridge HOST:PORT  dial every KMS connection here (the in-enclave end of the socat →
                     vsock-proxy bridge), keeping TLS and SNI for the real KMS host
  --test-dkdm-key FILE   TEST ONLY, --nsm sim only (refused otherwise): at first boot use this RSA
                     key (PEM) as the KDM decryption key, to forward real DKDMs made for it by hand
  --test-dkdm-chain FILE TEST ONLY: the PEM certificate chain of that key (leaf first), e.g. a
                     real vector's recipient certificate; default a leaf under the enclave's root
${SERVER_LIMIT_FLAGS_HELP}`,
  async run(args) {
    const v = parse(args, {
      nsm: { type: 'string' },
      device: { type: 'string' },
      pki: { type: 'string' },
      pcrs: { type: 'string' },
      config: { type: 'string' },
      listen: { type: 'string' },
      recheck: { type: 'string' },
      'kms-endpoint': { type: 'string' },
      'kms-bridge': { type: 'string' },
      'test-dkdm-key': { type: 'string' },
      'test-dkdm-chain': { type: 'string' },
      ...serverLimitFlagOptions(),
    });
    const endpoint = typeof v['kms-endpoint'] === 'string' ? v['kms-endpoint'] : undefined;
    if (endpoint !== undefined && !/^https?:\/\//.test(endpoint)) throw usage('--kms-endpoint must be an http(s) URL');
    const bridge = typeof v['kms-bridge'] === 'string' ? hostPort(v['kms-bridge'], 'kms-bridge') : undefined;
    const mode = v.nsm ?? 'device';
    if (mode !== 'device' && mode !== 'sim') throw usage('--nsm must be device or sim');
    if (typeof v.listen !== 'string') throw usage('--listen HOST:PORT is required');
    const { host, port } = hostPort(v.listen);
    const limits = limitsFrom(v);
    let testDkdm: TestDkdm | undefined;
    if (typeof v['test-dkdm-key'] === 'string') {
      if (mode !== 'sim') throw usage('--test-dkdm-key is a test option of --nsm sim only');
      testDkdm = {
        privateKey: createPrivateKey(readFileSync(v['test-dkdm-key'])),
        ...(typeof v['test-dkdm-chain'] === 'string'
          ? { chain: pemCertificates(readFileSync(v['test-dkdm-chain'], 'utf8')).map(parseDcCertificate) }
          : {}),
      };
    } else if (typeof v['test-dkdm-chain'] === 'string') throw usage('--test-dkdm-chain goes with --test-dkdm-key');
    const nsm = await backend({ ...v, sim: mode === 'sim' });
    const kms = (c: EnclaveConfig): KmsPort =>
      new AwsKmsPort({ region: c.kms.region, ...(endpoint ? { endpoint } : {}), ...(bridge ? { bridge } : {}) });
    return runEnclave({
      nsm,
      kms,
      configPath: typeof v.config === 'string' ? v.config : `/${ENCLAVE_CONFIG_PATH}`,
      host,
      port,
      recheckSeconds: seconds(v.recheck, 'recheck', 30),
      limits,
      // a sealed identity's genesis chains to the root of the NSM this enclave runs on
      ...(nsm instanceof SimulatedNsm ? { attestationRoots: [nsm.rootDer] } : {}),
      ...(testDkdm ? { testDkdm } : {}),
    });
  },
};

const hostRun: Command = {
  path: ['host', 'run'],
  summary: 'Run the parent-instance host: proofs from the log, sealed-artefact store, public API',
  help: `Usage: keycast host run --enclave HOST:PORT|URL --log URL [--log-key VKEY|FILE] --listen HOST:PORT [--store DIR|s3://bucket/prefix] [--refresh S] [--kms-listen HOST:PORT --kms-target HOST:PORT] [--credentials-listen HOST:PORT [--imds-endpoint URL]]

Runs on the parent instance. Every --refresh seconds: asks the enclave which PCR0 it measures and
which tree it holds, fetches the newest proof bundle for it from the log (lookup, the log's signed
status at the proven tree size, a consistency proof from the held tree) and hands it to the
enclave's gate; once the gate is open, passes the stored sealed identity back (or stores the one
a first boot hands out). The log re-cosigns its checkpoint on a timer, so each refresh brings
fresh cosignatures even when nothing was published. Serves GET /v1/status (with
freshSecondsLeft: seconds until the enclave's proof goes stale), GET /metrics (Prometheus text,
the enclave's figures relayed) and GET /v1/attestation?nonce=HEX. Prints "listening <url>" once
ready; SIGTERM/SIGINT stop it at once (requests aborted, KMS relay connections cut).

  --enclave ADDR     the enclave API (HOST:PORT or http URL; on AWS the socat VSOCK-CONNECT bridge)
  --log URL          the Keycast log (read through the verifying log client; retries are said on stderr)
  --log-key VKEY|FILE  the log's note verifier key: the host then also checks the checkpoint's and
                     the status's signatures before forwarding (the enclave checks them regardless)
  --listen HOST:PORT the public API
  --store DIR|s3://bucket/prefix   where sealed artefacts go (default ./keycast-host-store)
  --s3-endpoint URL, --s3-region R  for an S3 store (credentials from the usual AWS chain)
  --refresh S        seconds between proof refreshes (default 30; keep refresh + the log's
                     --witness-refresh well inside the image's maxCheckpointAgeSeconds)
  --kms-listen HOST:PORT --kms-target HOST:PORT   relay TCP to KMS (dev-kms locally; vsock-proxy on AWS)
  --credentials-listen HOST:PORT  serve the instance role's credentials (read through IMDSv2) to the
                     enclave as the AWS SDK's container-credentials endpoint (GET /v1/aws-credentials,
                     token-protected; the token goes to the enclave before every refresh round). On
                     AWS: 127.0.0.1:8002, bridged from vsock port 8002 (enclave/deploy)
  --imds-endpoint URL  the instance metadata service (default http://169.254.169.254)
${SERVER_LIMIT_FLAGS_HELP}`,
  async run(args) {
    const v = parse(args, {
      'credentials-listen': { type: 'string' },
      'imds-endpoint': { type: 'string' },
      enclave: { type: 'string' },
      log: urlOption(),
      'log-key': { type: 'string' },
      listen: { type: 'string' },
      store: { type: 'string' },
      's3-endpoint': urlOption(),
      's3-region': { type: 'string' },
      refresh: { type: 'string' },
      'kms-listen': { type: 'string' },
      'kms-target': { type: 'string' },
      ...serverLimitFlagOptions(),
    });
    for (const f of ['enclave', 'log', 'listen']) if (typeof v[f] !== 'string') throw usage(`--${f} is required`);
    const enclave = v.enclave as string;
    const enclaveUrl = /^https?:\/\//.test(enclave)
      ? enclave
      : (() => {
          const a = hostPort(enclave, 'enclave');
          return `http://${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
        })();
    if (!/^https?:\/\//.test(v.log as string)) throw usage('--log must be an http(s) URL');
    const { host, port } = hostPort(v.listen as string);
    if ((v['kms-listen'] === undefined) !== (v['kms-target'] === undefined))
      throw usage('--kms-listen and --kms-target go together');
    if (v['imds-endpoint'] !== undefined && v['credentials-listen'] === undefined)
      throw usage('--imds-endpoint applies only with --credentials-listen');
    const imds = v['imds-endpoint'];
    if (typeof imds === 'string' && !/^https?:\/\//.test(imds)) throw usage('--imds-endpoint must be an http(s) URL');
    const s3: Record<string, unknown> = {};
    if (typeof v['s3-endpoint'] === 'string') Object.assign(s3, { endpoint: v['s3-endpoint'], forcePathStyle: true });
    if (typeof v['s3-region'] === 'string') s3.region = v['s3-region'];
    return runHost({
      enclaveUrl,
      logUrl: v.log as string,
      ...(typeof v['log-key'] === 'string' ? { logKey: vkeyArg(v['log-key']) } : {}),
      host,
      port,
      store: typeof v.store === 'string' ? v.store : 'keycast-host-store',
      s3,
      refreshSeconds: seconds(v.refresh, 'refresh', 30),
      limits: limitsFrom(v),
      ...(typeof v['credentials-listen'] === 'string'
        ? {
            credentials: {
              listen: hostPort(v['credentials-listen'], 'credentials-listen'),
              ...(typeof imds === 'string' ? { imdsEndpoint: imds } : {}),
            },
          }
        : {}),
      ...(typeof v['kms-listen'] === 'string'
        ? {
            kmsRelay: {
              listen: hostPort(v['kms-listen'], 'kms-listen'),
              target: hostPort(v['kms-target'] as string, 'kms-target'),
            },
          }
        : {}),
    });
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

export const commands: Command[] = [
  describe,
  attest,
  pkiInit,
  pkiRenew,
  devKmsCommand,
  ...kmsPolicyCommands,
  enclaveRun,
  hostRun,
  devCerts,
];
