/**
 * Every subcommand, gathered from each folder's public `cli.ts`. Loaded lazily so that
 * `keycast verify …` does not pay for SQLite or the AWS SDK.
 */
import type { Command } from './command.ts';

type Loader = () => Promise<{ commands: Command[] }>;

export const LOADERS: Record<string, Loader> = {};

/** Registers a folder's command group under its first word(s). */
export function group(words: string[], load: Loader): void {
  for (const w of words) LOADERS[w] = load;
}
