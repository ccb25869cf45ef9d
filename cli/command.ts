/**
 * The shape every folder's `cli.ts` exports as `commands`. Folders do not import this file
 * (nothing imports across folders but `#verifier`); they match it structurally.
 */
export interface Command {
  /** Words after `keycast`, e.g. ['log', 'init']. */
  path: string[];
  /** One line for `keycast --help`. */
  summary: string;
  /** Full help text for `keycast <path> --help`. */
  help: string;
  /** Runs the command; resolves to an exit code. Throws coded errors (mapped by exit-codes.ts). */
  run(args: string[]): Promise<number>;
}
