/**
 * The `keycast` of the studio package `@keycast/verifier` (verifier/package.json): the same
 * dispatch, help, exit codes and error output as the full command, with only the verifier's
 * commands registered. scripts/build-verifier-package.mjs bundles this file with main.ts's
 * `./groups.ts` swapped for `./groups-verifier.ts`, so no builder, log server, enclave, SQLite,
 * fastify or AWS SDK code is in the bundle.
 */
import { main } from './main.ts';

process.exitCode = await main(process.argv.slice(2));
