/**
 * The Sigstore TransparencyLogEntry (protobuf-specs sigstore_rekor.proto, JSON form: int64 as
 * strings, bytes as base64) a log answers POST /add-entry with, shaped as tlog.md §3.4 says
 * `@sigstore/verify` 3.1.x accepts from a custom log: logId.keyId is the untruncated C2SP key
 * hash SHA-256(origin ‖ 0x0A ‖ 0x01 ‖ pub), integratedTime "0" (no SET), kindVersion taken from
 * the Rekor-style leaf body itself (`kind`, `apiVersion`), canonicalizedBody = the leaf, and the
 * inclusion proof carries the signed checkpoint.
 */
import { toBase64 } from '#verifier';
import { logIdFor } from './keys.ts';

export interface TleInput {
  index: number;
  origin: string;
  logPublicKey: Uint8Array;
  leaf: Uint8Array;
  proof: Uint8Array[];
  checkpointNote: string;
  rootHash: Uint8Array;
  treeSize: number;
}

export interface TransparencyLogEntryJson {
  logIndex: string;
  logId: { keyId: string };
  kindVersion: { kind: string; version: string };
  integratedTime: string;
  inclusionProof: { logIndex: string; rootHash: string; treeSize: string; hashes: string[]; checkpoint: { envelope: string } };
  canonicalizedBody: string;
}

export function transparencyLogEntry(i: TleInput): TransparencyLogEntryJson {
  return {
    logIndex: String(i.index),
    logId: { keyId: toBase64(logIdFor(i.origin, i.logPublicKey)) },
    kindVersion: kindVersionOf(i.leaf),
    integratedTime: '0',
    inclusionProof: {
      logIndex: String(i.index),
      rootHash: toBase64(i.rootHash),
      treeSize: String(i.treeSize),
      hashes: i.proof.map(toBase64),
      checkpoint: { envelope: i.checkpointNote },
    },
    canonicalizedBody: toBase64(i.leaf),
  };
}

/** `{ kind, apiVersion }` of a Rekor-style JSON body; empty strings if the leaf is not one. */
function kindVersionOf(leaf: Uint8Array): { kind: string; version: string } {
  try {
    const body = JSON.parse(Buffer.from(leaf).toString('utf8')) as { kind?: unknown; apiVersion?: unknown };
    if (typeof body.kind === 'string' && typeof body.apiVersion === 'string') return { kind: body.kind, version: body.apiVersion };
  } catch {
    // not JSON: fall through
  }
  return { kind: '', version: '' };
}
