/**
 * The OIDC identity token a keyless signature needs, from (first that is given):
 *  1. `--identity-token TOKEN`;
 *  2. `--identity-token-file FILE` (the whole file, trimmed; e.g. a CI secret mount);
 *  3. the SIGSTORE_ID_TOKEN environment variable;
 *  4. GitHub Actions' ambient token: with `permissions: id-token: write` the runner sets
 *     ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN, and a GET of the URL with
 *     `audience=sigstore` and the request token as bearer answers `{"value": "<JWT>"}`.
 * The token is a bearer credential: it is never printed, and no error carries it (or the request
 * token). Failures are SIGN_FAILED; nothing given at all is a usage error.
 */
import { readFileSync } from 'node:fs';
import { BuilderError } from '../errors.ts';
import { usageError, type Flags } from '#flag-kit';

export type TokenFetch = (
  url: string,
  init: { headers: Record<string, string>; signal: AbortSignal },
) => Promise<{
  ok: boolean;
  status: number;
  text(): Promise<string>;
}>;

const MAX_TOKEN_BYTES = 64 * 1024;

function checked(token: string, from: string): string {
  const t = token.trim();
  if (t === '' || t.length > MAX_TOKEN_BYTES || /\s/.test(t))
    throw new BuilderError('SIGN_FAILED', `the identity token from ${from} is empty or not a single token`);
  return t;
}

/** GitHub Actions' ambient OIDC token for audience "sigstore". */
export async function githubActionsToken(
  env: NodeJS.ProcessEnv,
  fetchFn: TokenFetch = globalThis.fetch as unknown as TokenFetch,
): Promise<string> {
  const url = env.ACTIONS_ID_TOKEN_REQUEST_URL;
  const bearer = env.ACTIONS_ID_TOKEN_REQUEST_TOKEN;
  if (!url || !bearer) throw new BuilderError('SIGN_FAILED', 'no GitHub Actions OIDC token request is available');
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new BuilderError('SIGN_FAILED', 'ACTIONS_ID_TOKEN_REQUEST_URL is not a URL');
  }
  u.searchParams.set('audience', 'sigstore');
  let body: string;
  try {
    const res = await fetchFn(u.href, {
      headers: { authorization: `bearer ${bearer}`, accept: 'application/json' },
      signal: AbortSignal.timeout(30_000),
    });
    body = await res.text();
    if (!res.ok) throw new BuilderError('SIGN_FAILED', `the GitHub Actions token request answered HTTP ${res.status}`);
  } catch (e) {
    if (e instanceof BuilderError) throw e;
    throw new BuilderError('SIGN_FAILED', `the GitHub Actions token request failed (${(e as Error).name})`);
  }
  let value: unknown;
  try {
    value = (JSON.parse(body) as { value?: unknown }).value;
  } catch {
    value = undefined;
  }
  if (typeof value !== 'string') throw new BuilderError('SIGN_FAILED', 'the GitHub Actions token answer has no value');
  return checked(value, 'GitHub Actions');
}

/** The token for `--keyless`, by the order in the file comment. */
export async function identityToken(
  f: Flags,
  env: NodeJS.ProcessEnv = process.env,
  fetchFn?: TokenFetch,
): Promise<string> {
  const flag = f['identity-token'] ?? f['id-token'];
  if (typeof flag === 'string') return checked(flag, '--identity-token');
  const file = f['identity-token-file'];
  if (typeof file === 'string') {
    const text = readFileSync(file, 'utf8');
    return checked(text, '--identity-token-file');
  }
  if (env.SIGSTORE_ID_TOKEN) return checked(env.SIGSTORE_ID_TOKEN, 'SIGSTORE_ID_TOKEN');
  if (env.ACTIONS_ID_TOKEN_REQUEST_URL && env.ACTIONS_ID_TOKEN_REQUEST_TOKEN) return githubActionsToken(env, fetchFn);
  throw usageError(
    '--keyless needs an OIDC token: --identity-token, --identity-token-file, SIGSTORE_ID_TOKEN, or GitHub Actions with id-token: write',
  );
}
