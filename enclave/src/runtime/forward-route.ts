/**
 * POST /v1/forward on the enclave: a studio's forward request (sealed content keys, signed
 * rules, recipient certificates; the forwarding core's format, src/forward/request.ts) opened
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
 */
import type { FastifyInstance } from 'fastify';
import { decodeLeaf, hpkeSuite, kdmSigner, type KdmSigner } from '#verifier';
import { EnclaveError } from '../errors.ts';
import { jsonBody } from '../http/app.ts';
import { openForwardRequest } from '../forward/request.ts';
import { forward, forwardRawHpke, wipe, type ForwardOutput } from '../forward/engine.ts';
import { MemoryReplayGuard } from '../forward/replay.ts';
import type { IdentityKeeper } from '../identity/keeper.ts';
import { rawPrivate, type IdentityKeys } from '../identity/keys.ts';
import type { Gatekeeper } from './gatekeeper.ts';

/** Forward requests carry one certificate per recipient: up to 32 MiB. */
export const MAX_FORWARD_BODY = 32 * 1024 * 1024;

export function forwardRoute(
  app: FastifyInstance,
  d: {
    gate: Gatekeeper;
    identity: IdentityKeeper;
    pcr0: Uint8Array;
    now?: () => Date;
    /** told after each served request: its output format and how many outputs it emitted */
    onForward?: (format: string, outputs: number) => void;
  },
): void {
  const replay = new MemoryReplayGuard();
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

  app.post('/v1/forward', { bodyLimit: MAX_FORWARD_BODY }, async (req) => {
    d.gate.requireOpen();
    const m = await material();
    const body = jsonBody(req.body);
    const opened = await openForwardRequest(body, {
      hpkePrivateKey: m.hpke,
      pcr0: d.pcr0,
      now: d.now?.() ?? new Date(),
      replay,
      // keys in as a DKDM: the identity's decryption key, and who published this release (the gate verified its entry)
      dkdm: { identity: m.keys, publishers: [decodeLeaf(d.gate.openRelease().entry).signer.spkiSha256] },
    });
    const outputs: Array<Omit<ForwardOutput, 'bytes'> & { bytes: string }> = [];
    try {
      const keys = { signer: m.signer, receiptKey: m.keys.receipts.privateKey, pcr0: d.pcr0 };
      const emit = (o: ForwardOutput) => outputs.push({ ...o, bytes: Buffer.from(o.bytes).toString('base64') });
      const r = opened.format === 'raw-hpke' ? await forwardRawHpke(opened, keys, emit) : forward(opened, keys, emit);
      d.onForward?.(opened.format, outputs.length);
      return { requestDigest: opened.requestDigest, receipt: r.receipt, outputs };
    } finally {
      wipe(opened);
    }
  });
}
