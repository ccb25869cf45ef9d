/**
 * `keycast enclave run`: the command the enclave image runs (enclave/deploy/enclave/entrypoint.sh).
 * Everything it imports is the runtime's or the shared room's, never a development tool or the
 * host's (test/enclave-image-closure.test.ts computes the closure and says so).
 */
import { readFileSync } from 'node:fs';
import { createPrivateKey } from 'node:crypto';
import { hostPort, usageError as usage, type Command } from '#flag-kit';
import { parseDcCertificate, type EnclaveConfig } from '#verifier';
import { ENCLAVE_CONFIG_PATH, SERVER_LIMIT_FLAGS_HELP, pemCertificates, serverLimitFlagOptions } from '#verifier/build';
import { limitsFrom, parse, seconds, type FlagValues } from '../common/cli-flags.ts';
import { AwsKmsPort } from './kms/aws.ts';
import type { KmsPort } from '../common/kms/port.ts';
import { openDeviceNsm } from './nsm/device.ts';
import type { Nsm } from './nsm/types.ts';
import type { TestDkdm } from './identity/keys.ts';
import { runEnclave } from './run.ts';

/**
 * How `--nsm sim` gets its NSM (from --pki, --pcrs, --module-id): given by the development tools
 * only, with the root its attestation documents chain to (a sealed identity's genesis is checked
 * against it).
 */
export type SimulatedBackend = (v: FlagValues) => Promise<{ nsm: Nsm; attestationRoots: readonly Uint8Array[] }>;

/**
 * `keycast enclave run`. Built without an NSM simulator: the image runs this one, and nothing it
 * imports is a development tool (test/enclave-image-closure.test.ts). The development tools
 * (enclave/dev/cli.ts) build it again with `simulated`, and keycast dispatches `--nsm sim` there.
 */
export function enclaveRunCommand(simulated?: SimulatedBackend): Command {
  return {
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
      if (endpoint !== undefined && !/^https?:\/\//.test(endpoint))
        throw usage('--kms-endpoint must be an http(s) URL');
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
      let nsm: Nsm;
      let attestationRoots: readonly Uint8Array[] | undefined;
      if (mode === 'sim') {
        if (!simulated)
          throw usage(
            '--nsm sim needs the development tools (enclave/dev), which this build of enclave run leaves out; keycast loads them for --nsm sim',
          );
        ({ nsm, attestationRoots } = await simulated(v));
      } else nsm = await openDeviceNsm(typeof v.device === 'string' ? { path: v.device } : {});
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
        ...(attestationRoots ? { attestationRoots } : {}),
        ...(testDkdm ? { testDkdm } : {}),
      });
    },
  };
}

export const commands: Command[] = [enclaveRunCommand()];
