/**
 * The forwarding core: one content-key delivery per allowed recipient, then a signed receipt.
 * Pure (node:crypto only); the runtime mounts it behind POST /v1/forward.
 *
 *   forward(opened, keys, emit) → { receipt, recipients, prove(i) }
 *
 * `opened` comes from openForwardRequest (every check already passed, so nothing can be refused
 * half-way). For each recipient in request order it builds the output — a signed SMPTE ST 430-1
 * KDM, or for non-DCI receivers a `raw-rsa-oaep` document (each key's 138-byte block under
 * RSA-OAEP-SHA256) or a `raw-hpke` one (the same blocks under HPKE, forwardRawHpke) — hands it to `emit` (which may stream it out and drop it: peak memory does not
 * grow with the request), and adds (thumbprint, SHA-256(output)) to the receipt's Merkle tree.
 * The receipt is signed last by the enclave's receipt key.
 *
 * forwardRange() does the same for a slice of recipients and returns the output digests, so
 * several worker threads can share one request; receiptFor() then signs over all of them.
 */
import type { KeyObject } from 'node:crypto';
import type { DeliveryProof, Receipt } from '#verifier';
import {
  DeliveryTree,
  buildKdmBytes,
  encodeKeyBlock,
  parseInstant,
  rawRsaOaepSealer,
  sealRawHpkeDelivery,
  sha256,
  signReceipt,
  type KdmSigner,
  type RawRsaOaepSealer,
} from '#verifier/build';
import { EnclaveError } from '../../common/errors.ts';
import type { OpenedForward } from './request.ts';
import type { Recipient } from './recipients.ts';

