/**
 * Establishing the enclave's identity through KMS, only behind an open gate:
 *
 *  first boot  two phases. (1) create(): generate the keys; make their genesis — an attestation
 *              document whose public_key / user_data bind exactly these keys, plus the log entry
 *              and tlog-proof of the release the gate opened for (#verifier IdentityGenesis) —
 *              and check it as any later unsealer will; an ephemeral RSA-2048 key goes into a
 *              fresh attestation document; KMS GenerateDataKey with that Recipient answers
 *              CiphertextForRecipient (CMS for the RSA key) and CiphertextBlob; the data key,
 *              opened inside the enclave, seals the private keys and the genesis (seal.ts). The
 *              identity is now *pending*: the host gets the sealed blob and CiphertextBlob to
 *              store, and nothing is served with it. (2) confirm(SHA-256 of the sealed blob),
 *              once the host has stored it (create-once: only one of several first boots wins),
 *              makes it current. A host that dies between the phases leaves an identity no
 *              studio ever saw; the next create() hands out the same pending one again.
 *  later boots the host passes both back; KMS Decrypt with a new Recipient opens the data key,
 *              which unseals the keys and their genesis; the genesis must verify (chain to the
 *              trusted root, binding = the unsealed keys, the creating release logged by a pinned
 *              publisher) or the blob is refused — a host allowed kms:Encrypt can seal keys of
 *              its own choosing, but cannot make an enclave attest them. Unsealing drops a
 *              pending identity (another instance won the first boot). Another enclave of the
 *              same image (scale-out), or a logged release the key policy lists, unseals the
 *              same way; an image KMS does not accept never gets the data key.
 *
 * The data key and raw private bytes are zeroed after use; the RSA key lives for one call.
 * Nothing here reaches KMS unless the gate is open (the caller's requireOpen runs first).
 */
import { createHash, generateKeyPairSync, timingSafeEqual } from 'node:crypto';
import {
  isVerifierError,
  openForRecipient,
  verifyIdentityGenesis,
  type EnclaveConfig,
  type IdentityGenesis,
  type Measurement,
} from '#verifier';
import { formatIdentityBinding } from '#verifier/build';
import { EnclaveError } from '../../common/errors.ts';
import type { KmsPort } from '../../common/kms/port.ts';
import type { Nsm } from '../nsm/types.ts';
import { generateIdentity, publicIdentity, type IdentityKeys, type PublicIdentity, type TestDkdm } from './keys.ts';
import { GENESISLESS_VERSIONS, sealIdentity, sealedVersion, unsealIdentity } from './seal.ts';

export interface StoredIdentity {
  sealed: Uint8Array;
  ciphertextBlob: Uint8Array;
}

export type Established =
  | { created: true; pending: true; identity: PublicIdentity; stored: StoredIdentity }
  | { created: true; confirmed: true; identity: PublicIdentity }
  | { created: false; identity: PublicIdentity };

export interface IdentityKeeperDeps {
  nsm: Nsm;
  kms: KmsPort;
  config: EnclaveConfig;
  /** throws unless the gate is open (before any KMS call) */
  beforeKms: () => void;
  /** the log entry and tlog-proof of the release the open gate speaks for */
  release: () => { entry: Uint8Array; proof: string };
  /** DER roots genesis documents must chain to (default: the AWS Nitro Enclaves root) */
  attestationRoots?: readonly Uint8Array[];
  /** Unix seconds */
  now: () => number;
  /** this release's PCR0 (hex): its first 16 digits name the creating release in the KDM decryption certificate's CN */
  pcr0?: Measurement;
  /** test only (simulated NSM): a given KDM decryption key for a first boot (keys.ts TestDkdm) */
  testDkdm?: TestDkdm;
}

/** SHA-256 of a sealed blob: what the host names when it confirms it stored that blob. */
export function sealedDigest(sealed: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(sealed).digest());
}

export class IdentityKeeper {
  private keys: IdentityKeys | null = null;
  private pending: { keys: IdentityKeys; stored: StoredIdentity; digest: Uint8Array } | null = null;
  private busy = false;

  constructor(private readonly deps: IdentityKeeperDeps) {}

  /** The identity being served: null until unsealed or confirmed. */
  get current(): IdentityKeys | null {
    return this.keys;
  }

  get publicKeys(): PublicIdentity | null {
    return this.keys ? publicIdentity(this.keys) : null;
  }

  /**
   * First boot, phase one (stored = null): a pending identity for the host to store — the same
   * one again while it is not confirmed. Later boots (stored given): unseal and verify the
   * genesis. IDENTITY_EXISTS once one is served (or while another call is establishing it).
   */
  async establish(stored: StoredIdentity | null): Promise<Established> {
    if (this.keys || this.busy)
      throw new EnclaveError('IDENTITY_EXISTS', 'this enclave already holds its identity (or is establishing it)');
    this.busy = true;
    try {
      if (stored === null) {
        this.pending ??= await this.create();
        return {
          created: true,
          pending: true,
          identity: publicIdentity(this.pending.keys),
          stored: this.pending.stored,
        };
      }
      const keys = await this.unseal(stored);
      this.keys = keys;
      this.pending = null;
      return { created: false, identity: publicIdentity(keys) };
    } finally {
      this.busy = false;
    }
  }

