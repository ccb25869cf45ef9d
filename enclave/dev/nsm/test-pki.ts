/**
 * A local test PKI with AWS's shape, for the NSM simulator (notes/nitro.md §3.3, profile seen in
 * all 13 real documents): root → regional → zonal → instance → per-document leaf, all P-384
 * with ecdsa-with-SHA384.
 *
 * | cert     | subject CN                                   | constraints                 | lifetime |
 * | root     | keycast-test.nitro-enclaves (NOT aws's)      | CA, no pathLen              | 30 years |
 * | regional | <16hex>.<region>.keycast-test.nitro-enclaves | CA pathLen 2                | 30 days  |
 * | zonal    | <16hex>.zonal.<region>.keycast-test…         | CA pathLen 1                | 6 days   |
 * | instance | <instance-id>.<region>.keycast-test…         | CA pathLen 0, keyCertSign   | 1 day    |
 * | leaf     | <module-id>.<region>.aws                     | not CA, digitalSignature    | 3 hours  |
 *
 * The root's name says "keycast-test" so it can never be mistaken for AWS's. Nothing trusts it
 * unless a caller passes `rootDer`/`rootPem` as a trusted root explicitly.
 *
 * Private keys live in memory. exportTestPki() writes them into the JSON it returns only when
 * asked (`keys`), and only as PKCS#8 PEM; persisting that JSON is the caller's choice.
 */
import { generateKeyPairSync, randomBytes, X509Certificate, type KeyObject } from 'node:crypto';
import { buildCertificate } from '#verifier/build';
import { EnclaveError } from '../../common/errors.ts';

const HOUR = 3600_000;
const DAY = 24 * HOUR;
export const LIFETIME_MS = {
  root: 30 * 365 * DAY,
  regional: 30 * DAY,
  zonal: 6 * DAY,
  instance: DAY,
  leaf: 3 * HOUR,
} as const;
const DOMAIN = 'keycast-test.nitro-enclaves';

export interface Issued {
  der: Uint8Array;
  /** Present while the PKI may issue under this certificate. */
  privateKey?: KeyObject;
}

function p384(): { publicKey: KeyObject; privateKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'P-384' });
}

const name = (cn: string) => ({ C: 'US', O: 'Amazon', OU: 'AWS', CN: cn });

function serial(): Uint8Array {
  const s = randomBytes(16);
  s[0]! &= 0x7f; // positive INTEGER
  s[0]! |= 0x01; // and no leading zero byte
  return new Uint8Array(s);
}

function issue(o: {
  subject: ReturnType<typeof name>;
  issuer: ReturnType<typeof name>;
  issuerKey: KeyObject;
  publicKey: KeyObject;
  from: number;
  life: number;
  ca: boolean;
  pathLen?: number;
  keyUsage: string[];
}): Uint8Array {
  return buildCertificate({
    subject: o.subject,
    issuer: o.issuer,
    serial: serial(),
    notBefore: new Date(Math.floor(o.from / 1000) * 1000),
    notAfter: new Date(Math.floor((o.from + o.life) / 1000) * 1000),
    publicKey: o.publicKey,
    issuerPrivateKey: o.issuerKey,
    ca: o.ca,
    ...(o.pathLen === undefined ? {} : { pathLen: o.pathLen }),
    keyUsage: o.keyUsage,
  });
}

export interface TestPkiOptions {
  /** Issue time in ms (default Date.now()); intermediates are valid from here. */
  now?: number;
  /** e.g. 'us-east-1' (default). */
  region?: string;
  /** Parent instance id, `i-` + 17 hex (default random). */
  instanceId?: string;
}

export class TestPki {
  constructor(
    readonly region: string,
    readonly instanceId: string,
    readonly root: Issued,
    readonly regional: Issued,
    readonly zonal: Issued,
    readonly instance: Issued,
  ) {}

  get rootDer(): Uint8Array {
    return this.root.der;
  }

  get rootPem(): string {
    return new X509Certificate(this.root.der).toString();
  }

  /** What a document's `cabundle` holds: [root, regional, zonal, instance]. */
  cabundle(): Uint8Array[] {
    return [this.root.der, this.regional.der, this.zonal.der, this.instance.der];
  }

