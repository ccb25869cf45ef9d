/**
 * Every `keycast` command enclave/ offers, in one list (tests, and the help of a group without a
 * table). Each lives in its room and keycast loads only that room: `enclave run` from
 * runtime/cli.ts (the image's command; `--nsm sim` from dev/cli.ts), `host run` from
 * host/cli.ts, `nsm …`, `dev-kms` and `dev certs` from dev/cli.ts; `kms-policy` (defined in
 * kms-policy/policy-command.ts) through this list. Commands match cli/command.ts structurally.
 */
import type { Command } from '#flag-kit';
import { commands as dev, enclaveRun } from './dev/cli.ts';
import { hostRun } from './host/cli.ts';
import { kmsPolicyCommands } from './kms-policy/policy-command.ts';

const byPath = (p: string): Command => dev.find((c) => c.path.join(' ') === p)!;

export const commands: Command[] = [
  byPath('nsm describe'),
  byPath('nsm attest'),
  byPath('nsm test-pki init'),
  byPath('nsm test-pki renew'),
  byPath('dev-kms'),
  ...kmsPolicyCommands,
  enclaveRun,
  hostRun,
  byPath('dev certs'),
];
