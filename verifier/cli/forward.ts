/**
 * Studio tools for forwarding (the library does the work; this file reads and writes files; every
 * input may be `-` for stdin, one per command, and every --out goes into an existing directory):
 *
 *   keycast rules sign RULES.json --key KEY --out RULES.dsse
 *   keycast seal --enclave ENCLAVE.json|ATTESTATION --keys KEYS.json --rules RULES.dsse --rules-key PUB --out SEALED [--trust-root FILE] [--expect-pcr0 HEX]
 *   keycast kdm inspect KDM.xml [--key PROJECTOR.pem] [--at TIME] [--signer-root ROOT.pem]
 *   keycast receipt verify RECEIPT (--receipt-key PUB | --enclave ATTESTATION [--trust-root FILE])
 *       [--delivery KDM --proof PROOF.json]
 */
import { writeFileSync } from 'node:fs';
import { ENCLAVE_TRUST_HELP, ENCLAVE_TRUST_OPTIONS, attestedEnclave } from './attested-enclave.ts';
import {
  type Command,
  type Flags as Values,
  oneStdin,
  parseFlags,
  requireFlag as need,
  requireOutParent,
  usageError,
} from '../kit/flags.ts';
import { readInput } from './io.ts';
import { createPrivateKey, type KeyObject } from 'node:crypto';
import {
  VerifierError,
  validateRules,
  openRules,
  verifyKdmSignature,
  parseKdm,
  checkKdmSignerChain,
  decryptKdm,
  parseDcCertificate,
  errorText,
  openReceipt,
  parseDeliveryProof,
  checkDelivery,
  type FilmKeys,
  type DcCertificate,
} from '../index.ts';
import { DELIVERY_FORMATS } from '../build.ts';
import type { KeyType } from '../build.ts';
import { checkSignerLeaf } from '../src/kdm/dkdm-check.ts';
import {
  signRules,
  parseJsonStrict,
  sealContentKeys,
  toHex,
  fromHex,
  pemCertificates,
  certificateThumbprint,
  RAW_RSA_OAEP_ENCRYPTION,
} from '../build.ts';

/** Every file a studio tool reads: a path or `-` (stdin), capped (a KDM, a key, a receipt are small). */
const MAX_INPUT = 64 * 1024 * 1024;
const read = (path: string, what: string): Buffer => Buffer.from(readInput(path, MAX_INPUT, what));

function privateKeyFile(file: string): KeyObject {
  try {
    return createPrivateKey(read(file, 'private key'));
  } catch (e) {
    if (e instanceof Error && (e.name === 'IoError' || e instanceof VerifierError)) throw e;
    throw usageError(`${file}: not a PEM private key`);
  }
}

const out = (json: boolean, obj: unknown, text: string) => console.log(json ? JSON.stringify(obj, null, 2) : text);

const rulesSign: Command = {
  path: ['rules', 'sign'],
  summary: 'sign forwarding rules (strict JSON schema) as a DSSE envelope with the studio key',
  help: `keycast rules sign RULES.json --key KEY --out RULES.dsse [--json]

Checks RULES.json against the forwarding-rules schema (keycast-forward-rules/v2: it names the
output formats and recipient CN roles it allows; v1 is refused as RULES_OUTDATED; unknown fields
refused), writes its canonical form signed as a DSSE envelope (payload type
application/vnd.keycast.forward-rules+json). KEY: the studio's Ed25519 or P-256 private key (PEM).
Exit 1 (RULES_INVALID) when the rules are malformed. Any input file may be - (stdin; one per command);
--out goes into an existing directory (else exit 6).`,
  async run(args) {
    const { values: v, positionals: p } = parseFlags(
      args,
      { key: { type: 'string' }, out: { type: 'string' } },
      { exactly: 1 },
    );
    oneStdin(p[0], v.key as string | undefined);
    requireOutParent(need(v, 'out'));
    const rules = validateRules(parseJsonStrict(read(p[0]!, 'rules'), 4 << 20, 'rules'));
    const env = signRules(rules, privateKeyFile(need(v, 'key')));
    writeFileSync(need(v, 'out'), env);
    out(
      v.json === true,
      { out: v.out, film: rules.film },
      `signed rules for ${rules.film.title} (${rules.film.cplId}) → ${v.out}`,
    );
    return 0;
  },
};

