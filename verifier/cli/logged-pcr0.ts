/**
 * `--log`: PCR0 must be a logged release — the one check `keycast verify attestation --log` and
 * the commands that seal or forward to an attested enclave (`seal`, `forward`) share.
 */
import type { LoggedRelease } from '../src/attestation/logged.ts';
import { formatCheckpoint, toHex } from '../build.ts';
import type { Flags as Values } from '../kit/flags.ts';
import { logSetup } from './log.ts';
import { currentCheckpoint, requireConsistent } from './memory.ts';

/**
 * Proves PCR0 is a logged release with the log client (over this process's fetch), under the
 * pinned key, and holds the log to what this user verified before: the current checkpoint must
 * extend the remembered one (then it is remembered), and the lookup's must agree with it.
 */
export async function checkLog(v: Record<string, unknown>, pcr0: Uint8Array): Promise<LoggedRelease> {
  const log = logSetup(v as Values);
  const { current } = await currentCheckpoint(log.client, log.store, log.logKey);
  process.stderr.write(`verify: looking up PCR0 in ${new URL(`lookup/pcr0/${toHex(pcr0)}`, log.client.url).href}\n`);
  const logged = await log.client.loggedPcr0(pcr0);
  const proven = { checkpoint: logged.checkpoint, note: formatCheckpoint(logged.checkpoint) };
  const [older, newer] = logged.checkpoint.size <= current.checkpoint.size ? [proven, current] : [current, proven];
  await requireConsistent(log.client, older, newer, "the lookup's checkpoint and the current one do not agree");
  return logged;
}
