/**
 * POST /v1/forward on the enclave: a studio's forward request (sealed content keys, signed
 * rules, recipient certificates; the forwarding core's format, runtime/forward/request.ts) opened
 * with the enclave's HPKE key and PCR0 behind the open gate, every recipient checked before
 * anything is emitted, then one KDM (or raw RSA-OAEP / HPKE ciphertext) per recipient and a receipt
 * signed with the enclave's receipt key. The keys come sealed, or as a DKDM addressed to the
 * identity's KDM decryption certificate (forward/dkdm-open.ts). Answer (application/json):
 *
 *   { requestDigest, receipt: <DSSE envelope JSON text>, outputs: [{ index, thumbprint, subject, format, bytes: base64 }] }
 *
 * Content keys are wiped once the answer is built. Refusals: the forwarding core's FORWARD_*
 * codes (nothing emitted), GATE_CLOSED, IDENTITY_NOT_READY, 409 FORWARD_REPLAY for a request
 * already served by this process.
 *
 * Resource limits (issue 16): the body streams through the bounded JSON reader (depth ≤ 3, a
 * value cap) before it is parsed; at most `maxConcurrent` forward requests are taken at once —
 * counted from the moment their headers arrive, before the body is read — and the next one is
 * 503 FORWARD_BUSY at once, so a burst of 32 MiB bodies cannot take more memory than the enclave
 * has. The replay claim is made after every check and released again when the answer is not
 * delivered (the request failed afterwards, or the host hung up first): a retry is then served,
 * not refused as a replay.
 */
import { getHeapStatistics } from 'node:v8';
import type { FastifyInstance } from 'fastify';
import { decodeLeaf } from '#verifier';
import { hpkeSuite, kdmSigner, type KdmSigner } from '#verifier/build';
import { EnclaveError } from '../common/errors.ts';
import { boundedForwardJson, forwardJsonBody } from '../common/http/app.ts';
import { openForwardRequest } from './forward/request.ts';
import { forward, wipe, type ForwardOutput } from './forward/engine.ts';
import { MemoryReplayGuard } from './forward/replay.ts';
import type { IdentityKeeper } from './identity/keeper.ts';
import { rawPrivate, type IdentityKeys } from './identity/keys.ts';
import type { Measurement } from '#verifier';
import type { Gatekeeper } from './gatekeeper.ts';
import { outputDigest, type DeliveryReleases } from './deliveries.ts';

/** Forward requests carry one certificate per recipient: up to 32 MiB. */
export const MAX_FORWARD_BODY = 32 * 1024 * 1024;
/**
 * What one forward request may cost at its peak: the 32 MiB body as bytes, as a string and
 * parsed, the parsed certificates and the base64 answer — measured well under this for a full
 * body (bench/forward); the default cap divides the heap by it.
 */
export const FORWARD_MEMORY_BUDGET = 512 * 1024 * 1024;

/** Forward requests taken at once by default: the heap over FORWARD_MEMORY_BUDGET, at least 1, at most 8. */
export function defaultForwardConcurrency(heapLimit = getHeapStatistics().heap_size_limit): number {
  return Math.max(1, Math.min(8, Math.floor(heapLimit / FORWARD_MEMORY_BUDGET) - 1));
}

