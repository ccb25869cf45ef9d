/**
 * The policy for files that hold a private key (log and witness note keys, release signing keys,
 * the simulator's test PKI): only the owner may access the file, and its content is UTF-8 text.
 * Pure, so every folder applies the same rule: each folder opens the file, passes the mode from
 * fstat of the open descriptor here before reading (so an exposed key is refused unread, and the
 * file checked is the file read), then passes the bytes to secretFileText.
 */

/** st_mode bits a private key file must not have: any access for group or others. */
export const SECRET_FILE_FORBIDDEN_BITS = 0o077;

/** Why a file with this st_mode must not hold a private key, or null when only its owner has access. */
export function secretFileModeProblem(mode: number): string | null {
  if ((mode & SECRET_FILE_FORBIDDEN_BITS) === 0) return null;
  return `accessible by group or others (mode ${(mode & 0o777).toString(8).padStart(3, '0')}; chmod 600)`;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The key text of a secret file: strict UTF-8, surrounding whitespace trimmed; null if not text or empty. */
export function secretFileText(bytes: Uint8Array): string | null {
  let text: string;
  try {
    text = utf8.decode(bytes).trim();
  } catch {
    return null;
  }
  return text === '' ? null : text;
}
