/**
 * The 138-byte ST 430-1 key blocks a request's raw formats carry (one per content key, the same
 * for every recipient): encoded once per request by a format's prepare, zeroed by its wipe.
 */
import { encodeKeyBlock } from '../../../src/kdm/block.ts';
import type { FormatRequest } from './format.ts';

export interface RequestBlocks {
  keys: Array<{ id: string; type: string; block: Uint8Array }>;
  wipe(): void;
}

export function requestBlocks(req: FormatRequest): RequestBlocks {
  const keys = req.keys.map((k) => ({
    id: k.id,
    type: k.type,
    block: encodeKeyBlock({
      signerThumbprint: req.signer.thumbprint,
      cplId: req.cplId,
      keyType: k.type,
      keyId: k.id,
      notBefore: req.notBefore,
      notAfter: req.notAfter,
      key: k.key,
    }),
  }));
  return {
    keys,
    wipe: () => {
      for (const k of keys) k.block.fill(0);
    },
  };
}
