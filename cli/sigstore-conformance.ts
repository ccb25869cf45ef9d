/**
 * A client for the Sigstore conformance suite (sigstore/sigstore-conformance), speaking its
 * command-line protocol and answering with `keycast verify bundle`:
 *
 *   CLIENT verify-bundle --bundle FILE (--certificate-identity ID --certificate-oidc-issuer URL
 *                        | --key PEM) [--trusted-root FILE] FILE_OR_DIGEST
 *
 * Exit 0 when the bundle verifies, non-zero otherwise (keycast's own codes: 1 refused, 2 usage).
 * bin/sigstore-conformance-client.mjs runs it as a process; cli/test runs every case in-process.
 */
import { main } from './main.ts';

/** The keycast argv for one conformance-protocol call, or undefined for a subcommand it does not speak. */
export function keycastArgv(argv: string[]): string[] | undefined {
  const [sub, ...rest] = argv;
  if (sub === 'verify-bundle') return ['verify', 'bundle', ...rest];
  return undefined;
}

export async function conformanceMain(argv: string[]): Promise<number> {
  const args = keycastArgv(argv);
  if (!args) {
    process.stderr.write(`sigstore-conformance-client: unsupported subcommand ${JSON.stringify(argv[0] ?? '')}\n`);
    return 2;
  }
  return main(args);
}
