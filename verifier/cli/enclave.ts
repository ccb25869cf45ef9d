/**
 * `keycast verify enclave HOST_URL`: is the enclave behind this host running a logged, active
 * release, right now? Sends a fresh random nonce to the host's GET /v1/attestation, verifies the
 * document (chain to the AWS root or --trust-root, signature, this nonce, freshness), proves its
 * PCR0 is a logged, active release through the log (as keycast verify release does) and that
 * PCR1/PCR2 are the release's too, and prints the keys bound in the document: public_key (the
 * HPKE key studios encrypt to) and user_data, read as the enclave's identity binding
 * (parseIdentityBinding: the HPKE key, the receipt key, the KDM chain digest; a binding that
 * contradicts public_key is refused). --out writes the verified-enclave record `keycast seal
 * --enclave` and `keycast forward --enclave` read (verifier/src/forward/enclave-keys.ts).
 */
import { randomBytes } from 'node:crypto';
import {
  VerifierError,
  RelayedRefusal,
  verifyAttestationDocument,
  parseIdentityBinding,
  checkEnclaveCertificates,
} from '../index.ts';
import type { EnclaveCertificates } from '../src/forward/dkdm-recipient.ts';
import {
  MAX_COSE_BYTES,
  toBase64,
  toHex,
  verifiedEnclaveRecord,
  formatVerifiedEnclave,
  certificatePem,
  fromBase64,
  MAX_ENCLAVE_CHAIN,
  type ReleasePredicate,
} from '../build.ts';
import { WITNESS_HELP, readRoot } from './flags.ts';
import { LOG_HELP, LOG_OPTIONS, say } from './log.ts';
import { publishersFromFlags, verifyReleaseThroughLog } from './release.ts';
import { IDENTITY_HELP, IDENTITY_OPTIONS } from './identity-flags.ts';
import { writeAtomic } from './state.ts';
import {
  checkUrl,
  listFlag as list,
  parseFlags,
  positiveInt,
  stringFlag as str,
  usageError,
  type Command,
  requireOutParent,
} from '../kit/flags.ts';
import { dirname, resolve } from 'node:path';

const HOST_TIMEOUT_MS = 30_000;

function hostError(url: string, reason: string, evidence: Record<string, unknown> = {}): Error {
  const e = new Error(`the host at ${url}: ${reason}`) as Error & { code: string; evidence: Record<string, unknown> };
  e.name = 'IoError';
  e.code = 'EHOST';
  e.evidence = { url, ...evidence };
  return e;
}

/** The coded JSON body `{ code, message, evidence }` an enclave or host refuses with, if it is one. */
export function codedBody(
  body: Uint8Array,
): { code: string; message: string; evidence: Record<string, unknown> } | null {
  let j: { code?: unknown; message?: unknown; evidence?: unknown };
  try {
    j = JSON.parse(Buffer.from(body).toString('utf8'));
  } catch {
    return null;
  }
  if (typeof j !== 'object' || j === null || typeof j.code !== 'string' || !/^[A-Z][A-Z0-9_]{0,63}$/.test(j.code))
    return null;
  return {
    code: j.code,
    message: typeof j.message === 'string' ? j.message.slice(0, 500) : '',
    evidence: typeof j.evidence === 'object' && j.evidence !== null ? (j.evidence as Record<string, unknown>) : {},
  };
}

/** Reads at most `cap` bytes of an error body (the rest is dropped: the status and code are what matter). */
async function errorBody(res: Response, cap = 64 * 1024): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let n = 0;
  try {
    for await (const c of res.body as unknown as AsyncIterable<Uint8Array>) {
      chunks.push(c);
      n += c.length;
      if (n > cap) break;
    }
  } catch {
    // a broken-off error body: what arrived is all there is
  } finally {
    await res.body?.cancel().catch(() => {});
  }
  return new Uint8Array(Buffer.concat(chunks)).subarray(0, cap);
}

/** GET the document, with a timeout over headers and body and a byte cap (a host is not trusted either). */
function fetchAttestation(host: string, nonce: Uint8Array): Promise<Uint8Array> {
  return hostGet(
    host,
    `v1/attestation?nonce=${toHex(nonce)}`,
    'application/cbor',
    MAX_COSE_BYTES,
    'attestation document',
  );
}

/** The enclave's public chains (GET /v1/certificates, JSON of base64 DER lists); checked by the caller against the attestation. */
async function fetchCertificates(host: string): Promise<{ kdmSigner: Uint8Array[]; kdmDecryption: Uint8Array[] }> {
  const bytes = await hostGet(host, 'v1/certificates', 'application/json', 64 * 1024, 'certificates answer');
  const url = new URL('v1/certificates', host.endsWith('/') ? host : `${host}/`).href;
  let v: { kdmSigner?: unknown; kdmDecryption?: unknown };
  try {
    v = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw hostError(url, 'answered /v1/certificates with something other than JSON');
  }
  const list = (x: unknown): Uint8Array[] => {
    if (!Array.isArray(x) || x.length > MAX_ENCLAVE_CHAIN || !x.every((c) => typeof c === 'string'))
      throw hostError(url, 'answered /v1/certificates with malformed chains');
    try {
      return x.map((c: string) => fromBase64(c));
    } catch {
      throw hostError(url, 'answered /v1/certificates with a certificate that is not base64');
    }
  };
  return { kdmSigner: list(v.kdmSigner), kdmDecryption: list(v.kdmDecryption) };
}

