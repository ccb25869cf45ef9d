/**
 * The `raw-hpke` format: the raw-rsa-oaep payload (each content key's 138-byte block) sealed with
 * HPKE to a non-DCI receiver's X25519 certificate, bound to its thumbprint, the CPL and the
 * request (the wire format and its reader: verifier/src/forward/raw-hpke.ts). Contract: format.ts.
 */
import { RAW_HPKE_ENCRYPTION, openRawHpkeDelivery, sealRawHpkeDelivery } from '../../../src/forward/raw-hpke.ts';
import { requestBlocks } from './blocks.ts';
import type { DeliveryFormat } from './format.ts';

export const rawHpke: DeliveryFormat<'raw-hpke'> = {
  name: 'raw-hpke',
  file: 'raw.json',
  recipients: {
    dci: false,
    refuse: (c) =>
      c.basicConstraints?.ca || c.keyType !== 'x25519'
        ? 'a raw-hpke recipient must be an X25519 end-entity certificate'
        : undefined,
  },
  signed: false,
  prepare(req) {
    const blocks = requestBlocks(req);
    const header = {
      cplId: req.cplId,
      requestDigest: req.requestDigest,
      notBefore: req.notBefore,
      notAfter: req.notAfter,
    };
    return {
      deliver: (r) => sealRawHpkeDelivery(r.certificate.publicKey, { recipient: r.thumbprint, ...header }, blocks.keys),
      wipe: blocks.wipe,
    };
  },
  open: {
    keyType: 'x25519',
    keyName: 'X25519',
    binds: ['recipient', 'cplId', 'requestDigest'],
    encryption: RAW_HPKE_ENCRYPTION,
    run(bytes, key, expected) {
      if (expected.requestDigest === undefined) throw new RangeError('raw-hpke: open needs the request digest');
      return openRawHpkeDelivery(bytes, key, {
        recipient: expected.recipient,
        cplId: expected.cplId ?? '',
        requestDigest: expected.requestDigest,
      });
    },
  },
};
