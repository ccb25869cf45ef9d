/**
 * `keycast forward`: the studio sends sealed content keys, its signed rules and the recipients'
 * certificates through the host to the attested enclave, and gets one KDM (or raw ciphertext)
 * per recipient back with a signed receipt. Nothing is written until the receipt has been
 * verified with the receipt key of the verified enclave (--enclave, from `keycast verify enclave
 * --out`) and every output proven to be in it; then the outputs, their delivery proofs and the
 * receipt are written at once (a new directory, renamed into place). A refusal by the enclave
 * prints its code and the recipient it names, and writes nothing.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  VerifierError,
  DeliveryTree,
  forwardRequestDigest,
  formatForwardRequest,
  FORWARD_FORMATS,
  fromBase64,
  openReceipt,
  parseForwardAnswer,
  parseJsonStrict,
  parseKdm,
  kdmChainSha256,
  bytesEqual,
  parseVerifiedEnclave,
  httpRequest,
  sha256,
  toHex,
  type ForwardFormat,
  type ForwardRequest,
  type RawAnswer,
  type Receipt,
} from '../index.ts';
import { list, need, parse, positiveInt, str, usageError, type Command } from './flags.ts';
import { readUserFile } from './io.ts';
import { say } from './log.ts';
import { DeliveryDir } from './forward-write.ts';
import { readCertificates, type Certs } from './forward-recipients.ts';

const MAX_INPUT_FILE = 4 * 1024 * 1024;
/** The answer carries every output: allow 64 KiB per recipient and a margin. */
const answerCap = (recipients: number) => 1024 * 1024 + recipients * 64 * 1024;

/** The enclave (or host) refused: its code and the recipient it names, as public evidence. */
function refusal(status: number, body: Uint8Array, url: string): VerifierError {
  let j: { code?: unknown; message?: unknown; evidence?: Record<string, unknown> } = {};
  try {
    j = JSON.parse(Buffer.from(body).toString('utf8'));
  } catch {
    // not a coded body: the status is all there is
  }
  const code = typeof j.code === 'string' ? j.code.slice(0, 64) : `HTTP_${status}`;
  const ev = typeof j.evidence === 'object' && j.evidence !== null ? j.evidence : {};
  const recipient =
    typeof ev.index === 'number' ? { index: ev.index, thumbprint: ev.thumbprint, subject: ev.subject } : undefined;
  const msg = typeof j.message === 'string' ? j.message.slice(0, 500) : `HTTP ${status}`;
  return new VerifierError('FORWARD_REFUSED', `the enclave refused the request: ${code}: ${msg}`, {
    url,
    status,
    enclaveCode: code,
    ...(recipient ? { recipient } : {}),
    enclaveEvidence: ev,
  });
}

/** Checks the receipt and every output against what was sent; returns the delivery tree. */
function checkAnswer(
  r: Receipt,
  req: ForwardRequest,
  certs: Certs,
  outputs: Array<{ thumbprint: string; bytes: Uint8Array; format: ForwardFormat }>,
  pcr0: string,
): DeliveryTree {
  const bad = (m: string, ev: Record<string, unknown> = {}): never => {
    throw new VerifierError('RECEIPT_INVALID', m, ev);
  };
  if (r.pcr0 !== pcr0)
    bad('the receipt names another PCR0 than the verified enclave', { receipt: r.pcr0, attested: pcr0 });
  if (r.requestDigest !== forwardRequestDigest(req))
    bad('the receipt is for another request', { receipt: r.requestDigest });
  if (r.format !== (req.format ?? 'kdm')) bad('the receipt names another output format', { receipt: r.format });
  if (r.recipients !== certs.recipients.length || outputs.length !== certs.recipients.length)
    bad('the answer does not cover every recipient exactly once', {
      sent: certs.recipients.length,
      receipt: r.recipients,
      outputs: outputs.length,
    });
  const tree = new DeliveryTree();
  for (const [i, o] of outputs.entries()) {
    const want = certs.recipients[i]!.thumbprint;
    if (o.thumbprint !== want || o.format !== r.format)
      bad(`output ${i} is not for recipient ${i}`, { index: i, thumbprint: o.thumbprint, expected: want });
    tree.addDigest(fromBase64(o.thumbprint), sha256(o.bytes));
  }
  if (toHex(tree.root()) !== r.root) bad('the outputs are not the deliveries the receipt signs', { root: r.root });
  return tree;
}

