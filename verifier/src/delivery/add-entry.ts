/**
 * The `POST /add-entry` bodies that carry delivery transparency (issue 19), beside the Sigstore
 * bundle body releases use (a bundle has no top-level `kind`):
 *
 *   {"kind":"identity","attestation":"<base64 COSE_Sign1 attestation document>"}
 *   {"kind":"delivery","envelope":<delivery envelope object>,"manifest":"<base64 sealed manifest>"}
 *
 * Builders for the host, one parser for the log, and the classifier of a log leaf by its kind.
 * Pure.
 */
import { VerifierError } from '../errors.ts';
import { exactKeys, isObject } from '../encoding/canonical-json.ts';
import { fromBase64, toBase64 } from '../encoding/bytes.ts';
import type { SignedEnvelope } from '../forward/envelope.ts';
import { MAX_MANIFEST_BYTES } from './entry.ts';
import { IDENTITY_TYPE } from './identity.ts';

/** An attestation document is a few KiB; this bounds what the log decodes before verifying it. */
export const MAX_IDENTITY_ATTESTATION_BYTES = 64 * 1024;
/** The largest delivery body: the sealed manifest in base64 plus the envelope and framing. */
export const MAX_DELIVERY_BODY_BYTES = Math.ceil(MAX_MANIFEST_BYTES / 3) * 4 + 64 * 1024;

export type AddEntryBody =
  | { kind: 'identity'; attestation: Uint8Array }
  | { kind: 'delivery'; envelope: SignedEnvelope; manifest: Uint8Array }
  | { kind: 'bundle'; text: string };

/** The identity body for a fresh attestation document. */
export function identityAddEntryBody(attestation: Uint8Array): string {
  return JSON.stringify({ kind: 'identity', attestation: toBase64(attestation) });
}

/** The delivery body for a signed entry and its sealed manifest. */
export function deliveryAddEntryBody(envelope: SignedEnvelope, sealedManifest: Uint8Array): string {
  return JSON.stringify({ kind: 'delivery', envelope, manifest: toBase64(sealedManifest) });
}

function bad(message: string): never {
  throw new VerifierError('MALFORMED', message);
}

/**
 * Reads an add-entry body: an identity or delivery body (by `kind`), or otherwise a Sigstore
 * bundle, returned as its text for the release admission policy. Throws MALFORMED for a kinded
 * body of the wrong shape, OVERSIZED for an attestation or manifest over its limit.
 */
export function parseAddEntryBody(text: string): AddEntryBody {
  // a bundle is parsed (strictly) by the release admission; only kinded bodies are parsed here
  if (!/^\s*\{\s*"kind"\s*:/.test(text)) return { kind: 'bundle', text };
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    bad('the body is not JSON');
  }
  if (!isObject(v)) bad('the body must be a JSON object');
  const shape = (required: string[]) => {
    try {
      exactKeys(v as Record<string, unknown>, required, [], 'body');
    } catch (e) {
      bad((e as Error).message);
    }
  };
  const bytes = (s: unknown, field: string, limit: number): Uint8Array => {
    if (typeof s !== 'string') bad(`${field} must be base64`);
    if ((s.length / 4) * 3 > limit + 2)
      throw new VerifierError('OVERSIZED', `${field} is over ${limit} bytes`, { field, limit });
    try {
      return fromBase64(s);
    } catch {
      bad(`${field} is not canonical base64`);
    }
  };
  if (v.kind === 'identity') {
    shape(['kind', 'attestation']);
    return { kind: 'identity', attestation: bytes(v.attestation, 'attestation', MAX_IDENTITY_ATTESTATION_BYTES) };
  }
  if (v.kind === 'delivery') {
    shape(['kind', 'envelope', 'manifest']);
    if (!isObject(v.envelope)) bad('envelope must be the delivery envelope object');
    const manifest = bytes(v.manifest, 'manifest', MAX_MANIFEST_BYTES);
    return { kind: 'delivery', envelope: v.envelope as unknown as SignedEnvelope, manifest };
  }
  bad('body.kind must be identity or delivery (a release is a Sigstore bundle without kind)');
}

export type LeafKind = 'release' | 'identity' | 'delivery';

/**
 * Which kind of entry a log leaf is, from its canonical framing (canonical JSON sorts keys): a
 * release leaf starts `{"apiVersion":`, a delivery leaf `{"envelope":` (before `"kind"`), and an
 * identity leaf ends with its `"type":"keycast-enclave-identity/v1"` key. Only for routing:
 * decode the leaf (decodeLeaf, decodeDeliveryEntryLeaf, parseIdentityLeaf) to trust it.
 */
export function leafKind(leaf: Uint8Array): LeafKind {
  const head = Buffer.from(leaf.subarray(0, 16)).toString('latin1');
  if (head.startsWith('{"envelope":')) return 'delivery';
  const tail = Buffer.from(leaf.subarray(Math.max(0, leaf.length - 64))).toString('latin1');
  if (tail.endsWith(`"type":"${IDENTITY_TYPE}"}`)) return 'identity';
  return 'release';
}