const seal: Command = {
  path: ['seal'],
  summary: "seal a film's content keys to an attested forwarding enclave, bound to the studio's signed rules",
  help: `keycast seal --enclave ENCLAVE.json|ATTESTATION --keys KEYS.json --rules RULES.dsse --rules-key PUB --out SEALED
             (--expect-pcr0 HEX | --log URL --log-key VKEY [--witness VKEY…]) [--trust-root FILE] [--max-age S] [--json]

ENCLAVE.json: the record keycast verify enclave --out wrote; the attestation document it carries
is verified again (chain, signature, the record's nonce, at most --max-age old) and must hold
exactly what the record states — a v1 record or a hand-written one is RECORD_UNVERIFIABLE. Or
ATTESTATION, an AWS Nitro attestation document (CBOR or base64) verified the same way. Either way
a PCR policy is required, as keycast verify attestation requires one: --expect-pcr0, or --log
(PCR0 must be a logged release). Then reads the enclave's HPKE key from its binding and seals the
keys (HPKE X25519/HKDF-SHA256/AES-256-GCM) for that release's PCR0, the studio key PUB and the
one rules document RULES.dsse (verified with PUB here; keycast-sealed-keys/v2 binds its digest):
the enclave releases them under exactly those rules — not under older or looser rules the same
key once signed. New rules (a projector excluded) need the keys sealed again. A bare key file is refused: the enclave key must come
inside a verified attestation.
KEYS.json: {"cplId":"urn:uuid:…","keys":[{"id":"urn:uuid:…","type":"MDIK","key":"<32 hex>"},…]}
${ENCLAVE_TRUST_HELP}`,
  async run(args) {
    const { values: v } = parseFlags(
      args,
      {
        enclave: { type: 'string' },
        keys: { type: 'string' },
        rules: { type: 'string' },
        'rules-key': { type: 'string' },
        out: { type: 'string' },
        ...ENCLAVE_TRUST_OPTIONS,
      },
      { exactly: 0 },
    );
    oneStdin(
      v.enclave as string | undefined,
      v.keys as string | undefined,
      v['rules-key'] as string | undefined,
      v.rules as string | undefined,
    );
    requireOutParent(need(v, 'out'));
    const ek = await attestedEnclave(v as Values, { policy: 'required', fresh: true });
    const rulesKey = read(need(v, 'rules-key'), '--rules-key').toString('utf8');
    const rules = openRules(read(need(v, 'rules'), '--rules'), rulesKey);
    const j = parseJsonStrict(read(need(v, 'keys'), '--keys'), 1 << 20, 'keys') as {
      cplId: string;
      keys: Array<{ id: string; type: KeyType; key: string }>;
    };
    let fk: FilmKeys;
    try {
      fk = { cplId: j.cplId, keys: j.keys.map((k) => ({ id: k.id, type: k.type, key: fromHex(k.key) })) };
    } catch {
      throw usageError('KEYS.json must be {"cplId","keys":[{"id","type","key":"<32 hex>"}]}');
    }
    let sealed: string;
    try {
      sealed = await sealContentKeys(fk, ek.hpke, ek.pcr0, rulesKey, rules.digest);
    } catch (e) {
      if (e instanceof RangeError) throw usageError(e.message);
      throw e;
    }
    writeFileSync(need(v, 'out'), sealed);
    out(
      v.json === true,
      { out: v.out, pcr0: toHex(ek.pcr0), keys: fk.keys.length, rulesDigest: rules.digest },
      `sealed ${fk.keys.length} key(s) of ${fk.cplId} for PCR0 ${toHex(ek.pcr0).slice(0, 16)}… → ${v.out}`,
    );
    return 0;
  },
};

