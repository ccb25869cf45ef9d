/** One studio, one enclave and one projector PKI for the forwarding tests. */
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import type { ForwardRules } from '#verifier';
import { Measurement } from '#verifier';
import {
  certificatePem,
  generateHpkeKeyPair,
  kdmSigner,
  rulesDigest,
  sealContentKeys,
  signRules,
  type KdmSigner,
} from '#verifier/build';
import {
  createProjectorPki,
  createSignerChain,
  type ForwardKeys,
  type ProjectorPki,
  type SignerChain,
} from '../enclave/index.ts';

export const DAY = 86_400_000;
export const CPL = 'urn:uuid:0b5c8a2e-6d7f-4e11-9c3a-2f4e5d6c7b8a';
export const KEY_IDS = [
  'urn:uuid:1a2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c8d',
  'urn:uuid:2b3c4d5e-6f7a-4b2c-9d3e-4f5a6b7c8d9e',
];

const pad2 = (n: number) => String(n).padStart(2, '0');
export const kdmT = (ms: number) => {
  const d = new Date(Math.floor(ms / 1000) * 1000);
  return `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}T${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}+00:00`;
};
export const isoZ = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

export interface World {
  now: Date;
  studio: { privateKey: KeyObject; publicKey: KeyObject; pem: string };
  enclave: {
    hpke: { publicKey: Uint8Array; privateKey: CryptoKey };
    pcr0: Uint8Array;
    signerChain: SignerChain;
    signer: KdmSigner;
    receipt: { privateKey: KeyObject; publicKey: KeyObject };
    keys: ForwardKeys;
  };
  contentKeys: Array<{ id: string; type: 'MDIK' | 'MDAK'; key: Uint8Array }>;
  pki: ProjectorPki;
}

export async function world(projectors: number, keyPool?: number): Promise<World> {
  const now = new Date();
  const studio = generateKeyPairSync('ed25519');
  const signerChain = createSignerChain({ name: 'keycast.test', now });
  const signer = kdmSigner(signerChain.chain, signerChain.privateKey);
  const receipt = generateKeyPairSync('ed25519');
  const pcr0 = new Uint8Array(randomBytes(48));
  return {
    now,
    studio: { ...studio, pem: studio.publicKey.export({ type: 'spki', format: 'pem' }).toString() },
    enclave: {
      hpke: await generateHpkeKeyPair(),
      pcr0,
      signerChain,
      signer,
      receipt,
      keys: { signer, receiptKey: receipt.privateKey, pcr0: Measurement.fromBytes(pcr0) },
    },
    contentKeys: [
      { id: KEY_IDS[0]!, type: 'MDIK', key: new Uint8Array(randomBytes(16)) },
      { id: KEY_IDS[1]!, type: 'MDAK', key: new Uint8Array(randomBytes(16)) },
    ],
    pki: createProjectorPki({ count: projectors, keyPool, now }),
  };
}

export function rules(w: World, over: Partial<ForwardRules> = {}): ForwardRules {
  const t = w.now.getTime();
  return {
    type: 'keycast-forward-rules/v2',
    film: { cplId: CPL, title: 'The Keycast Test Film' },
    contentKeyIds: KEY_IDS,
    kdmWindow: { notBefore: kdmT(t + DAY), notAfter: kdmT(t + 15 * DAY) },
    forwardFrom: isoZ(t - DAY),
    forwardUntil: isoZ(t + 10 * DAY),
    recipients: {
      thumbprints: [],
      roots: [Buffer.from(w.pki.root.der).toString('base64')],
      excluded: [],
      roles: ['SM', 'RX'],
    },
    formats: ['kdm', 'raw-rsa-oaep', 'raw-hpke'],
    limits: { maxKdmValidityDays: 30, maxRecipients: 100_000 },
    ...over,
  };
}

/** The film's keys sealed to the test enclave, bound to `o.rules` (default: rules(w)). */
export async function sealed(
  w: World,
  o: { pcr0?: Uint8Array; rulesKey?: string; rules?: ForwardRules } = {},
): Promise<string> {
  return sealContentKeys(
    { cplId: CPL, keys: w.contentKeys.map((k) => ({ ...k, key: k.key.slice() })) },
    w.enclave.hpke.publicKey,
    o.pcr0 ?? w.enclave.pcr0,
    o.rulesKey ?? w.studio.pem,
    rulesDigest(o.rules ?? rules(w)),
  );
}

export async function request(
  w: World,
  o: {
    rules?: ForwardRules;
    signWith?: KeyObject;
    recipients?: string[];
    format?: 'kdm' | 'raw-rsa-oaep' | 'raw-hpke';
    sealedKeys?: string;
    expires?: string;
  } = {},
) {
  return {
    sealedKeys: o.sealedKeys ?? (await sealed(w, o.rules ? { rules: o.rules } : {})),
    rules: signRules(o.rules ?? rules(w), o.signWith ?? w.studio.privateKey),
    recipients: o.recipients ?? w.pki.projectors.map((p) => certificatePem(p.certificate.der)),
    intermediates: [certificatePem(w.pki.intermediate.der)],
    format: o.format ?? 'kdm',
    expires: o.expires ?? isoZ(w.now.getTime() + 3600_000),
  };
}

export function ctx(w: World, now = w.now) {
  return { hpkePrivateKey: w.enclave.hpke.privateKey, pcr0: Measurement.fromBytes(w.enclave.pcr0), now };
}

/** Every spelling of a content key a leak could take. */
export function keySpellings(w: World): string[] {
  return w.contentKeys.flatMap((k) => [
    Buffer.from(k.key).toString('hex'),
    Buffer.from(k.key).toString('hex').toUpperCase(),
    Buffer.from(k.key).toString('base64').replace(/=+$/, ''),
    Buffer.from(k.key).toString('latin1'),
  ]);
}

export function leaks(w: World, output: Uint8Array | string): boolean {
  const b = typeof output === 'string' ? Buffer.from(output, 'utf8') : Buffer.from(output);
  if (w.contentKeys.some((k) => b.includes(Buffer.from(k.key)))) return true;
  const s = b.toString('latin1');
  return keySpellings(w).some((x) => s.includes(x));
}
