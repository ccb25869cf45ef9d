/**
 * The log's checkpoint key (c2sp.org/signed-note Ed25519, type 0x01) and its identity.
 *
 * The key name is the origin (c2sp.org/tlog-checkpoint: "the log's key name SHOULD equal the
 * origin"); the log ID is the untruncated C2SP key hash SHA-256(origin ‖ 0x0A ‖ 0x01 ‖ pub), as
 * Rekor v2 uses for Sigstore's `logId.keyId`. The private key lives in DATA/log.key (mode 0600)
 * and is never logged or put into an error.
 */
import { writeFileSync } from 'node:fs';
import { noteVerifier, parseVerifierKey, openNote } from '#verifier';
import { noteSigner, signNote, generateNoteKey, logIdFor } from '#verifier/build';
import type { NoteVerifier } from '#verifier';
import type { NoteSigner } from '#verifier/build';
import { LogError } from './errors.ts';
import { readSecretFile } from './secret-file.ts';

export interface LogKey {
  origin: string;
  vkey: string;
  signer: NoteSigner;
  verifier: NoteVerifier;
  /** Raw 32-byte Ed25519 public key. */
  publicKey: Uint8Array;
  /** SHA-256(origin ‖ 0x0A ‖ 0x01 ‖ publicKey). */
  logId: Uint8Array;
}

/** A fresh key pair for `origin`. */
export function newLogKey(origin: string): { skey: string; vkey: string } {
  return generateNoteKey(origin);
}

/** Writes the private key with mode 0600, refusing to overwrite. */
export function writeKeyFile(path: string, skey: string): void {
  try {
    writeFileSync(path, skey + '\n', { mode: 0o600, flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST')
      throw new LogError('DATA_EXISTS', `refusing to overwrite key file ${path}`, { path });
    throw e;
  }
}

export function readKeyFile(path: string): string {
  return readSecretFile(path, 'log key');
}

/**
 * Binds the private key to the log's recorded vkey and origin. Fails closed (KEY_INVALID or
 * STARTUP_MISMATCH) unless a probe note signed with the key verifies under the vkey.
 */
export function loadLogKey(skey: string, vkey: string, origin: string): LogKey {
  let signer: NoteSigner;
  let verifier: NoteVerifier;
  try {
    signer = noteSigner(skey);
    verifier = noteVerifier(vkey);
  } catch (e) {
    throw new LogError('KEY_INVALID', 'the log key or verifier key is malformed', { vkey }, { cause: e });
  }
  if (signer.name !== origin || verifier.name !== origin) {
    throw new LogError('STARTUP_MISMATCH', 'the key name is not the log origin', {
      origin,
      keyName: signer.name,
      vkeyName: verifier.name,
    });
  }
  try {
    openNote(signNote('keycast key probe\n', [signer]), [verifier]);
  } catch (e) {
    throw new LogError(
      'STARTUP_MISMATCH',
      'the private key does not match the log verifier key',
      { vkey },
      { cause: e },
    );
  }
  const publicKey = parseVerifierKey(vkey).publicKey;
  return { origin, vkey, signer, verifier, publicKey, logId: logIdFor(origin, publicKey) };
}
