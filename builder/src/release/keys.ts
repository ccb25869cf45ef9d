/**
 * The release signing key: ECDSA P-256 (the key type @sigstore/verify checks with SHA-256 by
 * default, and that `keycast release keygen` makes), stored as PKCS#8 PEM with file mode
 * 0600. Its identity is the SHA-256 of the DER SPKI, used as the bundle's `publicKey.hint`.
 * The private key never leaves this module in an error or log line.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { secretFileModeProblem, secretFileText } from '#verifier/build';
import { BuilderError } from '../errors.ts';

export interface SigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** SPKI PEM of the public key. */
  publicKeyPem: string;
  /** Lowercase hex SHA-256 of the DER SPKI. */
  hint: string;
}

/**
 * Reads a signing key file under the verifier's secret-file policy (owner-only mode, checked on
 * the open descriptor before reading). A file that cannot be opened throws node's own error
 * (ENOENT, EACCES: exit 6); an exposed or non-text file is KEY_INVALID.
 */
export function readSigningKeyFile(path: string): string {
  const fd = openSync(path, 'r');
  try {
    const mode = fstatSync(fd).mode;
    const problem = secretFileModeProblem(mode);
    if (problem)
      throw new BuilderError('KEY_INVALID', `signing key ${path} is ${problem}`, { path, mode: mode & 0o777 });
    const text = secretFileText(readFileSync(fd));
    if (text === null)
      throw new BuilderError('KEY_INVALID', `signing key ${path} is empty or not UTF-8 text`, { path });
    return text;
  } finally {
    closeSync(fd);
  }
}

/** Parses a P-256 private key PEM (PKCS#8 or SEC1). Throws BuilderError KEY_INVALID (no key material in it). */
export function loadSigningKey(pem: string): SigningKey {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    throw new BuilderError('KEY_INVALID', 'the signing key is not a PEM private key');
  }
  if (privateKey.asymmetricKeyType !== 'ec' || privateKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new BuilderError('KEY_INVALID', 'the signing key must be ECDSA P-256', {
      keyType: privateKey.asymmetricKeyType ?? null,
    });
  }
  const publicKey = createPublicKey(privateKey);
  const der = publicKey.export({ format: 'der', type: 'spki' });
  return {
    privateKey,
    publicKey,
    publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    hint: createHash('sha256').update(der).digest('hex'),
  };
}

/** A fresh P-256 key pair as PEM: `privateKeyPem` (PKCS#8, keep secret) and `publicKeyPem` (SPKI). */
export function generateSigningKey(): { privateKeyPem: string; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
  };
}