/** The enclave's signing keys and identity, as the runtime holds them after first boot. */
export interface ForwardKeys {
  /** the ST 430-2 KDM signer (chain leaf first + leaf private key), see kdmSigner() */
  signer: KdmSigner;
  /** Ed25519 (or P-256) key that signs receipts; its public half is bound in the attestation */
  receiptKey: KeyObject;
  /** this release's PCR0 (48 bytes) */
  pcr0: Uint8Array;
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

export interface ForwardResult {
  /** the signed receipt (DSSE envelope JSON text) */
  receipt: string;
  recipients: number;
  /** inclusion proof of delivery i against the receipt's root */
  prove(index: number): DeliveryProof;
}

const pad2 = (n: number) => String(n).padStart(2, '0');
/** `YYYY-MM-DDThh:mm:ss+00:00`: the 25-character KDM time form. */
export function kdmTime(d: Date): string {
  return `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}T${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}+00:00`;
}

/**
 * The 138-byte blocks are the same for every recipient of a request: encoded once per request
 * (and signer) and zeroed by wipe(), instead of once per recipient.
 */
const BLOCKS = new WeakMap<OpenedForward, { thumbprint: Uint8Array; blocks: Uint8Array[]; rsa?: RawRsaOaepSealer }>();

function blocksFor(o: OpenedForward, signer: KdmSigner): Uint8Array[] {
  const hit = BLOCKS.get(o);
  if (hit && Buffer.compare(hit.thumbprint, signer.thumbprint) === 0) return hit.blocks;
  const w = o.rules.rules.kdmWindow;
  const blocks = o.film.keys.map((k) =>
    encodeKeyBlock({
      signerThumbprint: signer.thumbprint,
      cplId: o.film.cplId,
      keyType: k.type,
      keyId: k.id,
      notBefore: w.notBefore,
      notAfter: w.notAfter,
      key: k.key,
    }),
  );
  if (hit) for (const b of hit.blocks) b.fill(0);
  BLOCKS.set(o, { thumbprint: signer.thumbprint, blocks });
  return blocks;
}

/**
 * One raw-hpke recipient's output: the raw-rsa-oaep payload (each key's 138-byte block) sealed
 * with HPKE to the certificate's X25519 key, bound to its thumbprint, the CPL and the request.
 */
export function deliverRawHpke(o: OpenedForward, r: Recipient, signer: KdmSigner): Promise<Uint8Array> {
  const w = o.rules.rules.kdmWindow;
  const blocks = blocksFor(o, signer);
  return sealRawHpkeDelivery(
    r.certificate.publicKey,
    {
      recipient: r.thumbprint,
      cplId: o.film.cplId,
      requestDigest: o.requestDigest,
      notBefore: w.notBefore,
      notAfter: w.notAfter,
    },
    o.film.keys.map((k, i) => ({ id: k.id, type: k.type, block: blocks[i]! })),
  );
}

/** The request's raw-rsa-oaep writer (verifier/src/forward/raw-rsa-oaep.ts), over its cached blocks. */
function rsaSealerFor(o: OpenedForward, signer: KdmSigner): RawRsaOaepSealer {
  const blocks = blocksFor(o, signer);
  const entry = BLOCKS.get(o)!;
  if (!entry.rsa) {
    const w = o.rules.rules.kdmWindow;
    entry.rsa = rawRsaOaepSealer(
      { cplId: o.film.cplId, notBefore: w.notBefore, notAfter: w.notAfter },
      o.film.keys.map((k, i) => ({ id: k.id, type: k.type, block: blocks[i]! })),
    );
  }
  return entry.rsa;
}

/** One recipient's output bytes (kdm or raw-rsa-oaep; raw-hpke is deliverRawHpke). */
export function deliver(o: OpenedForward, r: Recipient, signer: KdmSigner): Uint8Array {
  if (o.format === 'raw-hpke') throw new RangeError('deliver: raw-hpke is asynchronous, use deliverRawHpke');
  const w = o.rules.rules.kdmWindow;
  if (o.format === 'kdm') {
    return buildKdmBytes({
      cplId: o.film.cplId,
      title: o.rules.rules.film.title,
      keys: o.film.keys,
      notBefore: w.notBefore,
      notAfter: w.notAfter,
      issueDate: kdmTime(o.now),
      recipient: r.certificate,
      signer,
    });
  }
  return rsaSealerFor(o, signer).seal(r.certificate.publicKey, r.thumbprint);
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

/** Delivers recipients [from, to) to `emit`; returns their output digests (32 bytes each) in order. */
export function forwardRange(
  o: OpenedForward,
  signer: KdmSigner,
  from: number,
  to: number,
  emit: (out: ForwardOutput) => void,
): Uint8Array[] {
  if (o.format === 'kdm') checkSignerValidity(o, signer);
  const digests: Uint8Array[] = [];
  for (let i = from; i < to; i++) {
    const r = o.recipients[i]!;
    const bytes = deliver(o, r, signer);
    digests.push(sha256(bytes));
    emit({ index: r.index, thumbprint: r.thumbprint, subject: r.certificate.subject, format: o.format, bytes });
  }
  return digests;
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
    pcr0: Buffer.from(keys.pcr0).toString('hex'),
    time: meta.now.toISOString(),
    format: meta.format,
    recipients: tree.size,
    root: Buffer.from(tree.root()).toString('hex'),
  };
  return { receipt: signReceipt(receipt, keys.receiptKey), recipients: tree.size, prove: (i) => tree.prove(i) };
}

/** The whole request on this thread: every output to `emit`, then the signed receipt. */
export function forward(o: OpenedForward, keys: ForwardKeys, emit: (out: ForwardOutput) => void): ForwardResult {
  if (o.format === 'kdm') checkSignerValidity(o, keys.signer);
  const digests = forwardRange(o, keys.signer, 0, o.recipients.length, emit);
  return receiptFor(o, keys, digests);
}

/**
 * forward() for raw-hpke requests: @hpke/core is asynchronous, so recipients are sealed one after
 * another with await (still in request order, each emitted as soon as it is sealed); the KDM and
 * raw-rsa-oaep paths stay on the synchronous forward().
 */
export async function forwardRawHpke(
  o: OpenedForward,
  keys: ForwardKeys,
  emit: (out: ForwardOutput) => void,
): Promise<ForwardResult> {
  if (o.format !== 'raw-hpke') throw new RangeError('forwardRawHpke: raw-hpke requests only');
  const digests: Uint8Array[] = [];
  for (const r of o.recipients) {
    const bytes = await deliverRawHpke(o, r, keys.signer);
    digests.push(sha256(bytes));
    emit({ index: r.index, thumbprint: r.thumbprint, subject: r.certificate.subject, format: o.format, bytes });
  }
  return receiptFor(o, keys, digests);
}

/** Drops the content keys from memory once a request is done. */
export function wipe(o: OpenedForward): void {
  for (const k of o.film.keys) k.key.fill(0);
  for (const b of BLOCKS.get(o)?.blocks ?? []) b.fill(0);
  BLOCKS.delete(o);
}
