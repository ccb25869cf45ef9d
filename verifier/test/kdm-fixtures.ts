/** A small ST 430-2 PKI for the verifier's KDM tests: root → CA → leaf, RSA-2048, with knobs to break it. */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { buildDcCertificate } from '../build/kdm/certificate-build.ts';
import { parseDcCertificate, type DcCertificate } from '../src/kdm/certificate.ts';

const DAY = 86_400_000;
export const rsa = (bits = 2048) => generateKeyPairSync('rsa', { modulusLength: bits, publicExponent: 65537 });
const sec = (ms: number) => new Date(Math.floor(ms / 1000) * 1000);

export interface Chain {
  root: DcCertificate;
  ca: DcCertificate;
  leaf: DcCertificate;
  leafKey: KeyObject;
  caKey: KeyObject;
}

export function chain(
  o: { O?: string; leafCn?: string; now?: number; leafBits?: number; leafDays?: number; leafFrom?: number } = {},
): Chain {
  const now = o.now ?? Date.now() - DAY;
  const O = o.O ?? 'TEST.COM';
  const s = (CN: string) => ({ O, OU: 'Tests', CN });
  const rk = rsa();
  const root = parseDcCertificate(
    buildDcCertificate({
      subject: s('.test.ROOT'),
      serial: 5n,
      notBefore: sec(now),
      notAfter: sec(now + 3650 * DAY),
      publicKey: rk.publicKey,
      issuerPrivateKey: rk.privateKey,
      ca: true,
      pathLen: 3,
      keyUsage: ['keyCertSign', 'cRLSign'],
    }),
  );
  const ck = rsa();
  const ca = parseDcCertificate(
    buildDcCertificate({
      subject: s('.test.INTERMEDIATE'),
      issuer: root,
      serial: 6n,
      notBefore: sec(now + 1000),
      notAfter: sec(now + 3649 * DAY),
      publicKey: ck.publicKey,
      issuerPrivateKey: rk.privateKey,
      ca: true,
      pathLen: 2,
      keyUsage: ['keyCertSign', 'cRLSign'],
    }),
  );
  const lk = rsa(o.leafBits);
  const from = o.leafFrom ?? now + 2000;
  const leaf = parseDcCertificate(
    buildDcCertificate({
      subject: s(o.leafCn ?? 'CS SM.test-leaf'),
      issuer: ca,
      serial: 7n,
      notBefore: sec(from),
      notAfter: sec(from + (o.leafDays ?? 3000) * DAY),
      publicKey: lk.publicKey,
      issuerPrivateKey: ck.privateKey,
      ca: false,
      keyUsage: ['digitalSignature', 'keyEncipherment'],
    }),
  );
  return { root, ca, leaf, leafKey: lk.privateKey, caKey: ck.privateKey };
}
