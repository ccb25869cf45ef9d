/**
 * Old command names kept working after their commands moved: each says so on stderr and runs
 * the new command. `release verify` moved from the builder to the verifier (`verify release`),
 * so a studio needs no builder to verify.
 */
import type { Command } from './command.ts';
import { commands as verifierCommands } from '../verifier/cli.ts';

function target(path: string): Command {
  const c = verifierCommands.find((x) => x.path.join(' ') === path);
  if (!c) throw new Error(`no command keycast ${path}`);
  return c;
}

/** `release verify BUNDLE --log-key V --public-key P` → `verify release --bundle BUNDLE --log-key V --publisher P`. */
function releaseVerifyArgs(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--public-key') out.push('--publisher');
    else if (a.startsWith('--public-key=')) out.push(`--publisher=${a.slice('--public-key='.length)}`);
    else if (!a.startsWith('-') && (i === 0 || !['--log-key', '--public-key'].includes(args[i - 1]!)))
      out.push('--bundle', a);
    else out.push(a);
  }
  return out;
}

const releaseVerify: Command = {
  path: ['release', 'verify'],
  summary: 'deprecated name of keycast verify release --bundle',
  help: `keycast release verify BUNDLE --log-key VKEY --public-key PUB.pem [--json]

The old name of: keycast verify release --bundle BUNDLE --log-key VKEY --publisher PUB.pem
(see keycast verify release --help).`,
  async run(args) {
    process.stderr.write(
      'note: keycast release verify is deprecated; use keycast verify release --bundle FILE --publisher KEY\n',
    );
    return target('verify release').run(releaseVerifyArgs(args));
  },
};

export const commands: Command[] = [releaseVerify];