export function forwardRoute(
  app: FastifyInstance,
  d: {
    gate: Gatekeeper;
    identity: IdentityKeeper;
    pcr0: Measurement;
    now?: () => Date;
    /** told after each served request: its output format and how many outputs it emitted */
    onForward?: (format: string, outputs: number) => void;
    /** forward requests taken at once (default defaultForwardConcurrency()) */
    maxConcurrent?: number;
    /** set when the pinned config requires logged deliveries (issue 19): answers are pending until logged */
    deliveries?: DeliveryReleases;
  },
): void {
  const replay = new MemoryReplayGuard();
  const maxConcurrent = d.maxConcurrent ?? defaultForwardConcurrency();
  let inFlight = 0;
  let cached: { keys: IdentityKeys; hpke: CryptoKey; signer: KdmSigner } | null = null;
  const material = async () => {
    const k = d.identity.current;
    if (!k) throw new EnclaveError('IDENTITY_NOT_READY', 'the enclave has not established its identity yet');
    if (cached?.keys !== k) {
      const raw = rawPrivate(k.hpke.privateKey);
      try {
        cached = {
          keys: k,
          hpke: await hpkeSuite().kem.deserializePrivateKey(raw),
          signer: kdmSigner(k.kdm.chain, k.kdm.privateKey),
        };
      } finally {
        raw.fill(0);
      }
    }
    return cached;
  };

  const route = {
    bodyLimit: MAX_FORWARD_BODY,
    // counted from the headers on, released when the connection is done with the answer
    onRequest: async (_req: unknown, reply: { raw: NodeJS.EventEmitter }) => {
      if (inFlight >= maxConcurrent)
        throw new EnclaveError('FORWARD_BUSY', 'the enclave is serving as many forward requests as its memory allows', {
          maxConcurrent,
        });
      inFlight++;
      reply.raw.once('close', () => inFlight--);
    },
    preParsing: boundedForwardJson,
  };
  app.post('/v1/forward', route, async (req, reply) => {
    d.gate.requireOpen();
    const m = await material();
    const body = forwardJsonBody(req);
    // a retry while its delivery is pending gets the same pending answer (same entry): one entry per request
    const again = d.deliveries?.again(body);
    if (again) return reply.status(202).send(again);
    const opened = await openForwardRequest(body, {
      hpkePrivateKey: m.hpke,
      pcr0: d.pcr0,
      now: d.now?.() ?? new Date(),
      replay,
      // keys in as a DKDM: the identity's decryption key, and who published this release (the gate verified its entry)
      dkdm: { identity: m.keys, publishers: [decodeLeaf(d.gate.openRelease().entry).signer.spkiSha256] },
    });
    // claimed: from here on, an answer that does not reach the host gives the claim back
    let delivered = false;
    reply.raw.once('close', () => {
      if (!delivered && !reply.raw.writableFinished) replay.release(opened.requestDigest);
    });
    const outputs: Array<Omit<ForwardOutput, 'bytes'> & { bytes: string }> = [];
    try {
      const keys = { signer: m.signer, receiptKey: m.keys.receipts.privateKey, pcr0: d.pcr0 };
      if (d.deliveries) d.deliveries.auditKey(opened);
      const listed: Array<{ thumbprint: string; subject: string; outputDigest: string }> = [];
      const emit = (o: ForwardOutput) => {
        outputs.push({ ...o, bytes: Buffer.from(o.bytes).toString('base64') });
        if (d.deliveries)
          listed.push({ thumbprint: o.thumbprint, subject: o.subject, outputDigest: outputDigest(o.bytes) });
      };
      const r = await forward(opened, keys, emit);
      // the outputs are built without I/O: let a hang-up that arrived meanwhile be seen before answering
      await new Promise((r) => setImmediate(r));
      if (reply.raw.destroyed || req.raw.socket?.destroyed) {
        replay.release(opened.requestDigest);
        throw new EnclaveError('REQUEST_MALFORMED', 'the host hung up before the answer was ready');
      }
      const answer = { requestDigest: opened.requestDigest, receipt: r.receipt, outputs };
      if (d.deliveries) {
        // the claim now belongs to the pending delivery: final on release, given back on expiry;
        // the entry names the release the gate speaks for now (GATE_CLOSED if it shut meanwhile)
        d.gate.requireOpen();
        const pending = await d.deliveries.hold({
          opened,
          rulesText: String((body as { rules?: unknown }).rules ?? ''),
          receipt: r.receipt,
          recipients: listed,
          answer: Buffer.from(JSON.stringify(answer), 'utf8'),
          receiptKey: keys.receiptKey,
          pcr0: d.pcr0,
          releaseIndex: d.gate.state().release!.index,
          unclaim: () => replay.release(opened.requestDigest),
        });
        delivered = true;
        d.onForward?.(opened.format, outputs.length);
        return reply.status(202).send(pending);
      }
      reply.raw.once('finish', () => {
        delivered = true;
      });
      d.onForward?.(opened.format, outputs.length);
      return answer;
    } catch (e) {
      replay.release(opened.requestDigest);
      throw e;
    } finally {
      wipe(opened);
    }
  });
}
