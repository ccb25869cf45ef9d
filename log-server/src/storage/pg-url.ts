/** PostgreSQL store URLs, without loading the client (the CLI checks flags before it serves). */

/** A URL that names a PostgreSQL store (`postgres://` or `postgresql://`). */
export function isPgUrl(s: string): boolean {
  return /^postgres(ql)?:\/\//.test(s);
}

/** The URL without its password, for messages and evidence (never a credential in an error). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://(unparsable URL)';
  }
}
