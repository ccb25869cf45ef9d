/**
 * bench/forward worker thread: measures the raw node:crypto bound (RSA-OAEP encryptions, plus one
 * RSA-2048 signature per KDM) or runs the forwarding core on one shard of a request, discarding
 * each output after the core has hashed it (what a streaming runtime does once it is written out).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { constants, createPrivateKey, publicEncrypt, sign } from 'node:crypto';
import { parseDcCertificate } from '#verifier';
import { deriveHpkeKeyPair, kdmSigner } from '#verifier/build';
import { Measurement } from '#verifier';
import { forwardRange, openForwardRequest, wipe, type ForwardRequest } from '../../enclave/index.ts';
import { certViews, type SharedCerts } from './shared-certs.ts';

/** A worker's recipients: certificates [from, to) of the main thread's shared DER (shared-certs.ts). */
interface Shard {
  certs: SharedCerts;
  from: number;
  to: number;
}
const views = (m: unknown) => {
  const s = m as Shard;
  return certViews(s.certs, s.from, s.to);
};

interface Init {
  hpkeSeed: Uint8Array;
  pcr0: Uint8Array;
  signerChain: Uint8Array[];
  signerKeyPem: string;
  now: number;
}

const init = workerData as Init;
const port = parentPort!;
const signer = kdmSigner(
  init.signerChain.map((d) => parseDcCertificate(d)),
  createPrivateKey(init.signerKeyPem),
);
const hpke = await deriveHpkeKeyPair(init.hpkeSeed);
let opened: Awaited<ReturnType<typeof openForwardRequest>> | null = null;

port.on('message', async (m: { cmd: string; [k: string]: unknown }) => {
  if (m.cmd === 'bound') {
    // the same RSA work as the shard's deliveries, straight on node:crypto: per recipient (its own
    // key object, loaded before timing), `keys` OAEP encryptions of a 138-byte block, plus one
    // RSA-SHA256 signature with the signer key for a KDM
    const recipientKeys = views(m).map((der) => parseDcCertificate(der).publicKey);
    const block = Buffer.alloc(138, 7);
    const signed = Buffer.alloc(3000, 1);
    const start = performance.now();
    for (const key of recipientKeys) {
      for (let k = 0; k < (m.keys as number); k++)
        publicEncrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: m.oaepHash as string }, block);
      if (m.sign) sign('sha256', signed, signer.privateKey);
    }
    port.postMessage({ n: recipientKeys.length, ms: performance.now() - start });
  } else if (m.cmd === 'open') {
    const t = performance.now();
    const request = { ...(m.request as Omit<ForwardRequest, 'recipients'>), recipients: views(m) };
    opened = await openForwardRequest(request, {
      hpkePrivateKey: hpke.privateKey,
      pcr0: Measurement.fromBytes(init.pcr0),
      now: new Date(init.now),
    });
    port.postMessage({ ready: true, ms: performance.now() - t });
  } else if (m.cmd === 'go') {
    const o = opened!;
    let bytes = 0;
    let first: Uint8Array | null = null;
    const t = performance.now();
    const deliveries = await forwardRange(o, signer, 0, o.recipients.length, (out) => {
      bytes += out.bytes.length;
      first ??= out.bytes;
    });
    const ms = performance.now() - t;
    wipe(o);
    opened = null;
    const flat = new Uint8Array(deliveries.length * 32);
    deliveries.forEach((d, i) => flat.set(d.outputDigest, i * 32));
    port.postMessage({ ms, bytes, digests: flat, first }, [flat.buffer]);
  }
});
port.postMessage({ up: true });