export const forwardSend: Command = {
  path: ['forward'],
  summary:
    'forward sealed content keys through the host to the attested enclave: one KDM per recipient and a verified receipt',
  help: `keycast forward --host URL --enclave ENCLAVE.json --sealed SEALED --rules RULES.dsse
                --recipients DIR|FILE [--intermediate PEM…] [--format FORMAT] --out DIR
                [--timeout S] [--json]

Posts a forward request (verifier/src/forward/request.ts) to URL/v1/forward: the sealed content
keys (keycast seal), the signed rules (keycast rules sign) and the recipient certificates — every
*.pem/*.crt/*.cer/*.der in DIR in name order (a PEM file may hold a leaf and its CAs), or each
certificate of one PEM bundle FILE; CA certificates among them (and --intermediate files) go as
shared intermediates. The answer is read with a byte cap and --timeout (default 300 s).

Before anything is written, the receipt is verified with the receipt key of ENCLAVE.json (the
record keycast verify enclave --out wrote): its signature, PCR0, this request's digest, and a
Merkle root over exactly the outputs received, one per recipient in order; and every KDM's
signer chain must be the one the attestation binds (kdm-chain-sha256). Then DIR (which must
not exist) gets, per recipient, <thumbprint hex>.kdm.xml (or .raw.json for a raw format) and
proofs/<thumbprint hex>.json (for keycast receipt verify --delivery … --proof …), plus
receipt.json and index.json (recipient, subject, file). Progress goes to stderr.

FORMAT: kdm (default: signed SMPTE KDMs for DCI projectors); raw-rsa-oaep (or raw: each key's
ST 430-1 block under RSA-OAEP-SHA256, for non-DCI receivers with RSA certificates); raw-hpke (the
same blocks under HPKE X25519/AES-256-GCM, bound to the receiver, CPL and request, for receivers
with X25519 certificates, who open them with the verifier's openRawHpkeDelivery).

Exit 0 written; 5 FORWARD_REFUSED (the enclave refused: its code and the recipient it names;
nothing written); 1 RECEIPT_INVALID or IDENTITY_BINDING; 2 bad flags; 6 a file or the host
cannot be read.`,
  async run(args) {
    const { v } = parse(args, {
      host: { type: 'string' },
      enclave: { type: 'string' },
      sealed: { type: 'string' },
      rules: { type: 'string' },
      recipients: { type: 'string' },
      intermediate: { type: 'string', multiple: true },
      format: { type: 'string' },
      out: { type: 'string' },
      timeout: { type: 'string' },
    });
    const host = need(v, 'host');
    if (!/^https?:\/\//.test(host)) throw usageError('--host must be an http:// or https:// URL');
    const outDir = resolve(need(v, 'out'));
    if (existsSync(outDir)) throw usageError(`--out ${outDir} already exists: give a new directory`);
    const fmt = str(v, 'format') ?? 'kdm';
    const format = (fmt === 'raw' ? 'raw-rsa-oaep' : fmt) as ForwardFormat;
    if (!FORWARD_FORMATS.includes(format))
      throw usageError(`--format must be raw or one of ${FORWARD_FORMATS.join(', ')}`);
    const timeoutS = positiveInt(str(v, 'timeout'), 'timeout', 300);
    const enclave = parseVerifiedEnclave(readUserFile(need(v, 'enclave'), 64 * 1024, 'verified enclave'));
    const sealedKeys = Buffer.from(readUserFile(need(v, 'sealed'), MAX_INPUT_FILE, 'sealed keys')).toString('utf8');
    const rules = Buffer.from(readUserFile(need(v, 'rules'), MAX_INPUT_FILE, 'rules')).toString('utf8');
    const certs = readCertificates(need(v, 'recipients'), list(v, 'intermediate'));
    const req: ForwardRequest = {
      sealedKeys,
      rules,
      recipients: certs.recipients.map((r) => r.text),
      intermediates: certs.intermediates,
      format,
    };
    const body = formatForwardRequest(req);

    const url = new URL('v1/forward', host.endsWith('/') ? host : `${host}/`);
    say(
      `keycast: forwarding ${certs.recipients.length} recipient(s) (${certs.intermediates.length} intermediate CA(s), ${format}) to ${url.href}`,
    );
    const started = Date.now();
    let answer: RawAnswer;
    try {
      answer = await httpRequest({ fetch: globalThis.fetch, timeoutMs: timeoutS * 1000, retries: 0 }, url, {
        method: 'POST',
        body,
        contentType: 'application/json',
        accept: ['application/json'],
        cap: answerCap(certs.recipients.length),
        pass: Array.from({ length: 200 }, (_, i) => 400 + i),
      });
    } catch (e) {
      if (e instanceof VerifierError && e.code === 'LOG_UNAVAILABLE') {
        const io = new Error(
          `the host at ${url.href} did not answer: ${String(e.evidence.reason ?? e.message)}`,
        ) as Error & { code: string; evidence: Record<string, unknown> };
        io.name = 'IoError';
        io.code = 'EHOST';
        io.evidence = { url: url.href };
        throw io;
      }
      if (e instanceof VerifierError && e.code === 'LOG_RESPONSE_OVERSIZED')
        throw new VerifierError(
          'OVERSIZED',
          `the host's answer is larger than ${answerCap(certs.recipients.length)} bytes`,
          { url: url.href },
        );
      throw e;
    }
    if (answer.status !== 200) {
      const r = refusal(answer.status, answer.body, url.href);
      const rec = r.evidence.recipient as { index: number; subject: string } | undefined;
      say(
        `keycast: refused ${String(r.evidence.enclaveCode)}${rec ? ` for recipient ${rec.index} (${rec.subject}, ${certs.recipients[rec.index]?.from ?? '?'})` : ''}; nothing written`,
      );
      throw r;
    }
    say(
      `keycast: the enclave answered in ${((Date.now() - started) / 1000).toFixed(1)} s (${answer.body.length} bytes); verifying the receipt`,
    );
    const parsed = parseForwardAnswer(parseJsonStrict(answer.body, answer.body.length, 'forward answer'));
    const receipt = openReceipt(
      parsed.receipt,
      new Uint8Array(enclave.receipt.export({ type: 'spki', format: 'der' })),
    );
    const outputs = parsed.outputs.map((o) => ({
      thumbprint: o.thumbprint,
      format: o.format,
      subject: o.subject,
      bytes: fromBase64(o.bytes),
    }));
    const tree = checkAnswer(receipt, req, certs, outputs, enclave.record.pcr0);
    if (parsed.requestDigest !== receipt.requestDigest)
      throw new VerifierError('RECEIPT_INVALID', 'the answer names another request than its receipt', {
        answer: parsed.requestDigest,
      });
    const boundChain = enclave.binding.kdmChainSha256;
    if (format === 'kdm' && boundChain) {
      for (const [i, o] of outputs.entries()) {
        if (!bytesEqual(kdmChainSha256(parseKdm(o.bytes).signerChain), boundChain))
          throw new VerifierError(
            'KDM_SIGNATURE',
            `KDM ${i} is not signed with the KDM signer chain the enclave's attestation binds`,
            { index: i },
          );
      }
      say('keycast: every KDM carries the attested KDM signer chain');
    }

    // everything checked: write into a fresh sibling directory, then move it into place
    const dir = new DeliveryDir(outDir, format, 1);
    try {
      dir.write(1, {
        receiptText: parsed.receipt,
        receipt,
        tree,
        outputs,
        first: 0,
        sources: certs.recipients.map((r) => r.from),
      });
      dir.commit();
    } catch (e) {
      dir.discard();
      throw e;
    }
    say(
      `keycast: receipt verified (root ${receipt.root.slice(0, 16)}…); wrote ${outputs.length} output(s) → ${outDir}`,
    );
    const summary = {
      out: outDir,
      recipients: outputs.length,
      format,
      requestDigest: receipt.requestDigest,
      rulesDigest: receipt.rulesDigest,
      pcr0: receipt.pcr0,
      time: receipt.time,
      root: receipt.root,
    };
    if (v.json === true) console.log(JSON.stringify(summary, null, 2));
    else
      console.log(
        `forwarded ${outputs.length} ${format} output(s) for PCR0 ${receipt.pcr0.slice(0, 16)}…, receipt verified → ${outDir}`,
      );
    return 0;
  },
};
