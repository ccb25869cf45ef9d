/**
 * `keycast kdm logged KDM.xml --proof P --log URL --log-key K`: a projector's owner proves that a
 * KDM it received is on the record (issue 19), learning nothing about other screens. The proof
 * file (`<output>.logged.json`, #verifier parseKdmLoggedProof) names a log entry and a delivery
 * proof; the command checks
 *
 *  1. the KDM's SHA-256 is the proof's output digest, and (with --certificate) the KDM is addressed
 *     to that certificate and its thumbprint is the proof's;
 *  2. entry N is included under a checkpoint signed by the log key (and the --witness policy);
 *  3. entry N is a delivery entry signed by the receipt key it names, and the delivery proof leads
 *     to its root (within its count);
 *  4. that receipt key was registered by an identity entry before N, for the same PCR0, and
 *     entry `releaseIndex` is a release of that PCR0; the identity's attestation verifies (at its
 *     own time) under --trust-root (default the AWS Nitro root) when the leaf carries it.
 *
 * Exit 0 only if all hold; 1 when one does not (its code: RECEIPT_INVALID, DELIVERY_NOT_LOGGED, …).
 */
import {
  VerifierError,
  checkKdmLogged,
  checkKdmRecipient,
  decodeDeliveryEntryLeaf,
  decodeLeaf,
  leafKind,
  parseAttestationDocument,
  parseDcCertificate,
  parseIdentityLeaf,
  parseKdm,
  parseKdmLoggedProof,
  verifyAttestationDocument,
  type LogClient,
  type WitnessedCheckpoint,
} from '../index.ts';
import { certificateThumbprint, fromBase64, pemCertificates } from '../build.ts';
import { readInput, readUserFile } from './io.ts';
import { WITNESS_HELP, readRoot } from './flags.ts';
import { parseFlags, requireFlag as need, stringFlag as str, usageError, type Command } from '../kit/flags.ts';
import { LOG_HELP, LOG_OPTIONS, logSetup } from './log.ts';

const MAX_KDM_FILE = 16 * 1024 * 1024;

function notLogged(message: string, evidence: Record<string, unknown>): VerifierError {
  return new VerifierError('DELIVERY_NOT_LOGGED', message, evidence);
}

/** Entry `index`'s leaf, included under `cp` (verified), or DELIVERY_NOT_LOGGED when outside it. */
async function includedLeaf(
  client: LogClient,
  index: number,
  cp: WitnessedCheckpoint,
  what: string,
): Promise<Uint8Array> {
  if (index >= cp.checkpoint.size)
    throw notLogged(`${what} ${index} is not in the log's tree of ${cp.checkpoint.size}`, {
      index,
      treeSize: cp.checkpoint.size,
    });
  return (await client.entry(index, cp)).leaf;
}

