/**
 * The forwarding core: one content-key delivery per allowed recipient, then a signed receipt.
 * Pure (node:crypto only); the runtime mounts it behind POST /v1/forward.
 *
 *   forward(opened, keys, emit, hooks?) → { receipt, recipients, deliveries, prove(i) }
 *
 * `opened` comes from openForwardRequest (every check already passed, so nothing can be refused
 * half-way). The engine knows no format: it looks the request's format up in the registry
 * (#verifier/build deliveryFormat; the contract is verifier/src/forward/formats/format.ts), prepares it
 * once, then for each recipient in request order awaits its output, hands it to `emit` (which may
 * stream it out and drop it: peak memory does not grow with the request) and keeps (thumbprint,
 * subject, SHA-256(output)) — the receipt's delivery tree leaves, in request order. `hooks.built`
 * runs once every output is built, before the receipt is signed and anything is returned; the
 * receipt is signed last by the enclave's receipt key.
 *
 * forwardRange() does the same for a slice of recipients and returns its deliveries, so several
 * worker threads can share one request; receiptFor() then signs over all of them.
 */
import type { KeyObject } from 'node:crypto';
import type { DeliveryProof, Receipt } from '#verifier';
import {
  DeliveryTree,
  deliveryFormat,
  parseInstant,
  sha256,
  signReceipt,
  type KdmSigner,
  type RawRsaOaepSealer,
} from '#verifier/build';
import { EnclaveError } from '../../common/errors.ts';
import type { Measurement } from '#verifier';
import type { OpenedForward } from './request.ts';

/** The enclave's signing keys and identity, as the runtime holds them after first boot. */
export interface ForwardKeys {
  /** the ST 430-2 KDM signer (chain leaf first + leaf private key), see kdmSigner() */
  signer: KdmSigner;
  /** Ed25519 (or P-256) key that signs receipts; its public half is bound in the attestation */
  receiptKey: KeyObject;
  /** this release's PCR0 */
  pcr0: Measurement;
}

export interface ForwardOutput {
  index: number;
  /** base64 certificate thumbprint of the recipient */
  thumbprint: string;
  subject: string;
  format: OpenedForward['format'];
  /** the KDM (UTF-8 XML) or raw JSON document */
  bytes: Uint8Array;
}

/** One delivered recipient, as the receipt's delivery tree holds it. */
export interface Delivery {
  /** the recipient's place in the request */
  index: number;
  /** base64 certificate thumbprint */
  thumbprint: string;
  subject: string;
  /** SHA-256 of the output bytes */
  outputDigest: Uint8Array;
}

export interface ForwardHooks {
  /**
   * Called once every output is built (and emitted to the engine's sink), before the receipt is
   * signed and the result returned: nothing has left the caller yet. A throw refuses the request.
   */
  built?(deliveries: readonly Delivery[]): void | Promise<void>;
}

export interface ForwardResult {
  /** the signed receipt (DSSE envelope JSON text) */
  receipt: string;
  recipients: number;
  /** every delivered recipient in request order (empty from receiptFor, which gets digests only) */
  deliveries: readonly Delivery[];
  /** inclusion proof of delivery i against the receipt's root */
  prove(index: number): DeliveryProof;
}

/**
 * Throws FORWARD_SIGNER_VALIDITY unless every certificate of the signer chain is valid now and
 * through the whole KDM window (libdcp refuses to write such a KDM; a Security Manager may refuse it).
 */
export function checkSignerValidity(o: OpenedForward, signer: KdmSigner): void {
  const from = Math.min(o.now.getTime(), parseInstant(o.rules.rules.kdmWindow.notBefore));
  const to = parseInstant(o.rules.rules.kdmWindow.notAfter);
  for (const c of signer.chain) {
    if (c.notBefore.getTime() > from || c.notAfter.getTime() < to)
      throw new EnclaveError(
        'FORWARD_SIGNER_VALIDITY',
        `the KDM signer certificate ${c.subject} does not cover the KDM window`,
        { subject: c.subject, notBefore: c.notBefore.toISOString(), notAfter: c.notAfter.toISOString() },
      );
  }
}