const kdmInspect: Command = {
  path: ['kdm', 'inspect'],
  summary: 'show a KDM: recipient, CPL, window, keys, signature and signer chain; decrypt with --key',
  help: `keycast kdm inspect KDM.xml [--key PROJECTOR.pem] [--at TIME] [--signer-root ROOT.pem] [--json]

Parses an SMPTE ST 430-1 KDM (or a DKDM), verifies its XML signature (exactly the two ST 430-3
references), that the signer is a CA:false leaf whose dnQualifier matches its key, and its KeyInfo chain (to --signer-root, or to the chain's own root: self-consistency) at --at
(default now). With --key (the projector's private key, for testing) decrypts every key block and
checks it against the XML; the content keys are PRINTED (never without --key). Shows the recipient,
signer chain, window and key ids. Exit 1 when the signature, the signer, its chain or a block fails.
KDM.xml (or any other input file) may be - (stdin; one per command).`,
  async run(args) {
    const { values: v, positionals: p } = parseFlags(
      args,
      { key: { type: 'string' }, at: { type: 'string' }, 'signer-root': { type: 'string' } },
      { exactly: 1 },
    );
    oneStdin(p[0], v.key as string | undefined, v['signer-root'] as string | undefined);
    const xml = read(p[0]!, 'KDM');
    const at = typeof v.at === 'string' ? new Date(v.at) : new Date();
    if (Number.isNaN(at.getTime())) throw usageError('--at must be an ISO time');
    const kdm = parseKdm(new Uint8Array(xml));
    let signature = 'verified';
    let chain = '';
    let signerLeaf = '';
    let signer: DcCertificate | undefined;
    try {
      signer = (await verifyKdmSignature(new Uint8Array(xml))).signer;
      try {
        checkSignerLeaf(signer);
        signerLeaf = 'CA:false leaf, dnQualifier matches its key';
      } catch (e) {
        signerLeaf = `FAILED: ${errorText(e)}`;
      }
      const roots =
        typeof v['signer-root'] === 'string'
          ? pemCertificates(read(v['signer-root'], '--signer-root').toString('utf8')).map(parseDcCertificate)
          : undefined;
      try {
        chain = `${checkKdmSignerChain(kdm, signer, { at, roots, profile: false }).length} certificates to ${roots ? 'the given root' : 'its own root'}`;
      } catch (e) {
        chain = `FAILED: ${(e as Error).message}`;
      }
    } catch (e) {
      signature = `FAILED: ${(e as Error).message}`;
    }
    const keys = typeof v.key === 'string' ? decryptKdm(kdm, privateKeyFile(v.key), signer) : null;
    const view = {
      messageId: kdm.messageId,
      annotation: kdm.annotation,
      issueDate: kdm.issueDate,
      recipient: kdm.recipient,
      cplId: kdm.cplId,
      title: kdm.title,
      window: [kdm.notBefore, kdm.notAfter],
      deviceList: kdm.deviceList,
      keyIds: kdm.keyIds,
      signer: kdm.signer,
      signerThumbprint: signer ? certificateThumbprint(signer) : null,
      signerChain: kdm.signerChain.map((c) => ({
        subject: c.subject,
        thumbprint: certificateThumbprint(c),
        notBefore: c.notBefore.toISOString(),
        notAfter: c.notAfter.toISOString(),
      })),
      signature,
      signerLeaf,
      chain,
      ...(keys ? { keys: keys.map((k) => ({ id: k.id, type: k.type, key: toHex(k.key) })) } : {}),
    };
    const lines = [
      `KDM         ${kdm.messageId}  issued ${kdm.issueDate}`,
      `recipient   ${kdm.recipient.subjectName}`,
      `            issuer ${kdm.recipient.issuerName}  serial ${kdm.recipient.serial}`,
      `CPL         ${kdm.cplId}  "${kdm.title}"`,
      `window      ${kdm.notBefore} → ${kdm.notAfter}`,
      `key ids     ${kdm.keyIds.map((k) => `${k.type} ${k.id}`).join('\n            ')}`,
      `signer      ${kdm.signerChain.map((c) => `${c.subject}  ${certificateThumbprint(c)}  ${c.notBefore.toISOString()} → ${c.notAfter.toISOString()}`).join('\n            ')}`,
      `signature   ${signature}${chain ? `; chain ${chain}` : ''}${signerLeaf ? `; signer ${signerLeaf}` : ''}`,
      ...(keys ? [`keys        ${keys.map((k) => `${k.type} ${k.id} ${toHex(k.key)}`).join('\n            ')}`] : []),
    ];
    out(v.json === true, view, lines.join('\n'));
    return signature === 'verified' && !chain.startsWith('FAILED') && !signerLeaf.startsWith('FAILED') ? 0 : 1;
  },
};