async function hostGet(host: string, path: string, accept: string, cap: number, what: string): Promise<Uint8Array> {
  const url = new URL(path, host.endsWith('/') ? host : `${host}/`);
  const signal = AbortSignal.timeout(HOST_TIMEOUT_MS);
  let res: Response;
  try {
    res = await fetch(url, { signal, headers: { accept } });
  } catch (e) {
    throw hostError(url.href, `unreachable (${(e as Error).message})`);
  }
  if (res.status !== 200) {
    // the enclave's own refusal, relayed by the host (503 GATE_CLOSED with RELEASE_REVOKED as
    // evidence, IDENTITY_NOT_READY, …): its code and evidence, exit 5 — not "the host did not answer"
    const coded = codedBody(await errorBody(res));
    if (coded)
      throw new RelayedRefusal(
        coded.code,
        `the enclave at ${host} refused to attest${coded.message ? `: ${coded.message}` : ''}`,
        { ...coded.evidence, url: url.href, status: res.status },
      );
    throw hostError(url.href, `answered HTTP ${res.status}`, { status: res.status });
  }
  const type = (res.headers.get('content-type') ?? '').split(';')[0]!.trim();
  if (type !== accept) {
    await res.body?.cancel().catch(() => {});
    throw hostError(url.href, `answered ${type || 'no content type'}, not ${accept}`);
  }
  const chunks: Uint8Array[] = [];
  let n = 0;
  try {
    for await (const c of res.body as unknown as AsyncIterable<Uint8Array>) {
      n += c.length;
      if (n > cap)
        throw new VerifierError('OVERSIZED', `the host's ${what} is larger than ${cap} bytes`, {
          url: url.href,
          cap,
        });
      chunks.push(c);
    }
  } catch (e) {
    if (e instanceof VerifierError) throw e;
    throw hostError(url.href, `the answer did not arrive (${(e as Error).message})`);
  }
  return new Uint8Array(Buffer.concat(chunks));
}

