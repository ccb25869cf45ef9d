/**
 * The directory `keycast forward` writes, built in a hidden sibling (`.<name>.partial-<hex>`) one
 * verified batch at a time and renamed to --out only once every batch has passed; on any failure
 * the sibling is removed, so --out either holds a complete, verified answer or does not exist.
 *
 * Layout: per recipient <thumbprint hex>.<the format's file: kdm.xml, raw.json> and proofs/<thumbprint hex>.json;
 * the receipt — receipt.json for one batch, receipts/0001.json, 0002.json … for several — and
 * index.json: { requestDigest (one batch only), format, batches: [{ receipt, requestDigest,
 * recipients, root }], recipients: [{ index, thumbprint, subject, file, proof, source, receipt }] },
 * where `index` is the recipient's place in the whole list and `receipt` names the receipt its
 * proof verifies against. From a transparent enclave (issue 19) each output also gets
 * `<file>.logged.json` (keycast-kdm-logged/v1, for `keycast kdm logged`), its index.json entry a
 * `logged` name and its batch the delivery entry's `logIndex`.
 */
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { checkDelivery, type ForwardFormat, type Receipt } from '../index.ts';
import { fromBase64, toHex, type DeliveryTree } from '../build.ts';
import { formatKdmLoggedProof } from '../build.ts';
import { deliveryFormat } from '../build.ts';

/** One batch whose receipt and outputs have been verified against what was sent. */
export interface VerifiedBatch {
  /** the receipt as received (DSSE envelope JSON text) and as opened */
  receiptText: string;
  receipt: Receipt;
  tree: DeliveryTree;
  outputs: Array<{ thumbprint: string; subject: string; bytes: Uint8Array }>;
  /** the whole-list index of outputs[0] */
  first: number;
  /** where each recipient's certificate was read from */
  sources: string[];
  /** the batch's delivery entry on the log, checked (forward-logged.ts): each output gets <file>.logged.json */
  logged?: { index: number };
}

interface Entry {
  index: number;
  thumbprint: string;
  subject: string;
  file: string;
  proof: string;
  source: string;
  receipt: string;
  /** <file>.logged.json, when the delivery is on the log */
  logged?: string;
}

export class DeliveryDir {
  private readonly tmp: string;
  private created = false;
  private readonly entries: Entry[] = [];
  private readonly batches: Array<{
    receipt: string;
    requestDigest: string;
    recipients: number;
    root: string;
    logIndex?: number;
  }> = [];

  constructor(
    private readonly outDir: string,
    private readonly format: ForwardFormat,
    private readonly count: number,
  ) {
    this.tmp = join(dirname(outDir), `.${basename(outDir)}.partial-${randomBytes(4).toString('hex')}`);
  }

  /** The receipt file of batch `n` (from 1), relative to the directory. */
  receiptName(n: number): string {
    return this.count === 1
      ? 'receipt.json'
      : `receipts/${String(n).padStart(Math.max(4, String(this.count).length), '0')}.json`;
  }

  /** Writes batch `n` (from 1): its outputs, their proofs (each checked against its receipt) and the receipt. */
  write(n: number, b: VerifiedBatch): void {
    if (!this.created) {
      mkdirSync(join(this.tmp, 'proofs'), { recursive: true });
      if (this.count > 1) mkdirSync(join(this.tmp, 'receipts'));
      this.created = true;
    }
    const receipt = this.receiptName(n);
    for (const [i, o] of b.outputs.entries()) {
      const name = toHex(fromBase64(o.thumbprint));
      const file = `${name}.${deliveryFormat(this.format).file}`;
      const proof = b.tree.prove(i);
      checkDelivery(b.receipt, proof, o.bytes);
      writeFileSync(join(this.tmp, file), o.bytes);
      writeFileSync(join(this.tmp, 'proofs', `${name}.json`), `${JSON.stringify(proof)}\n`);
      if (b.logged) writeFileSync(join(this.tmp, `${file}.logged.json`), formatKdmLoggedProof(b.logged.index, proof));
      this.entries.push({
        index: b.first + i,
        thumbprint: o.thumbprint,
        subject: o.subject,
        file,
        proof: `proofs/${name}.json`,
        source: b.sources[i]!,
        receipt,
        ...(b.logged ? { logged: `${file}.logged.json` } : {}),
      });
    }
    writeFileSync(join(this.tmp, receipt), b.receiptText);
    this.batches.push({
      receipt,
      requestDigest: b.receipt.requestDigest,
      recipients: b.outputs.length,
      root: b.receipt.root,
      ...(b.logged ? { logIndex: b.logged.index } : {}),
    });
  }

  /** Every batch written: index.json, then the directory moves to --out. */
  commit(): void {
    const one = this.count === 1 ? { requestDigest: this.batches[0]!.requestDigest } : {};
    const index = { ...one, format: this.format, batches: this.batches, recipients: this.entries };
    writeFileSync(join(this.tmp, 'index.json'), `${JSON.stringify(index, null, 2)}\n`);
    renameSync(this.tmp, this.outDir);
  }

  /** Something failed: nothing of this answer stays on disk. */
  discard(): void {
    if (this.created) rmSync(this.tmp, { recursive: true, force: true });
  }
}
