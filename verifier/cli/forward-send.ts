/**
 * `keycast forward`: the studio sends sealed content keys, its signed rules and the recipients'
 * certificates through the host to the attested enclave, and gets one KDM (or raw ciphertext)
 * per recipient back with a signed receipt. The recipients go in batches (--batch, in order; the
 * host takes at most 32 MiB a request), each its own request with its own receipt. Each answer
 * is verified with the receipt key of the verified enclave (--enclave, from `keycast verify
 * enclave --out`) and every output proven to be in it before the next batch is sent; its outputs
 * then go to a hidden directory (forward-write.ts), renamed to --out only once every batch has
 * passed. A refusal by the enclave prints its code and the recipient it names (by its index in
 * the whole list), and nothing is written.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  VerifierError,
  RelayedRefusal,
  openReceipt,
  parseForwardAnswer,
  parseKdm,
  type parseVerifiedEnclave,
  type ForwardFormat,
  type ForwardRequest,
  type Receipt,
} from '../index.ts';
import { FORMAT_NAMES } from '../index.ts';
import {
  DeliveryTree,
  forwardRequestDigest,
  formatForwardRequest,
  MAX_FORWARD_REQUEST_LIFETIME_MS,
  deliveryFormat,
  fromBase64,
  parseJsonStrict,
  kdmChainSha256,
  bytesEqual,
  httpRequest,
  sha256,
  toHex,
  MAX_FORWARD_RECIPIENTS,
  type RawAnswer,
} from '../build.ts';
import {
  listFlag as list,
  requireFlag as need,
  parseFlags,
  positiveInt,
  stringFlag as str,
  urlOption,
  usageError,
  type Command,
  oneStdin,
  requireOutParent,
} from '../kit/flags.ts';
import { readInput } from './io.ts';
import { say } from './log.ts';
import { ENCLAVE_TRUST_HELP, ENCLAVE_TRUST_OPTIONS, attestedEnclave } from './attested-enclave.ts';
import { codedBody } from './enclave.ts';
import { DeliveryDir, type VerifiedBatch } from './forward-write.ts';
import { readCertificates, type Certs } from './forward-recipients.ts';
import { checkForwardDelivery } from './forward-logged.ts';
import { readVkey } from './io.ts';

const MAX_INPUT_FILE = 4 * 1024 * 1024;
/** The answer carries every output: allow 64 KiB per recipient and a margin. */
const answerCap = (recipients: number) => 1024 * 1024 + recipients * 64 * 1024;

/** Recipients per request unless --batch says otherwise: a few MiB of PEM, well under the host's 32 MiB. */
const DEFAULT_BATCH = 5000;

/** One request's share of the recipients: `first` is its first recipient's index in the whole list. */
interface Batch {
  number: number;
  of: number;
  first: number;
  recipients: Certs['recipients'];
}

/** How a batch is named on stderr and in errors: empty when the whole list went in one request. */
const batchLabel = (b: Batch) =>
  b.of === 1 ? '' : `batch ${b.number}/${b.of} (recipients ${b.first}–${b.first + b.recipients.length - 1})`;

/**
 * The enclave (or host) refused: its code and the recipient it names, as public evidence. The
 * enclave counts recipients within the batch; the recipient's index reported is its place in the
 * whole list (enclaveEvidence keeps the enclave's own words).
 */
function refusal(status: number, body: Uint8Array, url: string, batch: Batch): RelayedRefusal | VerifierError {
  const j = codedBody(body); // null when not a coded body: the status is all there is
  const code = j?.code ?? `HTTP_${status}`;
  const ev = j?.evidence ?? {};
  const at = ev.index;
  const recipient =
    typeof at === 'number' && Number.isInteger(at) && at >= 0 && at < batch.recipients.length
      ? { index: batch.first + at, thumbprint: ev.thumbprint, subject: ev.subject }
      : undefined;
  const msg = j?.message || `HTTP ${status}`;
  const label = batchLabel(batch);
  const context = {
    url,
    status,
    ...(recipient ? { recipient } : {}),
    ...(label
      ? { batch: { number: batch.number, of: batch.of, first: batch.first, recipients: batch.recipients.length } }
      : {}),
    enclaveEvidence: ev,
  };
  const what = `the enclave refused ${label ? `${label} of ` : ''}the request`;
  // the enclave's own code, unchanged, with where it came from as context; an uncoded answer is the host's
  if (j) return new RelayedRefusal(code, `${what}: ${msg}`, context);
  return new VerifierError('FORWARD_REFUSED', `${what}: ${code}: ${msg}`, { ...context, enclaveCode: code });
}

