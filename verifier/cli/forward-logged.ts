/**
 * `keycast forward` and a transparent enclave (issue 19): when the host's answer carries a
 * `delivery` (`{ index, transparencyLogEntry }`), keycast checks it itself before writing anything:
 *  - the log leaf (the TLE's `canonicalizedBody`) is a delivery entry signed by the receipt key
 *    of the verified enclave (#verifier decodeDeliveryEntryLeaf, openDeliveryEntry);
 *  - the entry is this batch's: its root, request digest, count, rules digest and PCR0 are the
 *    verified receipt's;
 *  - the leaf is included at `index` under a checkpoint signed by the log key (--log-key)
 *    (#verifier checkLoggedLeaf).
 * Then each output gets `<output>.logged.json` (#verifier/build formatKdmLoggedProof), which
 * `keycast kdm logged` checks against the log. Any failure is DELIVERY_NOT_LOGGED (exit 1) and
 * nothing of the answer is written.
 */
import {
  VerifierError,
  checkLoggedLeaf,
  decodeDeliveryEntryLeaf,
  isVerifierError,
  noteVerifier,
  openDeliveryEntry,
  type Receipt,
} from '../index.ts';
import { fromBase64 } from '../build.ts';

export interface LoggedDelivery {
  /** the delivery entry's index in the log */
  index: number;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function notLogged(message: string, evidence: Record<string, unknown> = {}, cause?: unknown): never {
  throw new VerifierError('DELIVERY_NOT_LOGGED', message, evidence, cause === undefined ? undefined : { cause });
}

/**
 * Checks a forward answer's `delivery` against its verified receipt, the enclave's receipt key
 * (SPKI DER) and the log key (note vkey). Returns the entry index.
 */
export function checkForwardDelivery(
  delivery: unknown,
  receipt: Receipt,
  receiptKeySpki: Uint8Array,
  logKey: string | undefined,
): LoggedDelivery {
  if (!isObject(delivery) || !Number.isSafeInteger(delivery.index) || !isObject(delivery.transparencyLogEntry))
    notLogged('the answer names a delivery without an index and a log entry');
  if (logKey === undefined)
    notLogged(
      "the enclave logs its deliveries: give --log-key (the log's verifier key) so that keycast can check the delivery is on the log before writing",
      { index: delivery.index },
    );
  const tle = delivery.transparencyLogEntry as Record<string, unknown>;
  let leaf: Uint8Array;
  try {
    leaf = fromBase64(tle.canonicalizedBody as string);
  } catch {
    return notLogged('the log entry carries no leaf');
  }
  try {
    const opened = decodeDeliveryEntryLeaf(leaf);
    openDeliveryEntry(opened.envelope, receiptKeySpki);
    const e = opened.entry;
    const want: Array<[string, unknown, unknown]> = [
      ['root', e.root, receipt.root],
      ['requestDigest', e.requestDigest, receipt.requestDigest],
      ['count', e.count, receipt.recipients],
      ['rulesDigest', e.rulesDigest, receipt.rulesDigest],
      ['pcr0', e.pcr0, receipt.pcr0],
    ];
    for (const [field, got, expected] of want)
      if (got !== expected)
        notLogged(`the logged delivery entry is not this answer's: ${field} differs`, { field, index: delivery.index });
    const at = checkLoggedLeaf(tle, leaf, noteVerifier(logKey)).index;
    if (at !== delivery.index) notLogged('the log entry is at another index than the answer says', { index: at });
    return { index: at };
  } catch (e) {
    if (isVerifierError(e) && e.code !== 'DELIVERY_NOT_LOGGED')
      notLogged(
        `the delivery is not proven to be on the log: ${e.message}`,
        { cause: e.code, index: delivery.index },
        e,
      );
    throw e;
  }
}