  /** First boot, phase two: the host stored the pending blob whose SHA-256 is `digest`; serve it. */
  confirm(digest: Uint8Array): Established {
    if (this.keys) throw new EnclaveError('IDENTITY_EXISTS', 'this enclave already holds its identity');
    const p = this.pending;
    if (!p || digest.length !== p.digest.length || !timingSafeEqual(digest, p.digest))
      throw new EnclaveError(
        'IDENTITY_NOT_PENDING',
        p ? 'that is not the pending sealed identity' : 'there is no pending identity to confirm',
        { pending: p !== null },
      );
    this.keys = p.keys;
    this.pending = null;
    return { created: true, confirmed: true, identity: publicIdentity(p.keys) };
  }

  private async create(): Promise<{ keys: IdentityKeys; stored: StoredIdentity; digest: Uint8Array }> {
    this.deps.beforeKms();
    const keys = generateIdentity({
      ...(this.deps.pcr0 ? { release: this.deps.pcr0.hex.slice(0, 16) } : {}),
      ...(this.deps.testDkdm ? { testDkdm: this.deps.testDkdm } : {}),
    });
    const pub = publicIdentity(keys);
    const genesis: IdentityGenesis = {
      document: await this.deps.nsm.attestation({
        publicKey: pub.hpkeX25519,
        userData: formatIdentityBinding(pub),
        nonce: null,
      }),
      ...this.deps.release(),
    };
    // the check every later unsealer runs: a genesis it would refuse must not be sealed
    this.checkGenesis(genesis, keys);
    const { ciphertextBlob, dataKey } = await this.dataKey(async (doc) => {
      const r = await this.deps.kms.generateDataKey({ keyId: this.deps.config.kms.keyArn, attestationDocument: doc });
      return { cfr: r.ciphertextForRecipient, ciphertextBlob: r.ciphertextBlob };
    });
    try {
      const sealed = sealIdentity(keys, genesis, dataKey, this.deps.config.kms.keyArn);
      return { keys, stored: { sealed, ciphertextBlob }, digest: sealedDigest(sealed) };
    } finally {
      dataKey.fill(0);
    }
  }

  private async unseal(stored: StoredIdentity): Promise<IdentityKeys> {
    const version = sealedVersion(stored.sealed);
    if (version !== null && GENESISLESS_VERSIONS.includes(version))
      throw new EnclaveError(
        'IDENTITY_GENESIS_MISSING',
        `a version ${version} sealed identity carries no genesis attestation: nothing shows an enclave made it`,
        { version },
      );
    const { dataKey } = await this.dataKey(async (doc) => {
      const r = await this.deps.kms.decrypt({
        keyId: this.deps.config.kms.keyArn,
        attestationDocument: doc,
        ciphertextBlob: stored.ciphertextBlob,
      });
      return { cfr: r.ciphertextForRecipient, ciphertextBlob: stored.ciphertextBlob };
    });
    let unsealed: ReturnType<typeof unsealIdentity>;
    try {
      unsealed = unsealIdentity(stored.sealed, dataKey, this.deps.config.kms.keyArn);
    } finally {
      dataKey.fill(0);
    }
    if (unsealed.genesis === null)
      throw new EnclaveError(
        'IDENTITY_GENESIS_MISSING',
        'the sealed identity carries no genesis attestation: nothing shows an enclave made these keys',
      );
    this.checkGenesis(unsealed.genesis, unsealed.keys);
    return unsealed.keys;
  }

  private checkGenesis(genesis: IdentityGenesis, keys: IdentityKeys): void {
    const pub = publicIdentity(keys);
    try {
      verifyIdentityGenesis(
        genesis,
        {
          hpkeX25519: pub.hpkeX25519,
          receiptsEd25519: pub.receiptsEd25519,
          kdmChainSha256: pub.kdmChainSha256,
          kdmDecryptionSha256: pub.kdmDecryptionSha256,
        },
        {
          config: this.deps.config,
          now: this.deps.now(),
          ...(this.deps.attestationRoots ? { trustedRoots: this.deps.attestationRoots } : {}),
        },
      );
    } catch (e) {
      if (!isVerifierError(e)) throw e;
      throw new EnclaveError(
        'IDENTITY_GENESIS_INVALID',
        `the identity's genesis does not show an enclave of a logged release made these keys: ${e.message}`,
        { verifierCode: e.code, reason: e.message },
      );
    }
  }

  /** One KMS call with a fresh Recipient; opens the data key it returns for us. */
  private async dataKey(
    call: (doc: Uint8Array) => Promise<{ cfr: Uint8Array; ciphertextBlob: Uint8Array }>,
  ): Promise<{ dataKey: Uint8Array; ciphertextBlob: Uint8Array }> {
    this.deps.beforeKms();
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const spki = new Uint8Array(rsa.publicKey.export({ format: 'der', type: 'spki' }));
    const doc = await this.deps.nsm.attestation({ publicKey: spki, userData: null, nonce: null });
    const { cfr, ciphertextBlob } = await call(doc);
    let dataKey: Uint8Array;
    try {
      dataKey = await openForRecipient(cfr, rsa.privateKey);
    } catch (e) {
      if (isVerifierError(e))
        throw new EnclaveError(
          'KMS_INVALID_CIPHERTEXT',
          `KMS answered a CiphertextForRecipient this enclave cannot open (${e.code})`,
          { cause: e.code },
        );
      throw e;
    }
    if (dataKey.length !== 32) {
      dataKey.fill(0);
      throw new EnclaveError('KMS_INVALID_CIPHERTEXT', 'the data key KMS returned is not 32 bytes', {
        size: dataKey.length,
      });
    }
    return { dataKey, ciphertextBlob };
  }
}