const receiptVerify: Command = {
  path: ['receipt', 'verify'],
  summary: "verify a forwarding receipt (enclave's signature) and, optionally, one delivery's inclusion",
  help: `keycast receipt verify RECEIPT (--receipt-key PUB | --enclave ENCLAVE.json|ATTESTATION [--trust-root FILE] [--expect-pcr0 HEX | --log URL --log-key VKEY])
    [--delivery KDM --proof PROOF.json] [--json]

Checks the receipt's signature with the enclave's receipt key (PEM, or read from a verified
attestation's public_key binding), prints what it states (request and rules digests, PCR0, time,
number of recipients, Merkle root). With --delivery and --proof: proves that exactly these
delivered bytes went to the recipient the proof names (RFC 6962 inclusion proof). RECEIPT (or any
other input file) may be - (stdin; one per command).`,
  async run(args) {
    const { values: v, positionals: p } = parseFlags(
      args,
      {
        'receipt-key': { type: 'string' },
        enclave: { type: 'string' },
        ...ENCLAVE_TRUST_OPTIONS,
        delivery: { type: 'string' },
        proof: { type: 'string' },
      },
      { exactly: 1 },
    );
    if ((v['receipt-key'] === undefined) === (v.enclave === undefined))
      throw usageError('give exactly one of --receipt-key and --enclave');
    if ((v.delivery === undefined) !== (v.proof === undefined)) throw usageError('--delivery and --proof go together');
    oneStdin(
      p[0],
      v['receipt-key'] as string | undefined,
      v.enclave as string | undefined,
      v.delivery as string | undefined,
      v.proof as string | undefined,
    );
    let key: string | Uint8Array;
    let attestedPcr0: string | null = null;
    if (typeof v['receipt-key'] === 'string') key = read(v['receipt-key'], '--receipt-key').toString('utf8');
    else {
      // a receipt is checked long after: the attestation's age is not held against it
      const ek = await attestedEnclave(v as Values, { policy: 'optional', fresh: false });
      key = new Uint8Array(ek.receipt.export({ type: 'spki', format: 'der' }));
      attestedPcr0 = toHex(ek.pcr0);
    }
    const r = openReceipt(read(p[0]!, 'receipt'), key);
    if (attestedPcr0 && attestedPcr0 !== r.pcr0)
      throw new VerifierError('RECEIPT_INVALID', 'the receipt names another PCR0 than the attested enclave', {
        receipt: r.pcr0,
        attested: attestedPcr0,
      });
    let delivery = '';
    if (typeof v.proof === 'string') {
      const proof = parseDeliveryProof(read(v.proof, '--proof'));
      checkDelivery(r, proof, new Uint8Array(read(v.delivery as string, '--delivery')));
      delivery = `delivery #${proof.index} to certificate ${proof.thumbprint} is in the receipt`;
    }
    out(
      v.json === true,
      { receipt: r, delivery: delivery || null },
      [
        `receipt     ${r.recipients} ${r.format} deliveries at ${r.time}`,
        `PCR0        ${r.pcr0}`,
        `request     ${r.requestDigest}`,
        `rules       ${r.rulesDigest}`,
        `root        ${r.root}`,
        ...(delivery ? [delivery] : []),
      ].join('\n'),
    );
    return 0;
  },
};

