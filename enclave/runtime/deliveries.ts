/**
 * Delivery transparency inside the enclave (issue 19): with `"deliveries": { "required": true }`
 * pinned in the image's config, no forward output leaves the enclave usable before its delivery
 * entry is on the pinned log.
 *
 *  1. POST /v1/forward builds everything as before (outputs, receipt), then the delivery entry
 *     (#verifier/build signDeliveryEntry, signed by the receipt key) and the manifest (who received what,
 *     #verifier/build sealManifest to the rules' `audit` key), encrypts the whole answer under a fresh
 *     AES-256-GCM key K (forward/delivery-answer.ts) and answers 202 with the *pending* result
 *     `{ pending: true, requestDigest, entry, manifest, sealed }`. K stays here, in memory.
 *  2. The host submits the entry to the log and brings the log's answer to
 *     POST /v1/forward/release `{ requestDigest, transparencyLogEntry }`; K is handed out
 *     (`{ requestDigest, key }`) only if that entry proves exactly this delivery's leaf under a
 *     checkpoint signed by the pinned log key with the pinned origin (#verifier checkLoggedLeaf),
 *     and only once: the pending delivery is then gone (409 DELIVERY_NOT_PENDING).
 *
 * A retry of the same request while it is pending answers the SAME pending result (same entry),
 * so a lost answer or a log outage cannot make two entries; the replay claim stays taken while
 * pending and becomes final on release. Pending deliveries are bounded (count and bytes:
 * DELIVERY_PENDING_FULL past either) and expire (the TTL, or the request's own expiry if sooner):
 * an expired one is dropped with its key and its replay claim given back. Rules without `audit`
 * are refused FORWARD_AUDIT_REQUIRED before anything is emitted.
 */
import { createHash, type KeyObject } from 'node:crypto';
import {
  isVerifierError,
  noteVerifier,
  rulesAuditKey,
  checkLoggedLeaf,
  type EnclaveConfig,
  type NoteVerifier,
  type Measurement,
} from '#verifier';
import {
  cplIdDigest,
  deliveryEntryLeaf,
  receiptKeyBase64,
  sealManifest,
  signDeliveryEntry,
  toBase64,
  toHex,
  type SignedEnvelope,
} from '#verifier/build';
import { EnclaveError } from '../common/errors.ts';
import { sealPendingAnswer } from '../common/delivery-answer.ts';
import { forwardRequestDigest, validateForwardRequest, type OpenedForward } from './forward/request.ts';

/** The 202 body of a pending forward (nothing in it is usable without K). */
export interface PendingAnswer {
  pending: true;
  requestDigest: string;
  /** the signed delivery entry (DSSE envelope object) the host submits to the log */
  entry: SignedEnvelope;
  /** base64 of the sealed manifest the host submits with it */
  manifest: string;
  /** base64 of the answer sealed under K */
  sealed: string;
}

interface Pending {
  key: Buffer;
  leaf: Uint8Array;
  answer: PendingAnswer;
  bytes: number;
  until: number;
  unclaim: () => void;
}

export interface DeliveryOptions {
  config: EnclaveConfig;
  /** pending deliveries held at once (default 64) */
  maxPending?: number;
  /** bytes of pending answers held at once (default 256 MiB) */
  maxPendingBytes?: number;
  /** how long a delivery stays pending at most, ms (default 10 minutes; the request's expiry if sooner) */
  ttlMs?: number;
  /** ms clock (default Date.now) */
  now?: () => number;
}

/** What the forward route hands over once the engine has built the outputs and the receipt. */
export interface BuiltForward {
  opened: OpenedForward;
  /** the rules field of the request, as given (the manifest carries it) */
  rulesText: string;
  /** the receipt envelope JSON text */
  receipt: string;
  /** per recipient, request order: the engine's thumbprint, subject and output digest */
  recipients: Array<{ thumbprint: string; subject: string; outputDigest: string }>;
  /** the answer as the enclave would have sent it without deliveries (JSON bytes) */
  answer: Uint8Array;
  receiptKey: KeyObject;
  pcr0: Measurement;
  releaseIndex: number;
  /** gives the request's replay claim back (when the pending delivery expires unreleased) */
  unclaim: () => void;
}

