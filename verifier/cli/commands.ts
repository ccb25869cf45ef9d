/** The studio commands that live in verifier/cli/ (verifier/cli.ts appends them to its list). */
import type { Command } from '../kit/flags.ts';
import { verifyRelease } from './release.ts';
import { monitor } from './monitor.ts';
import { verifyEnclave } from './enclave.ts';
import { forwardSend } from './forward-send.ts';
import { verifyBundle } from './bundle.ts';
import { dkdmCheck, rulesEndorse } from './dkdm.ts';
import { kdmLogged } from './kdm-logged.ts';

export const studioCommands: Command[] = [
  verifyRelease,
  verifyBundle,
  verifyEnclave,
  monitor,
  forwardSend,
  dkdmCheck,
  rulesEndorse,
  kdmLogged,
];
