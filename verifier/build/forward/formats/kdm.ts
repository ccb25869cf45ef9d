/**
 * The `kdm` format: a signed SMPTE ST 430-1 KDM per recipient (verifier/build/kdm/write.ts), for
 * D-cinema Security Managers. Recipients: the ST 430-2 profile and the SM role over the whole
 * chain. Signed with the enclave's KDM signer chain. Opened with the projector's RSA key after
 * its XML signature verifies (verifier/src/kdm/read.ts). Contract: format.ts.
 */
import { verifyKdmSignature, decryptKdm, parseKdm } from '../../../src/kdm/read.ts';
import { buildKdmBytes } from '../../kdm/write.ts';
import type { DeliveryFormat } from './format.ts';

const pad2 = (n: number) => String(n).padStart(2, '0');
/** `YYYY-MM-DDThh:mm:ss+00:00`: the 25-character KDM time form. */
export function kdmTime(d: Date): string {
  return `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}T${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}+00:00`;
}

export const kdm: DeliveryFormat<'kdm'> = {
  name: 'kdm',
  file: 'kdm.xml',
  recipients: { dci: true },
  signed: true,
  prepare(req) {
    const issueDate = kdmTime(req.now);
    return {
      deliver: (r) =>
        buildKdmBytes({
          cplId: req.cplId,
          title: req.title,
          keys: req.keys,
          notBefore: req.notBefore,
          notAfter: req.notAfter,
          issueDate,
          recipient: r.certificate,
          signer: req.signer,
        }),
      wipe: () => {},
    };
  },
  open: {
    keyType: 'rsa',
    keyName: 'RSA',
    binds: [],
    async run(bytes, privateKey) {
      const { signer } = await verifyKdmSignature(bytes);
      const k = parseKdm(bytes);
      const keys = decryptKdm(k, privateKey, signer);
      return {
        cplId: k.cplId,
        notBefore: k.notBefore,
        notAfter: k.notAfter,
        keys: keys.map((x) => ({ keyId: x.id, keyType: x.type, key: x.key })),
      };
    },
  },
  signerChain: (bytes) => parseKdm(bytes).signerChain,
};