/** The root a receipt envelope signs (its payload's `root`): the entry must name the same. */
function receiptRoot(receipt: string): string {
  const env = JSON.parse(receipt) as { payload: string };
  return (JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8')) as { root: string }).root;
}

export class DeliveryReleases {
  private readonly pending = new Map<string, Pending>();
  private bytes = 0;
  private readonly log: NoteVerifier;
  private readonly origin: string;
  private readonly maxPending: number;
  private readonly maxBytes: number;
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(o: DeliveryOptions) {
    this.log = noteVerifier(o.config.log.vkey);
    this.origin = o.config.log.origin;
    this.maxPending = o.maxPending ?? 64;
    this.maxBytes = o.maxPendingBytes ?? 256 * 1024 * 1024;
    this.ttlMs = o.ttlMs ?? 10 * 60 * 1000;
    this.now = o.now ?? Date.now;
  }

  /** Pending deliveries held now (for metrics and tests). */
  get size(): number {
    return this.pending.size;
  }

  /** Drops expired pending deliveries: their keys are zeroed and their replay claims given back. */
  sweep(): void {
    const t = this.now();
    for (const [digest, p] of this.pending) if (p.until <= t) this.drop(digest, p, true);
  }

  private drop(digest: string, p: Pending, unclaim: boolean): void {
    this.pending.delete(digest);
    this.bytes -= p.bytes;
    p.key.fill(0);
    if (unclaim) p.unclaim();
  }

  /** The pending answer of this request body, if it is pending (a retry gets the same one). */
  again(body: unknown): PendingAnswer | null {
    this.sweep();
    if (this.pending.size === 0) return null;
    return this.pending.get(forwardRequestDigest(validateForwardRequest(body)))?.answer ?? null;
  }

  /** The rules' audit key. Throws FORWARD_AUDIT_REQUIRED when the rules name none. */
  auditKey(o: OpenedForward): Uint8Array {
    const k = rulesAuditKey(o.rules.rules);
    if (!k)
      throw new EnclaveError(
        'FORWARD_AUDIT_REQUIRED',
        'this enclave logs every delivery: the rules must name the studio audit key (audit.hpkeX25519) the manifest is sealed to',
        { rulesDigest: o.rules.digest },
      );
    return k;
  }

  /** Builds the entry and the sealed manifest, keeps K, and returns the pending answer. */
  async hold(b: BuiltForward): Promise<PendingAnswer> {
    this.sweep();
    const o = b.opened;
    if (this.pending.size >= this.maxPending || this.bytes + b.answer.length > this.maxBytes)
      throw new EnclaveError('DELIVERY_PENDING_FULL', 'the enclave holds as many pending deliveries as it allows', {
        pending: this.pending.size,
      });
    const sealedManifest = await sealManifest(
      {
        type: 'keycast-delivery-manifest/v1',
        requestDigest: o.requestDigest,
        rules: Buffer.from(b.rulesText, 'utf8').toString('base64'),
        recipients: b.recipients,
      },
      this.auditKey(o),
    );
    const entry = signDeliveryEntry(
      {
        type: 'keycast-delivery/v1',
        pcr0: b.pcr0.hex,
        releaseIndex: b.releaseIndex,
        receiptKey: receiptKeyBase64(b.receiptKey),
        rulesDigest: o.rules.digest,
        rulesSigner: o.rules.signerSpkiSha256,
        cplIdDigest: cplIdDigest(o.film.cplId),
        count: b.recipients.length,
        root: receiptRoot(b.receipt),
        requestDigest: o.requestDigest,
        time: o.now.toISOString(),
        manifest: { sha256: sealedManifest.sha256, size: sealedManifest.sealed.length },
      },
      b.receiptKey,
    );
    const { key, sealed } = sealPendingAnswer(b.answer, o.requestDigest);
    const answer: PendingAnswer = {
      pending: true,
      requestDigest: o.requestDigest,
      entry,
      manifest: toBase64(sealedManifest.sealed),
      sealed: toBase64(sealed),
    };
    const bytes = sealed.length + sealedManifest.sealed.length;
    this.pending.set(o.requestDigest, {
      key,
      leaf: deliveryEntryLeaf(entry),
      answer,
      bytes,
      until: Math.min(this.now() + this.ttlMs, o.expires.getTime()),
      unclaim: b.unclaim,
    });
    this.bytes += bytes;
    return answer;
  }

  /**
   * POST /v1/forward/release: K for `requestDigest` if `transparencyLogEntry` proves its delivery
   * leaf under the pinned log key; once. Throws DELIVERY_NOT_PENDING, DELIVERY_PROOF_INVALID,
   * REQUEST_MALFORMED.
   */
  release(body: Record<string, unknown>): { requestDigest: string; key: string; index: number } {
    for (const k of Object.keys(body))
      if (k !== 'requestDigest' && k !== 'transparencyLogEntry')
        throw new EnclaveError('REQUEST_MALFORMED', `unknown field ${k.slice(0, 64)}`, { field: k.slice(0, 64) });
    const digest = body.requestDigest;
    if (typeof digest !== 'string' || !/^[0-9a-f]{64}$/.test(digest))
      throw new EnclaveError('REQUEST_MALFORMED', 'requestDigest must be 64 lowercase hex');
    this.sweep();
    const p = this.pending.get(digest);
    if (!p)
      throw new EnclaveError(
        'DELIVERY_NOT_PENDING',
        'no delivery of this request is pending (never, expired, or already released)',
        { requestDigest: digest },
      );
    let index: number;
    try {
      index = checkLoggedLeaf(body.transparencyLogEntry, p.leaf, this.log, this.origin).index;
    } catch (e) {
      if (!isVerifierError(e)) throw e;
      throw new EnclaveError('DELIVERY_PROOF_INVALID', `the log's answer does not prove this delivery: ${e.message}`, {
        requestDigest: digest,
        cause: e.code,
        check: String(e.evidence.check ?? ''),
      });
    }
    const key = toBase64(p.key);
    this.drop(digest, p, false);
    return { requestDigest: digest, key, index };
  }
}

/** hex SHA-256 (the output digests the manifest lists). */
export const outputDigest = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');
