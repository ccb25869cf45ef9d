/**
 * The output-format contract: what a forward request's `format` means, in one module per format.
 *
 * A format is the shape one recipient's content keys leave the enclave in (a signed SMPTE KDM, or
 * a raw document for a non-DCI receiver). Everything format-specific lives in its module, which
 * exports one DeliveryFormat:
 *
 *   name        the wire name: request `format`, rules `formats`, receipt `format`, answer outputs
 *   file        the extension `keycast forward` writes a delivery under: `<thumbprint hex>.<file>`
 *   recipients  which certificates it accepts: `dci` (the ST 430-2 profile and the Security
 *               Manager role over the whole chain, KDM recipients) and/or `refuse(leaf)` (a
 *               reason this end-entity leaf cannot receive it, e.g. the wrong key type)
 *   signed      the output is signed with the enclave's KDM signer chain, which must then cover
 *               the KDM window (FORWARD_SIGNER_VALIDITY before anything is emitted)
 *   prepare     once per request (and signer): derives what every recipient shares (key blocks,
 *               a writer's fixed text) and returns `deliver(recipient)` → the output's bytes
 *               (synchronous or a promise: the engine awaits both the same way) and `wipe()`,
 *               which zeroes whatever was derived from the content keys
 *   open        the receiver's side: opens one delivery with the recipient's private key
 *               (`keyType`), checking it names what `binds` lists, and returns the key blocks
 *   signerChain (signed formats) the signer chain an output carries, which the studio's
 *               `keycast forward` compares with the one the enclave's attestation binds
 *
 * The enclave's forwarding engine (enclave/runtime/forward/engine.ts) only loops: prepare once, then
 * deliver each recipient in request order, hash each output into the receipt's delivery tree.
 * Opening a request (enclave/runtime/forward/request.ts) checks recipients with `recipients`. The
 * studio's CLI names files with `file`, checks `signerChain`, and `keycast raw open` opens with
 * `open`. Where the keys come from (sealed keys or a DKDM) is not a format: both open to the same
 * film keys before any format runs.
 *
 * Adding a format: write `formats/<name>.ts` exporting its DeliveryFormat, add its name to
 * FORMAT_NAMES below and its module to the registry (formats/index.ts): the registry's type
 * requires exactly one module per name, so the compiler holds the two lines together. Rules,
 * requests and receipts then accept the name; the engine, recipient checks and CLI need nothing.
 * The names live here, apart from the registry, because the parsers that decide (rules, requests,
 * receipts, also in the browser bundle) must not load the writers.
 */
import type { KeyObject } from 'node:crypto';
import type { DcCertificate } from '../../../src/kdm/certificate.ts';
import type { KeyBlock } from '../../../src/kdm/block.ts';
import type { KdmSigner } from '../../kdm/write.ts';

import { FORMAT_NAMES, type FormatName } from '../../../src/forward/format-names.ts';

/** Every output format's wire name (decided on the decision side: rules, requests and receipts name them). */
export { FORMAT_NAMES, type FormatName };

/** What a format is prepared with, once per request: the film, the rules' window and the request. */
export interface FormatRequest {
  cplId: string;
  /** the rules' film title */
  title: string;
  /** the film's content keys (wiped by the caller when the request is done) */
  keys: ReadonlyArray<{ id: string; type: string; key: Uint8Array }>;
  /** the rules' KDM window, 25-character KDM time form */
  notBefore: string;
  notAfter: string;
  /** hex SHA-256 of the forward request */
  requestDigest: string;
  /** the enclave's clock when the request was opened */
  now: Date;
  /** the enclave's KDM signer (its leaf thumbprint is in every key block) */
  signer: KdmSigner;
}

/** One recipient, as the request's checks left it. */
export interface FormatRecipient {
  certificate: DcCertificate;
  /** base64 SHA-1 thumbprint of its TBSCertificate */
  thumbprint: string;
}

export interface PreparedFormat {
  /** One recipient's output bytes. */
  deliver(r: FormatRecipient): Uint8Array | Promise<Uint8Array>;
  /** Zeroes what prepare derived from the content keys. */
  wipe(): void;
}

/** What a delivery names, as the receiver expects it. */
export interface DeliveryBinding {
  /** the receiver's own base64 thumbprint */
  recipient: string;
  /** the CPL (default: the one the delivery names) */
  cplId?: string;
  /** hex SHA-256 of the forward request (required by formats whose `binds` lists it) */
  requestDigest?: string;
}

export interface OpenedDelivery {
  cplId: string;
  notBefore: string;
  notAfter: string;
  /** the content keys, in delivery order, each checked against its block and the document (the caller wipes them) */
  keys: Array<Pick<KeyBlock, 'keyId' | 'keyType' | 'key'>>;
}

export interface DeliveryFormat<N extends FormatName = FormatName> {
  readonly name: N;
  readonly file: string;
  readonly recipients: {
    readonly dci: boolean;
    /** why this end-entity leaf cannot receive the format (refused with cause CERT_KEY_TYPE), or undefined */
    refuse?(leaf: DcCertificate): string | undefined;
  };
  readonly signed: boolean;
  prepare(req: FormatRequest): PreparedFormat;
  readonly open: {
    /** the receiver's private key type, and how it is named in a usage error */
    readonly keyType: 'rsa' | 'x25519';
    readonly keyName: string;
    /** what the delivery is bound to beyond the key it is encrypted to */
    readonly binds: ReadonlyArray<keyof DeliveryBinding>;
    /** the document's `encryption` field, for raw documents that name it */
    readonly encryption?: string;
    run(bytes: Uint8Array, privateKey: KeyObject, expected: DeliveryBinding): Promise<OpenedDelivery>;
  };
  signerChain?(bytes: Uint8Array): DcCertificate[];
}