/** Delivers recipients [from, to) to `emit`, in order; returns their deliveries in the same order. */
export async function forwardRange(
  o: OpenedForward,
  signer: KdmSigner,
  from: number,
  to: number,
  emit: (out: ForwardOutput) => void,
): Promise<Delivery[]> {
  const format = deliveryFormat(o.format);
  if (format.signed) checkSignerValidity(o, signer);
  const w = o.rules.rules.kdmWindow;
  const prepared = format.prepare({
    cplId: o.film.cplId,
    title: o.rules.rules.film.title,
    keys: o.film.keys,
    notBefore: w.notBefore,
    notAfter: w.notAfter,
    requestDigest: o.requestDigest,
    now: o.now,
    signer,
  });
  const deliveries: Delivery[] = [];
  try {
    for (let i = from; i < to; i++) {
      const r = o.recipients[i]!;
      const bytes = await prepared.deliver(r);
      const subject = r.certificate.subject;
      deliveries.push({ index: r.index, thumbprint: r.thumbprint, subject, outputDigest: sha256(bytes) });
      emit({ index: r.index, thumbprint: r.thumbprint, subject, format: o.format, bytes });
    }
  } finally {
    prepared.wipe();
  }
  return deliveries;
}

/** Signs the receipt over every recipient's (thumbprint, output digest), in request order. */
export function receiptFor(o: OpenedForward, keys: ForwardKeys, digests: Uint8Array[]): ForwardResult {
  if (digests.length !== o.thumbprints.length) throw new RangeError('receiptFor: one digest per recipient');
  return signForwardReceipt(
    { requestDigest: o.requestDigest, rulesDigest: o.rules.digest, now: o.now, format: o.format },
    keys,
    o.thumbprints,
    digests,
  );
}

/**
 * The receipt from its parts, for callers that kept only the recipients' thumbprints (raw
 * 20-byte SHA-1 of each TBSCertificate, request order) and the output digests.
 */
export function signForwardReceipt(
  meta: { requestDigest: string; rulesDigest: string; now: Date; format: OpenedForward['format'] },
  keys: ForwardKeys,
  thumbprints: Uint8Array[],
  digests: Uint8Array[],
): ForwardResult {
  if (digests.length !== thumbprints.length || digests.length === 0)
    throw new RangeError('signForwardReceipt: one digest per recipient, at least one');
  const tree = new DeliveryTree();
  for (const [i, d] of digests.entries()) tree.addDigest(thumbprints[i]!, d);
  const receipt: Receipt = {
    type: 'keycast-forward-receipt/v1',
    requestDigest: meta.requestDigest,
    rulesDigest: meta.rulesDigest,
    pcr0: keys.pcr0.hex,
    time: meta.now.toISOString(),
    format: meta.format,
    recipients: tree.size,
    root: Buffer.from(tree.root()).toString('hex'),
  };
  return {
    receipt: signReceipt(receipt, keys.receiptKey),
    recipients: tree.size,
    deliveries: [],
    prove: (i) => tree.prove(i),
  };
}

/** The whole request on this thread: every output to `emit`, then `hooks.built`, then the signed receipt. */
export async function forward(
  o: OpenedForward,
  keys: ForwardKeys,
  emit: (out: ForwardOutput) => void,
  hooks: ForwardHooks = {},
): Promise<ForwardResult> {
  const deliveries = await forwardRange(o, keys.signer, 0, o.recipients.length, emit);
  await hooks.built?.(deliveries);
  const result = receiptFor(
    o,
    keys,
    deliveries.map((d) => d.outputDigest),
  );
  return { ...result, deliveries };
}

/** Drops the content keys from memory once a request is done. */
export function wipe(o: OpenedForward): void {
  for (const k of o.film.keys) k.key.fill(0);
}
