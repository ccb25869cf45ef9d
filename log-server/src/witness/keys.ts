/**
 * The witness's cosignature/v1 key (c2sp.org/tlog-cosignature, Ed25519, type 0x04), kept in
 * DIR/witness.key with mode 0600. Created on first use, never overwritten, never logged.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  SIG_COSIGNATURE_V1,
  cosignatureSigner,
  cosignatureVerifierKey,
  formatSignerKey,
  isValidKeyName,
} from '#verifier/build';
import type { NoteSigner } from '#verifier/build';
import { LogError } from '../errors.ts';
import { readSecretFile } from '../secret-file.ts';

export const WITNESS_KEY_FILE = 'witness.key';

export interface WitnessKey {
  signer: NoteSigner;
  /** The cosignature/v1 verifier key logs and clients pin. */
  vkey: string;
  created: boolean;
}

/** Loads DIR/witness.key, or creates it (named `name`) if absent. */
export function loadOrCreateWitnessKey(dir: string, name: string, now?: () => number): WitnessKey {
  const path = join(dir, WITNESS_KEY_FILE);
  let created = false;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  try {
    if (!isValidKeyName(name)) throw new LogError('KEY_INVALID', 'invalid witness key name', { name });
    writeFileSync(path, formatSignerKey(name, SIG_COSIGNATURE_V1, new Uint8Array(randomBytes(32))) + '\n', {
      mode: 0o600,
      flag: 'wx',
    });
    created = true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  return { ...readWitnessKey(dir, now), created };
}

/** Reads DIR/witness.key; KEY_INVALID if missing, malformed, or readable by others. */
export function readWitnessKey(dir: string, now?: () => number): { signer: NoteSigner; vkey: string } {
  const path = join(dir, WITNESS_KEY_FILE);
  const skey = readSecretFile(path, 'witness key');
  try {
    return { signer: cosignatureSigner(skey, now), vkey: cosignatureVerifierKey(skey) };
  } catch (e) {
    throw new LogError('KEY_INVALID', 'the witness key is malformed', { path }, { cause: e });
  }
}
