/**
 * `keycast` entry: dispatch to the command whose path is the longest prefix of argv (loading
 * only the module it lives in), answer `--help`, group help, `help CMD` and `--version` from
 * the static table, print coded errors (text, or JSON with --json) and return a stable exit code.
 */
import { readFileSync } from 'node:fs';
import type { Command } from './command.ts';
import { EXIT, exitCodeFor, isCoded, normalizeError } from './exit-codes.ts';
import { LOADERS, TABLE, entriesUnder, findEntry, loaderFor, type TableEntry } from './registry.ts';
import { applyProfile } from './profile.ts';
import './groups.ts';

const EXIT_LINE = [
  'Exit codes: 0 ok, 1 verification failed, 2 usage, 3 log error, 4 build error,',
  '            5 enclave error, 6 I/O error, 70 internal error.',
];

function lines(entries: Array<{ path: string[]; summary: string }>): string[] {
  const width = Math.max(24, ...entries.map((e) => e.path.join(' ').length));
  return entries.map((e) => `  keycast ${e.path.join(' ').padEnd(width)} ${e.summary}`);
}

/** Commands of groups registered without a static table (loaded only for help). */
async function untabled(): Promise<Command[]> {
  const tabled = new Set(TABLE.map((e) => e.path[0]));
  const out = new Set<Command>();
  for (const [word, load] of Object.entries(LOADERS)) {
    if (tabled.has(word)) continue;
    for (const c of (await load()).commands) if (c.path[0] === word) out.add(c);
  }
  return [...out];
}

async function usage(): Promise<string> {
  // command words are ASCII, so code-unit order is byte order, whatever the locale
  const all = [...TABLE, ...(await untabled())]
    .map((e) => ({ ...e, key: e.path.join(' ') }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return [
    'keycast — verifiable AWS Nitro Enclave releases',
    '',
    'Usage: keycast <command> [flags]   (keycast <command> --help, or keycast help <command>)',
    '       keycast --version',
    '',
    'Commands:',
    ...lines(all),
    '',
    ...EXIT_LINE,
  ].join('\n');
}

function groupHelp(words: string[], entries: TableEntry[]): string {
  return [
    `keycast ${words.join(' ')} — commands in this group (keycast <command> --help for details):`,
    '',
    ...lines(entries),
  ].join('\n');
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return `keycast ${pkg.version}`;
}

async function commandFor(entry: TableEntry, argv: readonly string[] = []): Promise<Command> {
  const { commands } = await loaderFor(entry, argv)();
  const cmd = commands.find((c) => c.path.join(' ') === entry.path.join(' '));
  if (!cmd)
    throw new Error(`the command table names 'keycast ${entry.path.join(' ')}' but its module does not define it`);
  return cmd;
}

/** Help for the words after `keycast help` (or before `--help`): a command's, a group's, or all. */
async function help(words: string[]): Promise<number> {
  if (words.length === 0) {
    console.log(await usage());
    return EXIT.OK;
  }
  const entry = findEntry(words);
  if (entry && entry.path.length === words.length) {
    console.log((await commandFor(entry)).help);
    return EXIT.OK;
  }
  const under = entriesUnder(words);
  if (under.length > 0) {
    console.log(groupHelp(words, under));
    return EXIT.OK;
  }
  const legacy = await untabledCommand(words);
  if (legacy) {
    console.log(legacy.help);
    return EXIT.OK;
  }
  console.error(`keycast: no command 'keycast ${words.join(' ')}' (try keycast --help)`);
  return EXIT.USAGE;
}

async function untabledCommand(argv: string[]): Promise<Command | undefined> {
  if (TABLE.some((e) => e.path[0] === argv[0])) return undefined;
  const load = argv[0] === undefined ? undefined : LOADERS[argv[0]];
  if (!load) return undefined;
  return (await load()).commands
    .filter((c) => c.path.every((w, i) => argv[i] === w))
    .sort((a, b) => b.path.length - a.path.length)[0];
}

export async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  const first = argv[0];
  if (first === undefined) {
    console.error(await usage());
    return EXIT.USAGE;
  }
  if (first === '--help' || first === '-h') return help([]);
  if (first === 'help') return help(argv.slice(1).filter((a) => !a.startsWith('-')));
  if (first === '--version' || first === '-V') {
    console.log(version());
    return EXIT.OK;
  }
  try {
    const entry = findEntry(argv);
    const cmd = entry ? await commandFor(entry, argv) : await untabledCommand(argv);
    if (!cmd) {
      const flagAt = argv.findIndex((a) => a.startsWith('-'));
      const words = flagAt < 0 ? argv : argv.slice(0, flagAt);
      for (let n = words.length; n > 0; n--) {
        const under = entriesUnder(words.slice(0, n));
        if (under.length === 0) continue;
        const asked = argv.includes('--help') || argv.includes('-h');
        if (asked && n === words.length) {
          console.log(groupHelp(words, under));
          return EXIT.OK;
        }
        console.error(
          `keycast: ${n === words.length ? `'keycast ${words.join(' ')}' needs a command` : `unknown command 'keycast ${words.slice(0, n + 1).join(' ')}'`}.`,
        );
        console.error(groupHelp(words.slice(0, n), under));
        return EXIT.USAGE;
      }
      console.error(`keycast: unknown command '${first}' (try keycast --help)`);
      return EXIT.USAGE;
    }
    const rest = argv.slice(cmd.path.length);
    if (rest.includes('--help') || rest.includes('-h')) {
      console.log(cmd.help);
      return EXIT.OK;
    }
    return await cmd.run(applyProfile(cmd.path, rest));
  } catch (e) {
    return await report(e, json);
  }
}

async function report(raw: unknown, json: boolean): Promise<number> {
  // the verifier loads only on this path: --help and dispatch do not need it
  const { errorText } = await import('#verifier');
  const e = normalizeError(raw);
  const code = exitCodeFor(e);
  if (json) {
    const body = isCoded(e)
      ? typeof (e as { toJSON?: () => unknown }).toJSON === 'function'
        ? (e as unknown as { toJSON: () => unknown }).toJSON()
        : { error: e.name, code: e.code, message: e.message, evidence: e.evidence ?? {} }
      : { error: 'Error', code: 'INTERNAL', message: e instanceof Error ? e.message : String(e) };
    console.log(JSON.stringify(body, null, 2));
  } else if (e instanceof Error && e.name === 'UsageError') {
    // one pointer to the help: a message that already names it (see keycast X --help) gets no second
    console.error(`keycast: ${e.message}${/--help\b/.test(e.message) ? '' : ' (see --help)'}`);
  } else if (isCoded(e)) {
    console.error(`keycast: ${errorText(e)}`); // CODE: message
    const ev = evidenceText(e);
    if (ev !== '') console.error(ev);
  } else {
    console.error(`keycast: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  }
  return code;
}

/** A refusal's evidence for text mode (what --json gives under "evidence"), indented; '' when there is none. */
export function evidenceText(e: { evidence?: unknown }): string {
  const j =
    typeof (e as { toJSON?: unknown }).toJSON === 'function' ? (e as { toJSON(): { evidence?: unknown } }).toJSON() : e;
  const ev = j.evidence;
  if (typeof ev !== 'object' || ev === null || Object.keys(ev).length === 0) return '';
  return `evidence:\n${JSON.stringify(ev, null, 2)
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n')}`;
}
