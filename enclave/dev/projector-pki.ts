/**
 * Realistic manufacturer projector chains (root → Security Manager CA → leaf
 * `LE SPB MD SM.<MODEL>-<SERIAL>.<maker>`) for tests, demos and the benchmark (`keycast dev certs`),
 * or non-DCI receivers with X25519 leaves for the raw-hpke format. Development only: the enclave
 * never makes these (its own chains are runtime/forward/pki.ts).
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { parseDcCertificate, type DcCertificate } from '#verifier';
import { buildDcCertificate } from '#verifier/build';
import { rsa2048, serial, sec } from '../runtime/forward/pki.ts';

const DAY = 86_400_000;

export interface ProjectorPki {
  root: DcCertificate;
  intermediate: DcCertificate;
  projectors: Array<{ certificate: DcCertificate; privateKey: KeyObject }>;
}

export interface ProjectorPkiOptions {
  maker?: string;
  model?: string;
  count: number;
  now?: Date;
  /** leaf validity in days (default 5 years) */
  days?: number;
  /**
   * Reuse this many RSA keys across the leaves (default: one per projector). Key generation
   * dominates for thousands of projectors; every leaf still has its own certificate, serial and
   * thumbprint (its dnQualifier matches the shared key).
   */
  keyPool?: number;
  /** RSA modulus size of the leaves (default 2048; other sizes only to test refusals) */
  leafBits?: number;
  /**
   * 'x25519' makes non-DCI receivers for the raw-hpke format instead: X25519 leaves (CN
   * `RX.<MODEL>-<SERIAL>.<maker>`, keyAgreement) under the same RSA root and CA. Default 'rsa'.
   */
  keyType?: 'rsa' | 'x25519';
  /** stream each projector here instead of keeping them all (`projectors` is then empty): for very large counts */
  onProjector?: (p: { certificate: DcCertificate; privateKey: KeyObject }, index: number) => void;
}

/** A manufacturer root, its Security Manager CA and `count` projector (SM) leaf certificates. */
export function createProjectorPki(o: ProjectorPkiOptions): ProjectorPki {
  const maker = o.maker ?? 'ACME-CINEMA';
  const model = o.model ?? 'PROJECTOR';
  const now = (o.now ?? new Date()).getTime() - DAY;
  const days = o.days ?? 1825;
  const subj = (CN: string) => ({ O: `${maker}.COM`, OU: `${maker} Security`, CN });
  const rootKeys = rsa2048();
  const root = parseDcCertificate(
    buildDcCertificate({
      subject: subj(`.${maker}.ROOT`),
      serial: serial(),
      notBefore: sec(now),
      notAfter: sec(now + (days + 10) * DAY),
      publicKey: rootKeys.publicKey,
      issuerPrivateKey: rootKeys.privateKey,
      ca: true,
      pathLen: 2,
      keyUsage: ['keyCertSign', 'cRLSign'],
    }),
  );
  const caKeys = rsa2048();
  const intermediate = parseDcCertificate(
    buildDcCertificate({
      subject: subj(`.${maker}.SM-CA`),
      issuer: root,
      serial: serial(),
      notBefore: sec(now + 1000),
      notAfter: sec(now + (days + 5) * DAY),
      publicKey: caKeys.publicKey,
      issuerPrivateKey: rootKeys.privateKey,
      ca: true,
      pathLen: 0,
      keyUsage: ['keyCertSign', 'cRLSign'],
    }),
  );
  const pool: Array<{ publicKey: KeyObject; privateKey: KeyObject }> = [];
  const projectors: ProjectorPki['projectors'] = [];
  for (let i = 0; i < o.count; i++) {
    const x25519 = o.keyType === 'x25519';
    const keys =
      o.keyPool && pool.length >= o.keyPool
        ? pool[i % o.keyPool]!
        : x25519
          ? generateKeyPairSync('x25519')
          : o.leafBits
            ? generateKeyPairSync('rsa', { modulusLength: o.leafBits, publicExponent: 65537 })
            : rsa2048();
    if (o.keyPool && pool.length < o.keyPool) pool.push(keys);
    const cn = `${x25519 ? 'RX' : 'LE SPB MD SM'}.${model}-${String(i + 1).padStart(6, '0')}.${maker}`;
    const der = buildDcCertificate({
      subject: subj(cn),
      issuer: intermediate,
      serial: serial(),
      notBefore: sec(now + 2000),
      notAfter: sec(now + days * DAY),
      publicKey: keys.publicKey,
      issuerPrivateKey: caKeys.privateKey,
      ca: false,
      keyUsage: x25519 ? ['keyAgreement'] : ['digitalSignature', 'keyEncipherment', 'dataEncipherment'],
    });
    const p = { certificate: parseDcCertificate(der), privateKey: keys.privateKey };
    if (o.onProjector) o.onProjector(p, i);
    else projectors.push(p);
  }
  return { root, intermediate, projectors };
}