export const kdmLogged: Command = {
  path: ['kdm', 'logged'],
  summary: 'prove a KDM is on the record: its delivery proof, the logged delivery entry and its inclusion',
  help: `keycast kdm logged KDM.xml --proof KDM.xml.logged.json --log URL --log-key VKEY
                  [--certificate PROJECTOR.pem] [--trust-root ROOT.pem] [--witness VKEY …] [--json]

Proves that this KDM is on the log's record of deliveries, from the proof \`keycast forward\` wrote
beside it ({"type":"keycast-kdm-logged/v1","entryIndex":N,"delivery":{index,thumbprint,outputDigest,proof}}):
the KDM's SHA-256 is the proof's output digest; entry N is included under a checkpoint signed by
--log-key; it is a delivery entry signed by the receipt key it names, whose Merkle root the proof
leads to; that key was registered by an earlier identity entry for the same PCR0 (its attestation
verified at its own time under --trust-root, default the AWS Nitro root), and the entry names a
release of that PCR0. With --certificate (the projector's certificate), also that the KDM is
addressed to it and the proof names its thumbprint; without it, the proven thumbprint is printed
for you to compare. Nothing about other recipients is read or shown.

${LOG_HELP}
${WITNESS_HELP}

Exit 0 when every check holds; 1 when one does not (RECEIPT_INVALID: the KDM or its recipient is
not the one proved; DELIVERY_NOT_LOGGED: the entry is not a registered enclave's delivery;
PROOF_INVALID / TILE_MISMATCH: the log's proofs fail); 2 bad flags; 3 the log cannot be asked.`,
  async run(args) {
    const { values: v, positionals } = parseFlags(
      args,
      {
        ...LOG_OPTIONS,
        proof: { type: 'string' },
        certificate: { type: 'string' },
        'trust-root': { type: 'string' },
      },
      1,
    );
    const kdmFile = positionals[0];
    if (kdmFile === undefined) throw usageError('keycast kdm logged needs KDM.xml');
    const kdmBytes = readInput(kdmFile, MAX_KDM_FILE, 'KDM');
    const kdm = parseKdm(kdmBytes);
    const proof = parseKdmLoggedProof(readUserFile(need(v, 'proof'), 64 * 1024, '--proof'));
    let thumbprint = proof.delivery.thumbprint;
    const certFile = str(v, 'certificate');
    if (certFile !== undefined) {
      const cert = parseDcCertificate(
        pemCertificates(new TextDecoder().decode(readUserFile(certFile, 64 * 1024, '--certificate')))[0]!,
      );
      try {
        checkKdmRecipient(kdm, cert);
      } catch (e) {
        throw new VerifierError('RECEIPT_INVALID', 'the KDM is not addressed to --certificate', {
          recipient: kdm.recipient,
          cause: (e as Error).message,
        });
      }
      thumbprint = certificateThumbprint(cert);
    }
    const trustRoot = str(v, 'trust-root');
    const roots = trustRoot === undefined ? undefined : [readRoot(trustRoot)];

    const log = logSetup(v);
    const cp = await log.client.checkpoint();
    // the delivery entry, included under the signed checkpoint
    const leaf = await includedLeaf(log.client, proof.entryIndex, cp, 'entry');
    if (leafKind(leaf) !== 'delivery')
      throw notLogged(`entry ${proof.entryIndex} is not a delivery entry`, { index: proof.entryIndex });
    const { entry, receiptKeySha256 } = decodeDeliveryEntryLeaf(leaf);
    // this KDM, to this recipient, under that entry's root
    checkKdmLogged(entry, proof, kdmBytes, thumbprint);
    // the enclave: registered before the delivery for its PCR0, running a logged release
    const idIndex = await log.client.identityIndex(receiptKeySha256);
    if (idIndex === null || idIndex >= proof.entryIndex)
      throw notLogged('no earlier identity entry registers the receipt key that signed this delivery', {
        receiptKeySha256,
        identity: idIndex,
      });
    const id = parseIdentityLeaf(await includedLeaf(log.client, idIndex, cp, 'identity entry'));
    if (id.receiptKeySha256 !== receiptKeySha256 || id.pcr0 !== entry.pcr0)
      throw notLogged('the identity entry the log names registers another key or PCR0', {
        identity: idIndex,
        receiptKeySha256,
        pcr0: entry.pcr0,
      });
    if (id.attestation !== undefined) {
      const doc = fromBase64(id.attestation);
      const a = verifyAttestationDocument(doc, {
        at: new Date(parseAttestationDocument(doc).timestamp), // checked at the time it was made
        ...(roots ? { trustedRoots: roots } : {}),
      });
      if (Buffer.from(a.pcrs.get(0)!).toString('hex') !== entry.pcr0)
        throw notLogged('the identity attestation names another PCR0', { identity: idIndex });
    }
    const release = decodeLeaf(await includedLeaf(log.client, entry.releaseIndex, cp, 'release'));
    if (release.kind !== 'release' || release.pcr0 !== entry.pcr0)
      throw notLogged(`entry ${entry.releaseIndex} is not a release of the delivering enclave's PCR0`, {
        releaseIndex: entry.releaseIndex,
        pcr0: entry.pcr0,
      });
    const view = {
      logged: true,
      entryIndex: proof.entryIndex,
      treeSize: cp.checkpoint.size,
      origin: cp.checkpoint.origin,
      outputDigest: proof.delivery.outputDigest,
      thumbprint,
      recipientChecked: certFile !== undefined,
      time: entry.time,
      count: entry.count,
      enclave: { pcr0: entry.pcr0, receiptKey: entry.receiptKey, identity: idIndex, releaseIndex: entry.releaseIndex },
    };
    const text = [
      `logged      entry ${proof.entryIndex} of ${cp.checkpoint.origin} (tree of ${cp.checkpoint.size})`,
      `KDM         ${proof.delivery.outputDigest} to ${thumbprint}${certFile ? ' (your certificate)' : ' (compare with your certificate)'}`,
      `delivery    ${entry.time}, ${entry.count} recipient(s) in its request`,
      `enclave     pcr0 ${entry.pcr0.slice(0, 16)}…, release ${entry.releaseIndex}, identity entry ${idIndex}`,
    ].join('\n');
    console.log(v.json === true ? JSON.stringify(view, null, 2) : text);
    return 0;
  },
};