  /** A fresh per-document leaf (new P-384 key) valid for 3 hours from `nowMs`. */
  issueLeaf(moduleId: string, nowMs: number): { der: Uint8Array; privateKey: KeyObject } {
    const key = this.instance.privateKey;
    if (!key)
      throw new EnclaveError(
        'PKI_MALFORMED',
        'this test PKI holds no instance key, so it cannot issue leaf certificates',
        { instanceId: this.instanceId },
      );
    const { publicKey, privateKey } = p384();
    const der = issue({
      subject: name(`${moduleId}.${this.region}.aws`),
      issuer: name(`${this.instanceId}.${this.region}.${DOMAIN}`),
      issuerKey: key,
      publicKey,
      from: nowMs,
      life: LIFETIME_MS.leaf,
      ca: false,
      keyUsage: ['digitalSignature', 'nonRepudiation'],
    });
    return { der, privateKey };
  }
}

/** Issues regional → zonal → instance under `root` (whose key is required) from `now`. */
function issueChain(
  root: Required<Issued>,
  rootName: ReturnType<typeof name>,
  region: string,
  instanceId: string,
  now: number,
): [Issued, Issued, Issued] {
  const keys = [p384(), p384(), p384()] as const;
  const names = [
    name(`${randomBytes(8).toString('hex')}.${region}.${DOMAIN}`),
    name(`${randomBytes(8).toString('hex')}.zonal.${region}.${DOMAIN}`),
    name(`${instanceId}.${region}.${DOMAIN}`),
  ] as const;
  const ca = ['digitalSignature', 'keyCertSign', 'cRLSign'];
  const regional = issue({
    subject: names[0],
    issuer: rootName,
    issuerKey: root.privateKey,
    publicKey: keys[0].publicKey,
    from: now,
    life: LIFETIME_MS.regional,
    ca: true,
    pathLen: 2,
    keyUsage: ca,
  });
  const zonal = issue({
    subject: names[1],
    issuer: names[0],
    issuerKey: keys[0].privateKey,
    publicKey: keys[1].publicKey,
    from: now,
    life: LIFETIME_MS.zonal,
    ca: true,
    pathLen: 1,
    keyUsage: ca,
  });
  const instance = issue({
    subject: names[2],
    issuer: names[1],
    issuerKey: keys[1].privateKey,
    publicKey: keys[2].publicKey,
    from: now,
    life: LIFETIME_MS.instance,
    ca: true,
    pathLen: 0,
    keyUsage: ['keyCertSign'],
  });
  return [
    { der: regional, privateKey: keys[0].privateKey },
    { der: zonal, privateKey: keys[1].privateKey },
    { der: instance, privateKey: keys[2].privateKey },
  ];
}

const ROOT_NAME = name(DOMAIN);

/** A new test PKI: a fresh root and its chain down to one parent instance. */
export function createTestPki(o: TestPkiOptions = {}): TestPki {
  const now = o.now ?? Date.now();
  const region = o.region ?? 'us-east-1';
  const instanceId = o.instanceId ?? `i-${randomBytes(9).toString('hex').slice(0, 17)}`;
  if (!/^i-[0-9a-f]{17}$/.test(instanceId))
    throw new RangeError(`instance id must be i- and 17 lower-case hex digits, got ${JSON.stringify(instanceId)}`);
  if (!/^[a-z]{2}(-[a-z]+)+-\d$/.test(region))
    throw new RangeError(`region must look like us-east-1, got ${JSON.stringify(region)}`);
  const k = p384();
  const rootDer = issue({
    subject: ROOT_NAME,
    issuer: ROOT_NAME,
    issuerKey: k.privateKey,
    publicKey: k.publicKey,
    from: now,
    life: LIFETIME_MS.root,
    ca: true,
    keyUsage: ['digitalSignature', 'keyCertSign', 'cRLSign'],
  });
  const root = { der: rootDer, privateKey: k.privateKey };
  return new TestPki(region, instanceId, root, ...issueChain(root, ROOT_NAME, region, instanceId, now));
}

/**
 * The same root, fresh regional/zonal/instance certificates valid from `now` (the AWS-like
 * intermediates expire within days; a long-lived demo root outlives them). Needs the root key.
 */
export function renewTestPki(pki: TestPki, now: number = Date.now()): TestPki {
  const key = pki.root.privateKey;
  if (!key)
    throw new EnclaveError(
      'PKI_MALFORMED',
      'renewing the chain needs the root private key, which this PKI does not hold',
      { instanceId: pki.instanceId },
    );
  return new TestPki(
    pki.region,
    pki.instanceId,
    pki.root,
    ...issueChain({ der: pki.root.der, privateKey: key }, ROOT_NAME, pki.region, pki.instanceId, now),
  );
}
