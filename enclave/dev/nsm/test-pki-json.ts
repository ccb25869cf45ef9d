/**
 * The persistable form of a TestPki, so the demo can keep one test root across processes:
 *   { "format": "keycast-test-pki/v1", "region", "instanceId",
 *     "certificates": { root, regional, zonal, instance }   (PEM),
 *     "privateKeys":  { root?, regional?, zonal?, instance? } (PKCS#8 PEM, only those asked for) }
 * Exporting private keys is always an explicit choice of the caller (`keys`), and nothing here
 * writes files. Importing checks everything it is given: PEM syntax, P-384 keys, the chain's
 * names and signatures root → regional → zonal → instance, and that each key matches its
 * certificate; any failure is EnclaveError PKI_MALFORMED (never echoing key material).
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { EnclaveError } from '../../common/errors.ts';
import { TestPki, type Issued } from './test-pki.ts';

export const TEST_PKI_FORMAT = 'keycast-test-pki/v1';
const LEVELS = ['root', 'regional', 'zonal', 'instance'] as const;
type Level = (typeof LEVELS)[number];

export interface TestPkiJson {
  format: typeof TEST_PKI_FORMAT;
  region: string;
  instanceId: string;
  certificates: Record<Level, string>;
  privateKeys: Partial<Record<Level, string>>;
}

/**
 * Which private keys to include: 'all' (can renew the chain and issue leaves), 'issuing' (the
 * instance key only: can issue leaves until the instance certificate expires), 'none'
 * (certificates only: enough to trust the root, not to sign).
 */
export type KeyExport = 'all' | 'issuing' | 'none';

export function exportTestPki(pki: TestPki, o: { keys: KeyExport }): TestPkiJson {
  const certificates = {} as Record<Level, string>;
  const privateKeys: Partial<Record<Level, string>> = {};
  for (const l of LEVELS) {
    certificates[l] = new X509Certificate(pki[l].der).toString();
    const k = pki[l].privateKey;
    if (k && (o.keys === 'all' || (o.keys === 'issuing' && l === 'instance'))) {
      privateKeys[l] = k.export({ type: 'pkcs8', format: 'pem' }) as string;
    }
  }
  return { format: TEST_PKI_FORMAT, region: pki.region, instanceId: pki.instanceId, certificates, privateKeys };
}

const bad = (message: string, evidence: Record<string, unknown> = {}): EnclaveError =>
  new EnclaveError('PKI_MALFORMED', message, evidence);

function cert(pem: unknown, level: Level): X509Certificate {
  if (typeof pem !== 'string') throw bad(`certificates.${level} is missing`, { level });
  try {
    return new X509Certificate(pem);
  } catch {
    throw bad(`certificates.${level} is not a PEM certificate`, { level });
  }
}

function key(pem: unknown, level: Level, c: X509Certificate): KeyObject | undefined {
  if (pem === undefined) return undefined;
  let k: KeyObject;
  try {
    if (typeof pem !== 'string') throw new Error();
    k = createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    throw bad(`privateKeys.${level} is not a PEM private key`, { level });
  }
  if (k.asymmetricKeyType !== 'ec' || k.asymmetricKeyDetails?.namedCurve !== 'secp384r1')
    throw bad(`privateKeys.${level} is not a P-384 key`, { level });
  if (!c.checkPrivateKey(k))
    throw bad(`privateKeys.${level} does not match certificates.${level}`, {
      level,
      certificateFingerprint256: c.fingerprint256,
    });
  return k;
}

/** Parses and checks the JSON form (object or text). Throws PKI_MALFORMED. */
export function importTestPki(input: string | unknown): TestPki {
  let j: Partial<TestPkiJson>;
  try {
    j = (typeof input === 'string' ? JSON.parse(input) : input) as Partial<TestPkiJson>;
  } catch {
    throw bad('test PKI file is not JSON');
  }
  if (j === null || typeof j !== 'object' || j.format !== TEST_PKI_FORMAT)
    throw bad(`not a ${TEST_PKI_FORMAT} document`, { format: (j as { format?: unknown } | null)?.format ?? null });
  if (typeof j.region !== 'string' || typeof j.instanceId !== 'string' || !/^i-[0-9a-f]{17}$/.test(j.instanceId))
    throw bad('region/instanceId missing or malformed');
  const certs = j.certificates ?? ({} as Record<Level, string>);
  const keys = j.privateKeys ?? {};
  const parsed = LEVELS.map((l) => cert(certs[l], l));
  parsed.forEach((c, i) => {
    const issuer = parsed[Math.max(0, i - 1)]!;
    if (!c.checkIssued(issuer) || !c.verify(issuer.publicKey))
      throw bad(`certificates.${LEVELS[i]} is not issued by certificates.${LEVELS[Math.max(0, i - 1)]}`, {
        level: LEVELS[i],
      });
  });
  const issued = LEVELS.map((l, i): Issued => {
    const k = key((keys as Record<string, unknown>)[l], l, parsed[i]!);
    return k ? { der: new Uint8Array(parsed[i]!.raw), privateKey: k } : { der: new Uint8Array(parsed[i]!.raw) };
  });
  return new TestPki(j.region, j.instanceId, issued[0]!, issued[1]!, issued[2]!, issued[3]!);
}