/** Checks the receipt and every output against what this batch sent; returns the delivery tree. */
function checkAnswer(
  r: Receipt,
  req: ForwardRequest,
  batch: Batch,
  outputs: Array<{ thumbprint: string; bytes: Uint8Array; format: ForwardFormat }>,
  pcr0: string,
): DeliveryTree {
  const bad = (m: string, ev: Record<string, unknown> = {}): never => {
    const label = batchLabel(batch);
    throw new VerifierError(
      'RECEIPT_INVALID',
      label ? `${label}: ${m}` : m,
      label ? { ...ev, batch: batch.number } : ev,
    );
  };
  const sent = batch.recipients.length;
  if (r.pcr0 !== pcr0)
    bad('the receipt names another PCR0 than the verified enclave', { receipt: r.pcr0, attested: pcr0 });
  if (r.requestDigest !== forwardRequestDigest(req))
    bad('the receipt is for another request', { receipt: r.requestDigest });
  if (r.format !== (req.format ?? 'kdm')) bad('the receipt names another output format', { receipt: r.format });
  if (r.recipients !== sent || outputs.length !== sent)
    bad('the answer does not cover every recipient exactly once', {
      sent,
      receipt: r.recipients,
      outputs: outputs.length,
    });
  const tree = new DeliveryTree();
  for (const [i, o] of outputs.entries()) {
    const want = batch.recipients[i]!.thumbprint;
    const at = batch.first + i;
    if (o.thumbprint !== want || o.format !== r.format)
      bad(`output ${at} is not for recipient ${at}`, { index: at, thumbprint: o.thumbprint, expected: want });
    tree.addDigest(fromBase64(o.thumbprint), sha256(o.bytes));
  }
  if (toHex(tree.root()) !== r.root) bad('the outputs are not the deliveries the receipt signs', { root: r.root });
  return tree;
}

interface Send {
  url: URL;
  timeoutS: number;
  enclave: ReturnType<typeof parseVerifiedEnclave>;
  /** everything of a request but its recipients, shared by every batch */
  shared: Omit<ForwardRequest, 'recipients'>;
  format: ForwardFormat;
  /** --log-key: checks a delivery the answer says is on the log (issue 19) */
  logKey?: string;
}