export const verifyEnclave: Command = {
  path: ['verify', 'enclave'],
  summary: 'attest a live enclave with a fresh nonce and prove it runs a logged, active release',
  help: `keycast verify enclave HOST_URL --log URL --log-key VKEY --publisher KEY.pem…
                       [--witness VKEY…] [--trust-root FILE] [--max-age S] [--out ENCLAVE.json]
                       [--dkdm-certificate PEM] [--state DIR] [--json]

Sends a fresh 32-byte random nonce to HOST_URL/v1/attestation, then verifies the document: its
chain to the AWS Nitro root (or --trust-root, for the simulator's test PKI), its signature,
that it carries this very nonce (a replayed document is NONCE_MISMATCH) and is at most --max-age
seconds old (default 300), not debug mode. Its PCR0 must be a logged, active release signed by a
--publisher key (proven through the log as keycast verify release does), and its PCR1/PCR2 the
release's. Its user_data must be the enclave's identity binding and agree with public_key
(else IDENTITY_BINDING); prints the keys it binds: the HPKE key (you seal content keys to it),
the receipt key (it signs forwarding receipts), the KDM signer chain's digest and the KDM
decryption certificate's digest. When the binding names a decryption certificate, the host's
GET /v1/certificates must serve both chains exactly as bound (the decryption leaf a CA:false
ST 430-2 leaf with its own key, under the signer chain's root), else IDENTITY_BINDING.

  --out ENCLAVE.json    write the verified-enclave record (keycast-verified-enclave/v2: host,
                        pcr0, release, publicKey/userData and the keys read from them, and the
                        attestation document itself) that keycast seal --enclave and keycast
                        forward --enclave read — and verify again: the document's chain, nonce
                        and age, and that the record states what the document holds; it
                        records both KDM certificate chains (keycast dkdm check reads them)
  --dkdm-certificate PEM  write the KDM decryption certificate chain (leaf, then its CAs) that a
                        mastering tool imports as a DKDM recipient; only a chain the attestation
                        binds is ever written (refused with IDENTITY_BINDING otherwise)
  --trust-root FILE     trust this PEM/DER root INSTEAD of the AWS root: required for an enclave
                        on the NSM simulator (keycast nsm test-pki init --root-out ROOT.pem; the
                        demo's is test-root.pem), which no one trusts by default
  --publisher KEY.pem   a release publisher's public key (repeatable), and/or a keyless one by identity:
${IDENTITY_HELP}
${LOG_HELP}
${WITNESS_HELP}

Exit 0 verified, 1 refused (code and evidence), 2 bad flags, 3 log error, 6 the host or a file
cannot be read.`,
  async run(args) {
    const { values: v, positionals } = parseFlags(
      args,
      {
        ...LOG_OPTIONS,
        publisher: { type: 'string', multiple: true },
        ...IDENTITY_OPTIONS,
        'trust-root': { type: 'string', multiple: true },
        'max-age': { type: 'string' },
        out: { type: 'string' },
        'dkdm-certificate': { type: 'string' },
      },
      1,
    );
    const host = positionals[0];
    if (host === undefined) throw usageError('give the host as HOST_URL (http:// or https://)');
    checkUrl(host, 'HOST_URL');
    const { keys: publishers, keyless } = publishersFromFlags(v);
    if (str(v, 'log') === undefined) throw usageError('--log URL is required: the enclave must run a logged release');
    const file = str(v, 'out');
    if (file !== undefined) requireOutParent(file);
    const roots = list(v, 'trust-root').map(readRoot);
    const maxAge = positiveInt(str(v, 'max-age'), 'max-age', 300);

    const nonce = new Uint8Array(randomBytes(32));
    say(`keycast: asking ${host} for an attestation with nonce ${toHex(nonce)}`);
    const doc = await fetchAttestation(host, nonce);
    const att = verifyAttestationDocument(doc, {
      at: new Date(),
      policy: { nonce, maxAgeMs: maxAge * 1000, allowDebug: false },
      ...(roots.length > 0 ? { trustedRoots: roots } : {}),
    });
    const pcr0 = toHex(att.pcrs.get(0)!);
    const r = await verifyReleaseThroughLog(v, { pcr0 }, publishers, [], 0, keyless);
    const m = (r.entry.statement.predicate as ReleasePredicate).measurements;
    for (const [i, want] of [
      [1, m.pcr1],
      [2, m.pcr2],
    ] as const) {
      const got = att.pcrs.get(i);
      if (got === undefined || toHex(got) !== want)
        throw new VerifierError('PCR_MISMATCH', `PCR${i} of the enclave is not release #${r.index}'s`, {
          pcr: i,
          index: r.index,
          expected: want,
          actual: got === undefined ? null : toHex(got),
        });
    }
    const binding = parseIdentityBinding(att.userData, att.publicKey);
    const pemFile = str(v, 'dkdm-certificate');
    let certs: EnclaveCertificates | undefined;
    if (binding.kdmDecryptionSha256 || pemFile !== undefined) {
      // checkEnclaveCertificates refuses (IDENTITY_BINDING) a binding without the decryption digest
      const c = await fetchCertificates(host);
      certs = checkEnclaveCertificates(binding, c.kdmSigner, c.kdmDecryption, new Date());
    }
    const out = verifiedEnclaveRecord(
      {
        host,
        moduleId: att.moduleId,
        timestamp: new Date(att.timestamp).toISOString(),
        pcr0,
        releaseIndex: r.index,
        origin: r.current.checkpoint.origin,
        treeSize: r.current.checkpoint.size,
        publicKey: toBase64(att.publicKey!),
        userData: toBase64(att.userData!),
        nonce: toHex(nonce),
        rootSha256: att.rootSha256,
        attestation: toBase64(doc),
      },
      binding,
      certs,
    );
    if (file !== undefined)
      writeAtomic(resolve(file), dirname(resolve(file)), new TextEncoder().encode(formatVerifiedEnclave(out)));
    if (pemFile !== undefined && certs)
      writeAtomic(
        resolve(pemFile),
        dirname(resolve(pemFile)),
        new TextEncoder().encode(certs.decryptionChain.map((c) => certificatePem(c.der)).join('')),
      );
    if (v.json === true) console.log(JSON.stringify(out, null, 2));
    else
      console.log(
        [
          `OK enclave ${att.moduleId} at ${host} runs release #${r.index} of ${out.origin} (active in its tree of ${out.treeSize})`,
          `  pcr0        ${pcr0}`,
          `  attested    ${out.timestamp}, with the nonce sent`,
          `  hpke key    ${out.hpkeX25519}   (X25519, = public_key: seal content keys to this)`,
          `  receipt key ${out.receiptsEd25519}   (Ed25519: signs forwarding receipts)`,
          `  kdm chain   ${out.kdmChainSha256 ?? '(not bound)'}   (SHA-256 of the KDM signer chain)`,
          ...(certs
            ? [
                `  dkdm cert   ${certs.decryptionChain[0]!.subject}   (KDM decryption leaf: address DKDMs to it)`,
                `              serial ${certs.decryptionChain[0]!.serial.toString(10)}, valid ${certs.decryptionChain[0]!.notBefore.toISOString()} → ${certs.decryptionChain[0]!.notAfter.toISOString()}`,
              ]
            : ['  dkdm cert   (not bound)']),
          ...(pemFile !== undefined ? [`  wrote       ${pemFile} (DKDM recipient chain)`] : []),
          ...(file !== undefined ? [`  wrote       ${file}`] : []),
        ].join('\n'),
      );
    return 0;
  },
};
