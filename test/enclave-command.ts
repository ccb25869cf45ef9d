/**
 * Runs a `keycast` command of enclave/ (kms-policy, dev-kms, …) in this process, the way the CLI
 * dispatches it (longest matching path), with its stdout lines collected and its stderr dropped.
 */
import { commands } from '../enclave/cli.ts';

export async function runEnclaveCommand(args: string[]): Promise<{ code: number; out: string }> {
  const cmd = commands
    .filter((c) => c.path.every((w, i) => args[i] === w))
    .sort((a, b) => b.path.length - a.path.length)[0]!;
  const lines: string[] = [];
  const log = console.log;
  const write = process.stderr.write.bind(process.stderr);
  console.log = (...a: unknown[]) => void lines.push(a.join(' '));
  process.stderr.write = (() => true) as typeof process.stderr.write;
  try {
    return { code: await cmd.run(args.slice(cmd.path.length)), out: lines.join('\n') };
  } finally {
    console.log = log;
    process.stderr.write = write;
  }
}
