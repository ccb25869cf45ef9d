/**
 * Test helpers for the attestation tests: the real documents in testdata/nitro with
 * their sidecars, and a throw-away AWS-shaped test PKI (root → regional → zonal → instance →
 * per-document leaf, P-384 / ecdsa-with-SHA384, notes/nitro.md §3.3) built with the verifier's
 * own buildCertificate, signing documents with signCoseSign1 exactly as the simulator does.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import type { AttestationPayload } from '../src/attestation/payload.ts';
import { buildCertificate, encodeAttestationPayload, signCoseSign1, fromHex, type CertificateInput } from '../build.ts';

export const NITRO = resolve(import.meta.dirname, '../../testdata/nitro');
const DIR = resolve(NITRO, 'attestation');

export interface Vector {
  name: string;
  bytes: Uint8Array;
  side: {
    real_nitro_document: boolean;
    verify_at_unix_ms: number;
    timestamp_ms: number;
    module_id: string;
    pcrs: Record<string, string>;
    public_key_hex: string | null;
    user_data_hex: string | null;
    nonce_hex: string | null;
    chain_validity_window: [string, string];
    certificate_subject: string;
  };
}

export function vectors(): Vector[] {
  return readdirSync(DIR)
    .filter((f) => f.endsWith('.cbor'))
    .sort()
    .map((f) => ({
      name: f,
      bytes: new Uint8Array(readFileSync(resolve(DIR, f))),
      side: JSON.parse(readFileSync(resolve(DIR, f.replace(/\.cbor$/, '.json')), 'utf8')),
    }));
}

export const realVectors = (): Vector[] => vectors().filter((v) => !v.name.startsWith('NEGATIVE-'));
export const hexOrNull = (h: string | null): Uint8Array | null => (h === null ? null : fromHex(h));

const HOUR = 3600_000;
const DAY = 24 * HOUR;
const p384 = () => generateKeyPairSync('ec', { namedCurve: 'P-384' });
const name = (cn: string) => ({ C: 'US', O: 'Amazon', OU: 'AWS', CN: cn });
const CA_KU = ['digitalSignature', 'keyCertSign', 'cRLSign'];

export interface TestCa {
  der: Uint8Array;
  key: KeyObject;
  name: Record<string, string>;
}

export interface TestPki {
  root: TestCa;
  regional: TestCa;
  zonal: TestCa;
  instance: TestCa;
  cabundle: Uint8Array[];
}

function issue(
  subject: Record<string, string>,
  issuer: TestCa | null,
  from: number,
  life: number,
  extra: Partial<CertificateInput>,
): TestCa {
  const k = p384();
  const der = buildCertificate({
    subject,
    issuer: issuer?.name ?? subject,
    serial: new Uint8Array(randomBytes(16)).map((b, i) => (i === 0 ? (b & 0x7f) | 1 : b)),
    notBefore: new Date(Math.floor(from / 1000) * 1000),
    notAfter: new Date(Math.floor((from + life) / 1000) * 1000),
    publicKey: k.publicKey,
    issuerPrivateKey: issuer?.key ?? k.privateKey,
    ca: true,
    keyUsage: CA_KU,
    ...extra,
  });
  return { der, key: k.privateKey, name: subject };
}

/** A fresh AWS-shaped test PKI whose intermediates are valid from `now`. */
export function makeTestPki(
  now: number,
  opts: { pathLens?: [number | undefined, number | undefined, number | undefined] } = {},
): TestPki {
  const [p1, p2, p3] = opts.pathLens ?? [2, 1, 0];
  const root = issue(name('keycast-test.nitro-enclaves'), null, now - DAY, 30 * 365 * DAY, {});
  const regional = issue(
    name('0123456789abcdef.us-east-1.keycast-test.nitro-enclaves'),
    root,
    now - HOUR,
    30 * DAY,
    p1 === undefined ? {} : { pathLen: p1 },
  );
  const zonal = issue(
    name('0123456789abcdef.zonal.us-east-1.keycast-test.nitro-enclaves'),
    regional,
    now - HOUR,
    6 * DAY,
    p2 === undefined ? {} : { pathLen: p2 },
  );
  const instance = issue(name('i-0123456789abcdef0.us-east-1.keycast-test.nitro-enclaves'), zonal, now - HOUR, DAY, {
    keyUsage: ['keyCertSign'],
    ...(p3 === undefined ? {} : { pathLen: p3 }),
  });
  return { root, regional, zonal, instance, cabundle: [root.der, regional.der, zonal.der, instance.der] };
}

export const MODULE_ID = 'i-0123456789abcdef0-enc0123456789abcdef';

export function pcrs(fill: (i: number) => number = (i) => i + 1, count = 16): Map<number, Uint8Array> {
  return new Map(Array.from({ length: count }, (_, i) => [i, new Uint8Array(48).fill(fill(i))]));
}

/** Issues a leaf under `pki.instance` and signs a document, like the NSM. Overrides replace payload fields. */
export function issueDocument(
  pki: TestPki,
  timestamp: number,
  over: Partial<AttestationPayload> = {},
  leafExtra: Partial<CertificateInput> = {},
): { bytes: Uint8Array; leafKey: KeyObject; payload: AttestationPayload } {
  const k = p384();
  const leaf = buildCertificate({
    subject: name(`${MODULE_ID}.us-east-1.aws`),
    issuer: pki.instance.name,
    serial: 7n,
    notBefore: new Date(Math.floor(timestamp / 1000) * 1000),
    notAfter: new Date(Math.floor(timestamp / 1000) * 1000 + 3 * HOUR),
    publicKey: k.publicKey,
    issuerPrivateKey: pki.instance.key,
    ca: false,
    keyUsage: ['digitalSignature', 'nonRepudiation'],
    ...leafExtra,
  });
  const payload: AttestationPayload = {
    moduleId: MODULE_ID,
    digest: 'SHA384',
    timestamp,
    pcrs: pcrs(),
    certificate: leaf,
    cabundle: pki.cabundle,
    publicKey: null,
    userData: null,
    nonce: null,
    ...over,
  };
  return { bytes: signCoseSign1(encodeAttestationPayload(payload), k.privateKey), leafKey: k.privateKey, payload };
}
