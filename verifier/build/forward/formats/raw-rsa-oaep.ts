/**
 * The `raw-rsa-oaep` format: each content key's 138-byte block under RSA-OAEP-SHA256 to a non-DCI
 * receiver's RSA (≥ 2048) certificate, in a `keycast-raw-keys/v1` document (the wire format and
 * its reader: verifier/src/forward/raw-rsa-oaep.ts). Contract: format.ts.
 */
import {
  RAW_RSA_OAEP_ENCRYPTION,
  openRawRsaOaepDelivery,
  rawRsaOaepSealer,
} from '../../../src/forward/raw-rsa-oaep.ts';
import { requestBlocks } from './blocks.ts';
import type { DeliveryFormat } from './format.ts';

export const rawRsaOaep: DeliveryFormat<'raw-rsa-oaep'> = {
  name: 'raw-rsa-oaep',
  file: 'raw.json',
  recipients: {
    dci: false,
    refuse: (c) =>
      c.basicConstraints?.ca || c.keyType !== 'rsa' || c.modulusBits < 2048
        ? 'a raw-rsa-oaep recipient must be an RSA ≥ 2048 end-entity certificate'
        : undefined,
  },
  signed: false,
  prepare(req) {
    const blocks = requestBlocks(req);
    const sealer = rawRsaOaepSealer(
      { cplId: req.cplId, notBefore: req.notBefore, notAfter: req.notAfter },
      blocks.keys,
    );
    return { deliver: (r) => sealer.seal(r.certificate.publicKey, r.thumbprint), wipe: blocks.wipe };
  },
  open: {
    keyType: 'rsa',
    keyName: 'RSA',
    binds: ['recipient', 'cplId'],
    encryption: RAW_RSA_OAEP_ENCRYPTION,
    run: async (bytes, key, expected) =>
      openRawRsaOaepDelivery(bytes, key, { recipient: expected.recipient, cplId: expected.cplId }),
  },
};
