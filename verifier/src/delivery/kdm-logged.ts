/**
 * The proof that one KDM is on the record (issue 19), written by `keycast forward` beside each
 * output as `<output>.logged.json` and checked by `keycast kdm logged`:
 *
 *   {"type":"keycast-kdm-logged/v1","entryIndex":N,"delivery":<DeliveryProof (forward/receipt.ts)>}
 *
 * The delivery proof leads from the KDM (its digest and its recipient's thumbprint) to the root a
 * logged delivery entry signs; the entry's inclusion in the log is checked against a checkpoint
 * (the CLI's part). A projector's owner learns nothing about other screens: the proof carries
 * sibling hashes only. Pure.
 */
import { createHash } from 'node:crypto';
import { VerifierError } from '../errors.ts';
import { exactKeys, isObject, parseJsonStrict } from '../encoding/canonical-json.ts';
import { toHex } from '../encoding/bytes.ts';
import { checkDelivery, parseDeliveryProof, type DeliveryProof } from '../forward/receipt.ts';
import type { DeliveryEntry } from './entry.ts';

export const KDM_LOGGED_TYPE = 'keycast-kdm-logged/v1';

export interface KdmLoggedProof {
  type: typeof KDM_LOGGED_TYPE;
  entryIndex: number;
  delivery: DeliveryProof;
}

/** The proof file's text (JSON, one trailing newline). */
export function formatKdmLoggedProof(entryIndex: number, delivery: DeliveryProof): string {
  if (!Number.isSafeInteger(entryIndex) || entryIndex < 0) throw new RangeError('entryIndex must be an index');
  const p: KdmLoggedProof = { type: KDM_LOGGED_TYPE, entryIndex, delivery: parseDeliveryProof(delivery) };
  return `${JSON.stringify(p, null, 2)}\n`;
}

/** Parses a proof file. Throws MALFORMED (framing), RECEIPT_INVALID (the delivery proof), OVERSIZED. */
export function parseKdmLoggedProof(text: string | Uint8Array): KdmLoggedProof {
  let v: unknown;
  try {
    v = parseJsonStrict(text, 64 * 1024, 'kdm-logged proof');
  } catch (e) {
    if (e instanceof VerifierError && e.code === 'OVERSIZED') throw e;
    throw new VerifierError('MALFORMED', 'the proof file is not JSON', {}, { cause: e });
  }
  if (!isObject(v) || v.type !== KDM_LOGGED_TYPE)
    throw new VerifierError('MALFORMED', `the proof file is not a ${KDM_LOGGED_TYPE} proof`);
  try {
    exactKeys(v, ['type', 'entryIndex', 'delivery'], [], 'proof');
  } catch (e) {
    throw new VerifierError('MALFORMED', (e as Error).message);
  }
  if (!Number.isSafeInteger(v.entryIndex) || (v.entryIndex as number) < 0)
    throw new VerifierError('MALFORMED', 'proof.entryIndex must be a log index');
  return { type: KDM_LOGGED_TYPE, entryIndex: v.entryIndex as number, delivery: parseDeliveryProof(v.delivery) };
}

/**
 * Checks that `kdm` (the bytes received) addressed to `thumbprint` (base64 SHA-1 of its recipient
 * certificate's TBSCertificate, read from the KDM) is a delivery under `entry` (a delivery entry
 * already opened and proved logged). Throws RECEIPT_INVALID naming what differs.
 */
export function checkKdmLogged(entry: DeliveryEntry, proof: KdmLoggedProof, kdm: Uint8Array, thumbprint: string): void {
  const digest = toHex(createHash('sha256').update(kdm).digest());
  if (digest !== proof.delivery.outputDigest)
    throw new VerifierError('RECEIPT_INVALID', 'the KDM is not the output the proof names', {
      outputDigest: digest,
      proved: proof.delivery.outputDigest,
    });
  if (thumbprint !== proof.delivery.thumbprint)
    throw new VerifierError('RECEIPT_INVALID', "the proof names another recipient than the KDM's", {
      thumbprint,
      proved: proof.delivery.thumbprint,
    });
  checkDelivery({ recipients: entry.count, root: entry.root }, proof.delivery, kdm);
}