const rawOpen: Command = {
  path: ['raw', 'open'],
  summary: "open a raw delivery (raw-hpke or raw-rsa-oaep) with the receiver's key, checking it is for this receiver",
  help: `keycast raw open DELIVERY.json --key RECEIVER.key --cert RECEIVER.pem [--request-digest HEX]
                [--cpl URN] [--json]

Opens a raw delivery written by keycast forward --format raw-hpke or --format raw (raw-rsa-oaep),
as its "encryption" field says, with the receiver's private key. It must name the receiver's
certificate thumbprint (--cert) and, with --cpl, that CPL (otherwise the CPL it names); every key
block is decrypted, decoded and checked against the document. The content keys are PRINTED (for
testing).

raw-hpke (verifier/src/forward/raw-hpke.ts): an X25519 --key; it must also open under the forward
request's digest (--request-digest, required: index.json's requestDigest — when keycast forward
sent several batches, that of the batch whose receipt the delivery's entry names — or the
receipt's). raw-rsa-oaep (verifier/src/forward/raw-rsa-oaep.ts): an RSA --key; each block is
RSA-OAEP-SHA256 to the certificate's key, and the document names no request.

Exit 1 RAW_DELIVERY_BINDING (another receiver, request or CPL, the wrong key, or tampered) or
RAW_DELIVERY_MALFORMED; 2 bad flags (a key of the wrong type for the delivery, a missing
--request-digest for raw-hpke).`,
  async run(args) {
    const { values: v, positionals: p } = parseFlags(
      args,
      {
        key: { type: 'string' },
        cert: { type: 'string' },
        'request-digest': { type: 'string' },
        cpl: { type: 'string' },
      },
      { exactly: 1 },
    );
    const digest = typeof v['request-digest'] === 'string' ? v['request-digest'] : undefined;
    if (digest !== undefined && !/^[0-9a-f]{64}$/.test(digest))
      throw usageError('--request-digest must be 64 lowercase hex digits');
    oneStdin(p[0], v.key as string | undefined, v.cert as string | undefined);
    const [der] = pemCertificates(read(need(v, 'cert'), '--cert').toString('utf8'));
    if (!der) throw usageError('--cert holds no certificate');
    const cert = parseDcCertificate(der);
    const key = privateKeyFile(need(v, 'key'));
    const bytes = new Uint8Array(read(p[0]!, 'delivery'));
    let named: { cplId?: unknown; encryption?: unknown } = {};
    try {
      named = JSON.parse(Buffer.from(bytes).toString('utf8')) ?? {};
    } catch {
      named = {}; // the opener reports it as malformed
    }
    // the raw format the document names by its "encryption"; failing that, the one the key opens (its parser then says why not)
    const raw = DELIVERY_FORMATS.filter((f) => f.open.encryption !== undefined);
    const format =
      raw.find((f) => f.open.encryption === named.encryption) ??
      raw.find((f) => f.open.keyType === key.asymmetricKeyType) ??
      raw[raw.length - 1]!;
    const bindsRequest = format.open.binds.includes('requestDigest');
    const namedCpl = typeof named.cplId === 'string' ? named.cplId : undefined;
    const cplId = typeof v.cpl === 'string' ? v.cpl : (namedCpl ?? '');
    const recipient = certificateThumbprint(cert);
    if (key.asymmetricKeyType !== format.open.keyType)
      throw usageError(`--key must be an ${format.open.keyName} private key for a ${format.name} delivery`);
    if (bindsRequest && digest === undefined)
      throw usageError(`--request-digest is required for a ${format.name} delivery`);
    const o = await format.open.run(bytes, key, { recipient, cplId, requestDigest: digest });
    const view = {
      format: format.name,
      recipient: cert.subject,
      thumbprint: recipient,
      cplId: o.cplId,
      window: [o.notBefore, o.notAfter],
      ...(bindsRequest ? { requestDigest: digest } : {}),
      keys: o.keys.map((k) => ({ id: k.keyId, type: k.keyType, key: toHex(k.key) })),
    };
    out(
      v.json === true,
      view,
      [
        `${view.format.padEnd(12)}for ${cert.subject} (thumbprint ${view.thumbprint})`,
        `CPL         ${o.cplId}${typeof v.cpl === 'string' ? '' : ' (as the delivery names it)'}`,
        `window      ${o.notBefore} → ${o.notAfter}`,
        ...(bindsRequest ? [`request     ${digest}`] : []),
        `keys        ${view.keys.map((k) => `${k.type} ${k.id} ${k.key}`).join('\n            ')}`,
      ].join('\n'),
    );
    return 0;
  },
};

export const commands: Command[] = [rulesSign, seal, kdmInspect, rawOpen, receiptVerify];
