/**
 * ST 430-2 certificate chains the enclave makes: its KDM signer chain (root → intermediate →
 * signer leaf `CS.<name>`), created at first boot together with its KDM decryption leaf
 * (`SM.<name>.dkdm-recipient.<release>`, the recipient of DKDMs) under the same intermediate.
 * Only the two leaves' private keys are kept (the runtime seals them with the enclave's
 * identity); the CA keys are dropped once they have signed, so nobody can issue another signer
 * under this root. Projector test PKIs (`keycast dev certs`) are enclave/dev/projector-pki.ts.
 * Values follow notes/kdm.md §5 (DCP-o-matic's chains and real SM certificates).
 */
import { generateKeyPairSync, randomBytes, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { parseDcCertificate, type DcCertificate } from '#verifier';
import { buildDcCertificate } from '#verifier/build';

const DAY = 86_400_000;

export function rsa2048(): { publicKey: KeyObject; privateKey: KeyObject } {
  return generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 65537 });
}

/** A positive 64-bit certificate serial. */
export function serial(): bigint {
  return BigInt(`0x${randomBytes(8).toString('hex')}`) | 1n;
}

/** Whole seconds (DER times carry no fraction). */
export function sec(ms: number): Date {
  return new Date(Math.floor(ms / 1000) * 1000);
}

export interface SignerChain {
  /** leaf first, root last (the order KDM KeyInfo uses) */
  chain: DcCertificate[];
  /** the signer leaf's private key: never leaves the enclave except sealed */
  privateKey: KeyObject;
}

export interface SignerChainOptions {
  /** organisation name; also the root name (O) of every certificate */
  name?: string;
  now?: Date;
  /** root validity in days (default 10 years); intermediate one day less, leaf two */
  days?: number;
}

/** Creates a fresh ST 430-2 KDM signer chain. */
export function createSignerChain(o: SignerChainOptions = {}): SignerChain {
  return createChains(o).signer;
}

export interface EnclaveChains {
  /** the KDM signer chain (leaf `CS.<name>`) */
  signer: SignerChain;
  /**
   * the KDM decryption chain: a CA:false leaf with its own key under the same intermediate and
   * root (leaf, intermediate, root). DKDMs are addressed to this leaf; its key only decrypts.
   */
  decryption: SignerChain;
}

/**
 * The enclave identity's two chains, made at first boot: the signer chain and the KDM decryption
 * leaf `SM.<name>.dkdm-recipient.<release>` (`release`: PrintableString, e.g. the first 16 hex
 * digits of the creating release's PCR0), both under one root whose key is dropped right after,
 * so nobody can issue another certificate under it. Validity: the root `days` (default 10
 * years, from a day before creation), the intermediate a day less, both leaves two days less.
 */
export function createEnclaveChains(
  o: SignerChainOptions & { release: string; decryptionKey?: KeyObject },
): EnclaveChains {
  const c = createChains(o, o.release, o.decryptionKey);
  return { signer: c.signer, decryption: c.decryption! };
}

function createChains(
  o: SignerChainOptions,
  release?: string,
  decryptionKey?: KeyObject,
): { signer: SignerChain; decryption?: SignerChain } {
  const name = o.name ?? 'keycast.enclave';
  const now = (o.now ?? new Date()).getTime() - DAY; // a day's slack for projectors' clocks
  const days = o.days ?? 3650;
  const subj = (CN: string) => ({ O: name, OU: 'Keycast forwarding enclave', CN });
  const rootKeys = rsa2048();
  const root = parseDcCertificate(
    buildDcCertificate({
      subject: subj(`.${name}.ROOT`),
      serial: serial(),
      notBefore: sec(now),
      notAfter: sec(now + days * DAY),
      publicKey: rootKeys.publicKey,
      issuerPrivateKey: rootKeys.privateKey,
      ca: true,
      pathLen: 3,
      keyUsage: ['keyCertSign', 'cRLSign'],
    }),
  );
  const intKeys = rsa2048();
  const intermediate = parseDcCertificate(
    buildDcCertificate({
      subject: subj(`.${name}.INTERMEDIATE`),
      issuer: root,
      serial: serial(),
      notBefore: sec(now + 1000),
      notAfter: sec(now + (days - 1) * DAY),
      publicKey: intKeys.publicKey,
      issuerPrivateKey: rootKeys.privateKey,
      ca: true,
      pathLen: 2,
      keyUsage: ['keyCertSign', 'cRLSign'],
    }),
  );
  const leafKeys = rsa2048();
  const leaf = parseDcCertificate(
    buildDcCertificate({
      subject: subj(`CS.${name}`),
      issuer: intermediate,
      serial: serial(),
      notBefore: sec(now + 2000),
      notAfter: sec(now + (days - 2) * DAY),
      publicKey: leafKeys.publicKey,
      issuerPrivateKey: intKeys.privateKey,
      ca: false,
      keyUsage: ['digitalSignature', 'keyEncipherment'],
    }),
  );
  const signer = { chain: [leaf, intermediate, root], privateKey: leafKeys.privateKey };
  if (release === undefined) return { signer };
  const decKeys = decryptionKey ? { publicKey: createPublicKey(decryptionKey), privateKey: decryptionKey } : rsa2048();
  const decLeaf = parseDcCertificate(
    buildDcCertificate({
      subject: subj(`SM.${name}.dkdm-recipient.${release}`),
      issuer: intermediate,
      serial: serial(),
      notBefore: sec(now + 2000),
      notAfter: sec(now + (days - 2) * DAY),
      publicKey: decKeys.publicKey,
      issuerPrivateKey: intKeys.privateKey,
      ca: false,
      keyUsage: ['digitalSignature', 'keyEncipherment'],
    }),
  );
  return { signer, decryption: { chain: [decLeaf, intermediate, root], privateKey: decKeys.privateKey } };
}

/** The form the runtime seals: chain DER (base64, leaf first) and the leaf key (PKCS#8 PEM). */
export interface SignerChainJson {
  format: 'keycast-kdm-signer/v1';
  chain: string[];
  privateKey: string;
}

export function exportSignerChain(s: SignerChain): SignerChainJson {
  return {
    format: 'keycast-kdm-signer/v1',
    chain: s.chain.map((c) => Buffer.from(c.der).toString('base64')),
    privateKey: s.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

export function importSignerChain(j: SignerChainJson): SignerChain {
  if (j.format !== 'keycast-kdm-signer/v1' || !Array.isArray(j.chain) || j.chain.length < 1)
    throw new TypeError('importSignerChain: not a keycast-kdm-signer/v1 document');
  return {
    chain: j.chain.map((b) => parseDcCertificate(new Uint8Array(Buffer.from(b, 'base64')))),
    privateKey: createPrivateKey(j.privateKey),
  };
}
