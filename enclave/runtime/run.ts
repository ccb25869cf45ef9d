/**
 * `keycast enclave run`: the process inside the enclave. Boots (fail closed: an NSM that cannot
 * be read or a config that does not parse stops it), listens on one address (loopback; on AWS
 * socat's VSOCK-LISTEN forwards the host's vsock connections to it), prints "listening <url>",
 * and on SIGTERM/SIGINT stops. Logs name routes, statuses and gate transitions only.
 */
import { readFileSync } from 'node:fs';
import type { EnclaveConfig } from '#verifier';
import { toHex, type ServerLimits } from '#verifier/build';
import { EnclaveError } from '../common/errors.ts';
import type { KmsPort } from '../common/kms/port.ts';
import type { Nsm } from './nsm/types.ts';
import { bootEnclave } from './boot.ts';
import type { TestDkdm } from './identity/keys.ts';

export interface EnclaveRunOptions {
  nsm: Nsm;
  /** the KMS port for the parsed config (its region) */
  kms: (config: EnclaveConfig) => KmsPort;
  configPath: string;
  host: string;
  port: number;
  recheckSeconds: number;
  limits?: ServerLimits;
  /** roots for genesis documents (bootEnclave's attestationRoots; default the AWS root) */
  attestationRoots?: readonly Uint8Array[];
  /** test only, simulated NSM only (bootEnclave refuses it otherwise) */
  testDkdm?: TestDkdm;
}

export async function runEnclave(o: EnclaveRunOptions): Promise<number> {
  const say = (m: string) => process.stderr.write(`enclave: ${m}\n`);
  let configBytes: Uint8Array;
  try {
    configBytes = readFileSync(o.configPath);
  } catch (e) {
    throw new EnclaveError('CONFIG_MISSING', `the pinned configuration ${o.configPath} cannot be read`, {
      path: o.configPath,
      errno: (e as NodeJS.ErrnoException).code ?? null,
    });
  }
  const e = await bootEnclave({
    nsm: o.nsm,
    kms: o.kms,
    configBytes,
    recheckMs: o.recheckSeconds * 1000,
    log: say,
    ...(o.limits ? { limits: o.limits } : {}),
    ...(o.attestationRoots ? { attestationRoots: o.attestationRoots } : {}),
    ...(o.testDkdm ? { testDkdm: o.testDkdm } : {}),
  });
  const address = await e.app.listen({ host: o.host, port: o.port });
  say(
    `PCR0 ${toHex(e.pcrs.get(0)!).slice(0, 16)}…, log ${e.config.log.origin}, ${e.config.witnesses.threshold} of ${e.config.witnesses.vkeys.length} witnesses; gate closed until the host brings a proof`,
  );
  process.stdout.write(`listening ${address}\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  await e.stop();
  await o.nsm.close();
  return 0;
}
