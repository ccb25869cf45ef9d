/**
 * Proof that an enclave identity was born inside an enclave of a logged release — its genesis —
 * checked by the enclave that unseals it (pure). KMS alone cannot tell who made a sealed
 * identity: anyone allowed kms:Encrypt (or ReEncrypt*, GenerateDataKey without a Recipient) under
 * the key can make a CiphertextBlob for a data key of their choosing and seal keys of their
 * choosing, which an attested enclave would then unseal and serve. Only enclave code makes
 * attestation documents, and it makes a genesis document only for keys it generated, so:
 *
 *   document  the NSM attestation document the creating enclave made right after generating the
 *             keys: public_key = the HPKE key, user_data = the identity binding (identity.ts)
 *   entry     the log entry (leaf) of the release the creating enclave's gate had opened for
 *   proof     its c2sp.org/tlog-proof, as the gate verified it
 *
 * verifyIdentityGenesis accepts it only when the document chains to a trusted root (at the
 * document's own time — its leaf certificate lives hours, the identity for years) and is not in
 * debug mode; its binding names exactly the unsealed keys (all four: HPKE, receipts, KDM chain, KDM decryption certificate);
 * the entry is included in a checkpoint signed by the pinned log key and cosigned by k pinned
 * witnesses (no freshness: it is history); and the entry passes the pinned publisher policy for
 * the document's PCRs (requireReleaseOf: a release by a pinned publisher naming exactly those
 * PCR0/1/2/8). Whether that release has been revoked since is not checked here: the enclave that
 * unseals must itself be an active release (its gate), and a revocation that should retire an
 * identity calls for a new KMS key.
 * Throws VerifierError: the attestation's codes (ROOT_UNTRUSTED, ATTESTATION_SIGNATURE,
 * DEBUG_MODE, …), IDENTITY_BINDING, the tlog-proof's codes, SIGNER_NOT_ALLOWED, PCR_MISMATCH.
 */
import { VerifierError } from '../errors.ts';
import { bytesEqual, toBase64 } from '../encoding/bytes.ts';
import { verifyTlogProof } from '../tlog/tlog-proof.ts';
import { parseAttestationDocument } from '../attestation/document.ts';
import { verifyAttestationDocument } from '../attestation/verify.ts';
import { pinnedKeys, type EnclaveConfig } from './config.ts';
import { requireReleaseOf } from './decide.ts';
import { parseIdentityBinding, type IdentityBinding } from './identity.ts';

export interface IdentityGenesis {
  /** the creating enclave's attestation document binding the keys */
  document: Uint8Array;
  /** the log leaf of the release the creating enclave ran */
  entry: Uint8Array;
  /** that leaf's c2sp.org/tlog-proof text */
  proof: string;
}

export interface GenesisCheckOptions {
  config: EnclaveConfig;
  /** DER roots for the attestation document (default: the AWS Nitro Enclaves root) */
  trustedRoots?: readonly Uint8Array[];
  /** Unix seconds (cosignatures may not lie in the future) */
  now: number;
}

export interface VerifiedGenesis {
  /** the release that created the identity */
  index: number;
  pcr0: string;
  moduleId: string;
  /** the document's time, ms since the epoch */
  timestamp: number;
}

const BOUND = ['hpkeX25519', 'receiptsEd25519', 'kdmChainSha256', 'kdmDecryptionSha256'] as const;

export function verifyIdentityGenesis(
  g: IdentityGenesis,
  keys: Required<IdentityBinding>,
  o: GenesisCheckOptions,
): VerifiedGenesis {
  if (!(g.document instanceof Uint8Array) || !(g.entry instanceof Uint8Array) || typeof g.proof !== 'string')
    throw new TypeError('verifyIdentityGenesis: document and entry must be bytes, proof a string');
  if (!Number.isFinite(o.now)) throw new RangeError('verifyIdentityGenesis: now must be Unix seconds');
  const at = new Date(parseAttestationDocument(g.document).timestamp);
  const doc = verifyAttestationDocument(g.document, {
    ...(o.trustedRoots ? { trustedRoots: o.trustedRoots } : {}),
    at,
  });
  const bound = parseIdentityBinding(doc.userData, doc.publicKey);
  for (const k of BOUND) {
    const got = bound[k];
    if (got === undefined || !bytesEqual(got, keys[k]))
      throw new VerifierError(
        'IDENTITY_BINDING',
        `the genesis document binds another ${k} than the sealed identity holds`,
        {
          field: k,
          expected: toBase64(keys[k]),
          actual: got === undefined ? null : toBase64(got),
        },
      );
  }
  const proven = verifyTlogProof(g.proof, {
    leaf: g.entry,
    logVerifier: pinnedKeys(o.config).log,
    origin: o.config.log.origin,
    witnessPolicy: { witnesses: pinnedKeys(o.config).witnesses, threshold: o.config.witnesses.threshold },
    now: o.now,
  });
  const { pcr0 } = requireReleaseOf(doc.pcrs, o.config, g.entry, proven.index);
  return { index: proven.index, pcr0, moduleId: doc.moduleId, timestamp: doc.timestamp };
}