/** Sends one batch and verifies its answer; nothing is written here. */
async function sendBatch(s: Send, batch: Batch): Promise<VerifiedBatch> {
  const { url, format, enclave } = s;
  const req: ForwardRequest = { ...s.shared, recipients: batch.recipients.map((r) => r.text) };
  const label = batchLabel(batch);
  const cap = answerCap(batch.recipients.length);
  const started = Date.now();
  let answer: RawAnswer;
  try {
    answer = await httpRequest(
      { fetch: globalThis.fetch, peer: 'the host', timeoutMs: s.timeoutS * 1000, retries: 0 },
      url,
      {
        method: 'POST',
        body: formatForwardRequest(req),
        contentType: 'application/json',
        accept: ['application/json'],
        cap,
        pass: Array.from({ length: 200 }, (_, i) => 400 + i),
      },
    );
  } catch (e) {
    if (e instanceof VerifierError && e.code === 'LOG_UNAVAILABLE') {
      const io = new Error(
        `the host at ${url.href} did not answer${label ? ` ${label}` : ''}: ${String(e.evidence.reason ?? e.message)}`,
      ) as Error & { code: string; evidence: Record<string, unknown> };
      io.name = 'IoError';
      io.code = 'EHOST';
      io.evidence = { url: url.href, ...(label ? { batch: batch.number } : {}) };
      throw io;
    }
    if (e instanceof VerifierError && e.code === 'LOG_RESPONSE_OVERSIZED')
      throw new VerifierError(
        'OVERSIZED',
        `the host's answer${label ? ` to ${label}` : ''} is larger than ${cap} bytes`,
        {
          url: url.href,
        },
      );
    throw e;
  }
  if (answer.status !== 200) {
    const r = refusal(answer.status, answer.body, url.href, batch);
    const rec = r.evidence.recipient as { index: number; subject: string } | undefined;
    const served = batch.number > 1 ? ` (the outputs of the ${batch.first} recipient(s) before it are discarded)` : '';
    const tooBig = answer.status === 413 ? ' (the host takes at most 32 MiB a request: try a smaller --batch)' : '';
    say(
      `keycast: ${label ? `${label} ` : ''}refused ${r.code === 'FORWARD_REFUSED' ? String(r.evidence.enclaveCode) : r.code}${rec ? ` for recipient ${rec.index} (${rec.subject}, ${batch.recipients[rec.index - batch.first]?.from ?? '?'})` : ''}${tooBig}; nothing written${served}`,
    );
    throw r;
  }
  say(
    `keycast: ${label ? `${label}: ` : ''}the enclave answered in ${((Date.now() - started) / 1000).toFixed(1)} s (${answer.body.length} bytes); verifying the receipt`,
  );
  const parsed = parseForwardAnswer(parseJsonStrict(answer.body, answer.body.length, 'forward answer'));
  const receipt = openReceipt(parsed.receipt, new Uint8Array(enclave.receipt.export({ type: 'spki', format: 'der' })));
  const outputs = parsed.outputs.map((o) => ({
    thumbprint: o.thumbprint,
    format: o.format,
    subject: o.subject,
    bytes: fromBase64(o.bytes),
  }));
  const tree = checkAnswer(receipt, req, batch, outputs, enclave.record.pcr0);
  if (parsed.requestDigest !== receipt.requestDigest)
    throw new VerifierError(
      'RECEIPT_INVALID',
      `${label ? `${label}: ` : ''}the answer names another request than its receipt`,
      { answer: parsed.requestDigest, ...(label ? { batch: batch.number } : {}) },
    );
  const boundChain = enclave.binding.kdmChainSha256;
  const signerChain = deliveryFormat(format).signerChain;
  if (signerChain && boundChain) {
    for (const [i, o] of outputs.entries()) {
      if (!bytesEqual(kdmChainSha256(signerChain(o.bytes)), boundChain))
        throw new VerifierError(
          'KDM_SIGNATURE',
          `KDM ${batch.first + i} is not signed with the KDM signer chain the enclave's attestation binds`,
          { index: batch.first + i },
        );
    }
    say(`keycast: ${label ? `${label}: ` : ''}every KDM carries the attested KDM signer chain`);
  }
  // a transparent enclave: the delivery must be on the log before anything is written
  const logged =
    parsed.delivery === undefined
      ? undefined
      : checkForwardDelivery(
          parsed.delivery,
          receipt,
          new Uint8Array(enclave.receipt.export({ type: 'spki', format: 'der' })),
          s.logKey,
        );
  if (logged)
    say(
      `keycast: ${label ? `${label}: ` : ''}the delivery is on the log at index ${logged.index} (checked under --log-key)`,
    );
  return {
    receiptText: parsed.receipt,
    receipt,
    tree,
    outputs,
    first: batch.first,
    sources: batch.recipients.map((r) => r.from),
    ...(logged ? { logged } : {}),
  };
}

/**
 * --expires: seconds from now (default 3600) or an instant `YYYY-MM-DDThh:mm:ssZ` — the same
 * instant makes the same request, so sending it again is refused as a replay rather than served twice.
 */
