/**
 * The enclave's boot sequence, fail closed, in order: read its own measurements from the NSM
 * (PCR0/1/2/3/4/8), parse its pinned configuration (bytes read from its own image by the
 * caller: a config that does not parse stops the boot), start the gate shut and its re-check
 * schedule, and build the HTTP API. Nothing here talks to KMS; the identity is established
 * only when the host asks, behind the open gate.
 */
import { parseEnclaveConfig, type EnclaveConfig } from '#verifier';
import { toHex, type ServerLimits } from '#verifier/build';
import { deliveriesRequired } from '#verifier';
import { Measurement } from '#verifier';
import type { FastifyInstance } from 'fastify';
import type { Nsm } from './nsm/types.ts';
import type { KmsPort } from '../common/kms/port.ts';
import { IdentityKeeper } from './identity/keeper.ts';
import type { TestDkdm } from './identity/keys.ts';
import { EnclaveError } from '../common/errors.ts';
import { Gatekeeper, type GateState } from './gatekeeper.ts';
import { buildEnclaveApp } from './server.ts';
import { EnclaveMetrics, timedKms } from '../common/metrics.ts';
import { DeliveryReleases, type DeliveryOptions } from './deliveries.ts';

export const MEASURED_PCRS = [0, 1, 2, 3, 4, 8] as const;

export interface BootOptions {
  nsm: Nsm;
  /** the KMS port, or how to make it from the parsed configuration (its region) */
  kms: KmsPort | ((config: EnclaveConfig) => KmsPort);
  /** the pinned configuration file's bytes, as read from the image (parsed here, once) */
  configBytes: Uint8Array | string;
  /** Unix seconds (default: the system clock) */
  now?: () => number;
  /** re-check period, ms (default 30 s; 0 = no schedule) */
  recheckMs?: number;
  log?: (line: string) => void;
  limits?: ServerLimits;
  /**
   * DER roots the genesis attestation of a sealed identity must chain to: the roots of the
   * NSM this enclave runs on (default: the AWS Nitro Enclaves root; the simulator's test root
   * for `--nsm sim`).
   */
  attestationRoots?: readonly Uint8Array[];
  /**
   * TEST ONLY: a given KDM decryption key (and chain) for the identity's first boot, to forward
   * real DKDMs by hand. Refused (TEST_ONLY_OPTION) unless the NSM is the simulator, so no real
   * enclave can ever be made to use a key from outside.
   */
  testDkdm?: TestDkdm;
  /** bounds of the pending deliveries when the config requires logged deliveries (runtime/deliveries.ts defaults) */
  deliveries?: Omit<DeliveryOptions, 'config'>;
}

export interface BootedEnclave {
  config: EnclaveConfig;
  pcrs: Map<number, Uint8Array>;
  gate: Gatekeeper;
  identity: IdentityKeeper;
  app: FastifyInstance;
  metrics: EnclaveMetrics;
  stop(): Promise<void>;
}

export async function readPcrs(nsm: Nsm): Promise<Map<number, Uint8Array>> {
  const pcrs = new Map<number, Uint8Array>();
  for (const i of MEASURED_PCRS) pcrs.set(i, (await nsm.describePcr(i)).data);
  return pcrs;
}

export async function bootEnclave(o: BootOptions): Promise<BootedEnclave> {
  if (o.testDkdm && o.nsm.simulated !== true)
    throw new EnclaveError(
      'TEST_ONLY_OPTION',
      'a given KDM decryption key is a test option of the simulated NSM only: a real enclave makes its own',
    );
  const pcrs = await readPcrs(o.nsm);
  // this release's PCR0, in the one form the identity, the API and forwarding take
  const pcr0 = Measurement.fromBytes(pcrs.get(0)!);
  const config = parseEnclaveConfig(o.configBytes);
  const log = o.log;
  const gate = new Gatekeeper({
    pcrs,
    config,
    ...(o.now ? { now: o.now } : {}),
    onChange: (s: GateState) =>
      log?.(s.open ? `gate open: release ${s.release!.index}, tree ${s.heldSize}` : `gate closed: ${s.refusal!.code}`),
  });
  const metrics = new EnclaveMetrics();
  const identity = new IdentityKeeper({
    nsm: o.nsm,
    kms: timedKms(typeof o.kms === 'function' ? o.kms(config) : o.kms, metrics),
    config,
    beforeKms: () => gate.requireOpen(),
    release: () => gate.openRelease(),
    now: o.now ?? (() => Date.now() / 1000),
    pcr0,
    ...(o.testDkdm ? { testDkdm: o.testDkdm } : {}),
    ...(o.attestationRoots ? { attestationRoots: o.attestationRoots } : {}),
  });
  const app = buildEnclaveApp({
    gate,
    identity,
    nsm: o.nsm,
    pcr0,
    metrics,
    ...(log ? { log } : {}),
    ...(o.limits ? { limits: o.limits } : {}),
    // pinned in the image: no host can switch it off (issue 19)
    ...(deliveriesRequired(config) ? { deliveries: new DeliveryReleases({ ...o.deliveries, config }) } : {}),
  });
  if ((o.recheckMs ?? 30_000) > 0) gate.schedule(o.recheckMs ?? 30_000);
  return {
    config,
    pcrs,
    gate,
    identity,
    app,
    metrics,
    async stop() {
      gate.stop();
      await app.close();
    },
  };
}
