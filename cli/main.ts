/**
 * `keycast` entry: dispatch to the command whose path matches the longest prefix of argv,
 * print coded errors (text, or JSON with --json) and return a stable exit code.
 */
import type { Command } from './command.ts';
import { compareUtf8, errorText } from '#verifier';
import { EXIT, exitCodeFor, isCoded } from './exit-codes.ts';
import { LOADERS } from './registry.ts';
import './groups.ts';

async function allCommands(): Promise<Command[]> {
  // Several first words may share a module (log, witness); modules are cached, so the same
  // command objects come back and a Set removes the repeats.
  const all = new Set<Command>();
  for (const load of Object.values(LOADERS)) for (const c of (await load()).commands) all.add(c);
  return [...all];
}

function usage(cmds: Command[]): string {
  const lines = cmds
    .map((c) => [c.path.join(' '), c.summary] as const)
    .sort((a, b) => compareUtf8(a[0], b[0]))
    .map(([p, s]) => `  keycast ${p.padEnd(24)} ${s}`);
  return [
    'keycast — verifiable AWS Nitro Enclave releases',
    '',
    'Usage: keycast <command> [flags]   (keycast <command> --help for details)',
    '',
    'Commands:',
    ...lines,
    '',
    'Exit codes: 0 ok, 1 verification failed, 2 usage, 3 log error, 4 build error,',
    '            5 enclave error, 6 I/O error, 70 internal error.',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  const first = argv[0];
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    console.log(usage(await allCommands()));
    return first === undefined ? EXIT.USAGE : EXIT.OK;
  }
  const load = LOADERS[first];
  if (!load) {
    console.error(`keycast: unknown command '${first}' (try keycast --help)`);
    return EXIT.USAGE;
  }
  const { commands } = await load();
  const cmd = commands
    .filter((c) => c.path.every((w, i) => argv[i] === w))
    .sort((a, b) => b.path.length - a.path.length)[0];
  if (!cmd) {
    console.error(`keycast: unknown command '${argv.slice(0, 2).join(' ')}'. Commands in this group:`);
    for (const c of commands) console.error(`  keycast ${c.path.join(' ')}  ${c.summary}`);
    return EXIT.USAGE;
  }
  const rest = argv.slice(cmd.path.length);
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(cmd.help);
    return EXIT.OK;
  }
  try {
    return await cmd.run(rest);
  } catch (e) {
    return report(e, json);
  }
}

function report(e: unknown, json: boolean): number {
  const code = exitCodeFor(e);
  if (json) {
    const body = isCoded(e)
      ? typeof (e as { toJSON?: () => unknown }).toJSON === 'function'
        ? (e as unknown as { toJSON: () => unknown }).toJSON()
        : { error: e.name, code: e.code, message: e.message, evidence: e.evidence ?? {} }
      : { error: 'Error', code: 'INTERNAL', message: e instanceof Error ? e.message : String(e) };
    console.log(JSON.stringify(body, null, 2));
  } else if (e instanceof Error && e.name === 'UsageError') {
    console.error(`keycast: ${e.message} (see --help)`);
  } else if (isCoded(e)) {
    console.error(`keycast: ${errorText(e)}`); // CODE: message
  } else {
    console.error(`keycast: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  }
  return code;
}
