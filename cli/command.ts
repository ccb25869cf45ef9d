/** The shape every folder's `cli.ts` exports as `commands` (defined in the kit they share). */
export type { Command } from '#flag-kit';
