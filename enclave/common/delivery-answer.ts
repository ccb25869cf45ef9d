/**
 * The pending forward answer of an enclave that logs its deliveries (issue 19): the whole answer
 * `{ requestDigest, receipt, outputs }` is encrypted with AES-256-GCM under a fresh key K that
 * only the enclave holds until the delivery is on the log. The host carries the ciphertext, and
 * opens it with K once the enclave's release route hands K out.
 *
 *   sealed = nonce (12) ‖ ciphertext ‖ tag (16), aad = utf8("keycast-pending-answer/v1 " ‖ requestDigest)
 *
 * The aad binds the request, so a K released for one request opens no other request's answer.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { EnclaveError } from './errors.ts';

const AAD_PREFIX = 'keycast-pending-answer/v1 ';
const NONCE = 12;
const TAG = 16;

const aad = (requestDigest: string) => Buffer.from(`${AAD_PREFIX}${requestDigest}`, 'utf8');

/** Encrypts `answer` under a fresh key; returns the key (32 bytes) and the sealed bytes. */
export function sealPendingAnswer(answer: Uint8Array, requestDigest: string): { key: Buffer; sealed: Buffer } {
  const key = randomBytes(32);
  const nonce = randomBytes(NONCE);
  const c = createCipheriv('aes-256-gcm', key, nonce);
  c.setAAD(aad(requestDigest));
  const ct = Buffer.concat([c.update(answer), c.final()]);
  return { key, sealed: Buffer.concat([nonce, ct, c.getAuthTag()]) };
}

/** Opens a pending answer with its released key (the host's side). Throws ENCLAVE_UNREACHABLE when it does not open. */
export function openPendingAnswer(sealed: Uint8Array, key: Uint8Array, requestDigest: string): Buffer {
  if (key.length !== 32 || sealed.length < NONCE + TAG)
    throw new EnclaveError('ENCLAVE_UNREACHABLE', 'the pending answer or its released key has the wrong size');
  const s = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  try {
    const d = createDecipheriv('aes-256-gcm', key, s.subarray(0, NONCE));
    d.setAAD(aad(requestDigest));
    d.setAuthTag(s.subarray(s.length - TAG));
    return Buffer.concat([d.update(s.subarray(NONCE, s.length - TAG)), d.final()]);
  } catch {
    throw new EnclaveError('ENCLAVE_UNREACHABLE', 'the released key does not open this pending answer', {
      requestDigest,
    });
  }
}