function expiresFlag(flag: string | undefined): string {
  const now = Date.now();
  const at = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/.test(flag ?? '')
    ? Date.parse(flag!)
    : Math.floor(now / 1000) * 1000 + positiveInt(flag, 'expires', 3600) * 1000;
  if (!Number.isFinite(at) || at <= now || at - now > MAX_FORWARD_REQUEST_LIFETIME_MS)
    throw usageError(`--expires must lie in the next ${MAX_FORWARD_REQUEST_LIFETIME_MS / 1000} seconds`);
  return new Date(at).toISOString().replace('.000Z', 'Z');
}

export const forwardSend: Command = {
  path: ['forward'],
  summary:
    'forward sealed content keys through the host to the attested enclave: one KDM per recipient and a verified receipt',
  help: `keycast forward --host URL --enclave ENCLAVE.json --sealed SEALED --rules RULES.dsse
                --recipients DIR|FILE [--intermediate PEM…] [--format FORMAT] --out DIR
                (--expect-pcr0 HEX | --log URL --log-key VKEY [--witness VKEY…]) [--trust-root FILE] [--max-age S]
                [--batch N] [--timeout S] [--expires S|TIME] [--json]
keycast forward --dkdm DKDM.xml --rules-key PUB --rules-endorsement FILE  (instead of --sealed) …

With --dkdm the keys come as a DKDM — a mastering tool's KDM addressed to the enclave's KDM
decryption certificate (keycast verify enclave --dkdm-certificate) — instead of sealed keys:
--rules-key is the studio key the rules are signed with, --rules-endorsement the DKDM signer's
endorsement of exactly these rules (keycast rules endorse). The enclave checks the DKDM (keycast
dkdm check says offline what it will say) and opens it only then; its refusal keeps the code
dkdm check gives (DKDM_…) and nothing is written anywhere.

Posts forward requests (verifier/src/forward/request.ts) to URL/v1/forward: the sealed content
keys (keycast seal), the signed rules (keycast rules sign) and the recipient certificates — every
*.pem/*.crt/*.cer/*.der in DIR in name order (a PEM file may hold a leaf and its CAs), or each
certificate of one PEM bundle FILE; CA certificates among them (and --intermediate files) go as
shared intermediates. Each recipient at most once (else exit 2).

The recipients go in order, --batch N per request (default ${DEFAULT_BATCH}; the host takes at most
32 MiB a request): each batch is its own request with the same keys, rules and intermediates, and
its own receipt. Each answer is read with a byte cap and --timeout (default 300 s), and is
verified before the next batch is sent: the receipt with the receipt key of ENCLAVE.json (the
record keycast verify enclave --out wrote) — its signature, PCR0, that batch's request digest,
and a Merkle root over exactly the outputs received, one per recipient in order — and every
KDM's signer chain must be the one the attestation binds (kdm-chain-sha256). The batch's outputs
then go to a hidden sibling directory (.DIR.partial-…), which becomes DIR (it must not exist)
only once every batch has passed; any refusal or bad answer removes it.

DIR holds, per recipient, <thumbprint hex>.kdm.xml (or .raw.json for a raw format) and
proofs/<thumbprint hex>.json (and <file>.logged.json from a transparent enclave, below); the receipt — receipt.json with one batch, receipts/0001.json,
0002.json … with several; and index.json: format, batches [{ receipt, requestDigest, recipients,
root }], requestDigest (one batch only) and recipients [{ index (in the whole list), thumbprint,
subject, file, proof, source, receipt }]. A delivery is proven with keycast receipt verify
DIR/<its receipt> --delivery DIR/<file> --proof DIR/<proof>; a raw-hpke delivery opens under its
batch's requestDigest. Progress goes to stderr, per batch.

Each request carries an expiry (--expires: seconds from now, default 3600, or an instant
YYYY-MM-DDThh:mm:ssZ; at most 24 hours ahead), bound into its digest — the same instant makes the
same request, so a resend is a replay: the enclave refuses it after that (REQUEST_EXPIRED), and the host keeps
the digests it served (in its store, across restarts and instances) until then.

A batch the enclave served is not served again (FORWARD_REPLAY): if a later batch is refused,
the earlier ones' outputs are discarded, so send again with other rules or another --batch.

A transparent enclave (its image pins "deliveries": { "required": true }) releases the outputs
only once their delivery entry is on the log, and the host's answer says where (delivery: index
and the log's entry). keycast then checks it before writing: the logged entry is signed by the
enclave's receipt key and names this batch's root, request, count, rules and PCR0, and it is
included under a checkpoint signed by --log-key (required then: the log's verifier key, with
--expect-pcr0 or --log). Each output gets <file>.logged.json (keycast-kdm-logged/v1), which a
projector's owner checks with keycast kdm logged. A log that is down or refuses the entry means
no outputs (the host answers 503 DELIVERY_LOG_UNAVAILABLE or DELIVERY_LOG_REFUSED; exit 5,
nothing written); the same command again, with the same --expires instant, is served once the log
is back and makes exactly one entry.

FORMAT: kdm (default: signed SMPTE KDMs for DCI projectors); raw-rsa-oaep (or raw: each key's
ST 430-1 block under RSA-OAEP-SHA256, for non-DCI receivers with RSA certificates); raw-hpke (the
same blocks under HPKE X25519/AES-256-GCM, bound to the receiver, CPL and request, for receivers
with X25519 certificates, who open them with the verifier's openRawHpkeDelivery).

ENCLAVE.json is verified again before anything is sent, as keycast seal does (its attestation
document: chain, nonce, age; the record must state what it holds; a PCR policy is required):
${ENCLAVE_TRUST_HELP}

Exit 0 written; 5 the enclave refused (with the code it refused with, e.g. FORWARD_RECIPIENT_NOT_ALLOWED,
RULES_SIGNATURE, GATE_CLOSED, and the recipient it names, by its index in the whole list; nothing
written) or the host refused without a code (FORWARD_REFUSED); 1 RECEIPT_INVALID, IDENTITY_BINDING or
DELIVERY_NOT_LOGGED (a delivery the log does not prove; nothing written); 2 bad
flags; 6 a file or the host cannot be read.`,
  async run(args) {
    const { values: v } = parseFlags(args, {
      host: urlOption(),
      enclave: { type: 'string' },
      ...ENCLAVE_TRUST_OPTIONS,
      sealed: { type: 'string' },
      dkdm: { type: 'string' },
      'rules-key': { type: 'string' },
      'rules-endorsement': { type: 'string' },
      rules: { type: 'string' },
      recipients: { type: 'string' },
      intermediate: { type: 'string', multiple: true },
      format: { type: 'string' },
      out: { type: 'string' },
      batch: { type: 'string' },
      timeout: { type: 'string' },
      expires: { type: 'string' },
    });
    const host = need(v, 'host');
    const outDir = resolve(need(v, 'out'));
    requireOutParent(outDir);
    if (existsSync(outDir)) throw usageError(`--out ${outDir} already exists: give a new directory`);
    const fmt = str(v, 'format') ?? 'kdm';
    const format = (fmt === 'raw' ? 'raw-rsa-oaep' : fmt) as ForwardFormat;
    if (!FORMAT_NAMES.includes(format)) throw usageError(`--format must be raw or one of ${FORMAT_NAMES.join(', ')}`);
    const timeoutS = positiveInt(str(v, 'timeout'), 'timeout', 300);
    const batchSize = positiveInt(str(v, 'batch'), 'batch', DEFAULT_BATCH);
    const expires = expiresFlag(str(v, 'expires'));
    if (batchSize > MAX_FORWARD_RECIPIENTS) throw usageError(`--batch must be at most ${MAX_FORWARD_RECIPIENTS}`);
    oneStdin(str(v, 'enclave'), str(v, 'sealed') ?? str(v, 'dkdm'), str(v, 'rules'));
    if ((str(v, 'sealed') === undefined) === (str(v, 'dkdm') === undefined))
      throw usageError('give exactly one of --sealed and --dkdm');
    const attested = await attestedEnclave(v, { policy: 'required', fresh: true });
    if (!attested.record) throw usageError('--enclave must be the record keycast verify enclave --out wrote');
    const enclave = attested as ReturnType<typeof parseVerifiedEnclave>;
    const text = (flag: string, what: string) =>
      Buffer.from(readInput(need(v, flag), MAX_INPUT_FILE, what)).toString('utf8');
    const keysIn =
      str(v, 'dkdm') !== undefined
        ? {
            dkdm: text('dkdm', 'DKDM'),
            rulesKey: text('rules-key', 'rules key'),
            rulesEndorsement: text('rules-endorsement', 'rules endorsement').trim(),
          }
        : { sealedKeys: text('sealed', 'sealed keys') };
    const rules = Buffer.from(readInput(need(v, 'rules'), MAX_INPUT_FILE, 'rules')).toString('utf8');
    const certs = readCertificates(need(v, 'recipients'), list(v, 'intermediate'));
    const total = certs.recipients.length;
    const count = Math.ceil(total / batchSize);

    const url = new URL('v1/forward', host.endsWith('/') ? host : `${host}/`);
    const send: Send = {
      url,
      timeoutS,
      enclave,
      shared: { ...keysIn, rules, intermediates: certs.intermediates, format, expires },
      format,
      ...(typeof v['log-key'] === 'string' ? { logKey: readVkey(v['log-key'], '--log-key') } : {}),
    };
    say(
      `keycast: forwarding ${total} recipient(s) (${certs.intermediates.length} intermediate CA(s), ${format}) to ${url.href}${count > 1 ? ` in ${count} batches of at most ${batchSize}` : ''}`,
    );
    const dir = new DeliveryDir(outDir, format, count);
    const receipts: Receipt[] = [];
    try {
      for (let n = 1; n <= count; n++) {
        const first = (n - 1) * batchSize;
        const batch: Batch = {
          number: n,
          of: count,
          first,
          recipients: certs.recipients.slice(first, first + batchSize),
        };
        const verified = await sendBatch(send, batch);
        const rulesDigest = receipts[0]?.rulesDigest ?? verified.receipt.rulesDigest;
        if (verified.receipt.rulesDigest !== rulesDigest)
          throw new VerifierError(
            'RECEIPT_INVALID',
            `${batchLabel(batch)}: the receipt names other rules than batch 1's`,
            {
              receipt: verified.receipt.rulesDigest,
              first: rulesDigest,
            },
          );
        // written now, and dropped from memory before the next batch is sent
        dir.write(n, verified);
        receipts.push(verified.receipt);
        if (count > 1)
          say(
            `keycast: batch ${n}/${count}: ${batch.recipients.length} recipient(s), receipt verified (root ${verified.receipt.root.slice(0, 16)}…); outputs written to the temporary directory`,
          );
      }
      dir.commit();
    } catch (e) {
      dir.discard();
      throw e;
    }
    const one = receipts[0]!;
    say(
      count === 1
        ? `keycast: receipt verified (root ${one.root.slice(0, 16)}…); wrote ${total} output(s) → ${outDir}`
        : `keycast: all ${count} receipts verified; wrote ${total} output(s) → ${outDir}`,
    );
    const summary =
      count === 1
        ? {
            out: outDir,
            recipients: total,
            format,
            batches: 1,
            requestDigest: one.requestDigest,
            rulesDigest: one.rulesDigest,
            pcr0: one.pcr0,
            time: one.time,
            root: one.root,
          }
        : {
            out: outDir,
            recipients: total,
            format,
            batches: count,
            rulesDigest: one.rulesDigest,
            pcr0: one.pcr0,
            receipts: receipts.map((r, i) => ({
              receipt: dir.receiptName(i + 1),
              requestDigest: r.requestDigest,
              recipients: r.recipients,
              time: r.time,
              root: r.root,
            })),
          };
    if (v.json === true) console.log(JSON.stringify(summary, null, 2));
    else
      console.log(
        `forwarded ${total} ${format} output(s)${count > 1 ? ` in ${count} batches` : ''} for PCR0 ${one.pcr0.slice(0, 16)}…, ${count > 1 ? `${count} receipts` : 'receipt'} verified → ${outDir}`,
      );
    return 0;
  },
};
