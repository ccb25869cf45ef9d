/**
 * The recipients of `keycast forward`, read from the studio's files: every *.pem/*.crt/*.cer/*.der
 * of a directory in name order (a PEM file may hold a leaf followed by its CAs), or each
 * certificate of one PEM bundle. CA certificates among them become shared intermediates. A
 * certificate listed twice is refused here: the enclave refuses it within one request, but only
 * the studio's side sees the whole list when it goes in several batches.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { VerifierError, parseDcCertificate, type DcCertificate } from '../index.ts';
import { certificateThumbprint, certificatePem, pemCertificates, MAX_FORWARD_RECIPIENTS } from '../build.ts';
import { usageError } from '../kit/flags.ts';
import { readUserFile } from './io.ts';

const MAX_CERT_FILE = 64 * 1024;
const MAX_BUNDLE_FILE = 256 * 1024 * 1024;

export interface Certs {
  recipients: Array<{ text: string; cert: DcCertificate; thumbprint: string; from: string }>;
  intermediates: string[];
}

function parseCert(der: Uint8Array, from: string): DcCertificate {
  try {
    return parseDcCertificate(der);
  } catch (e) {
    throw new VerifierError('CERT_MALFORMED', `${from} is not a certificate: ${(e as Error).message}`, { file: from });
  }
}

const pem = certificatePem;

/**
 * Recipient certificates from a directory (every *.pem/*.crt/*.cer/*.der file, in name order; a
 * PEM file may hold a leaf followed by its CAs) or from one PEM bundle (each certificate a
 * recipient). CA certificates found among them are sent as shared intermediates. Each recipient
 * at most once.
 */
export function readCertificates(path: string, extra: string[]): Certs {
  const out: Certs = { recipients: [], intermediates: [] };
  const add = (ders: Uint8Array[], from: string, separate: boolean) => {
    const certs = ders.map((d, i) => parseCert(d, `${from}${ders.length > 1 ? ` #${i + 1}` : ''}`));
    const groups = separate
      ? certs.map((c, i) => [[c, ders[i]!]] as Array<[DcCertificate, Uint8Array]>)
      : [certs.map((c, i) => [c, ders[i]!] as [DcCertificate, Uint8Array])];
    for (const g of groups) {
      const [leaf] = g[0]!;
      if (leaf.basicConstraints?.ca) {
        for (const [, d] of g) out.intermediates.push(pem(d));
        continue;
      }
      const text = g.map(([, d]) => pem(d)).join('');
      out.recipients.push({ text, cert: leaf, thumbprint: certificateThumbprint(leaf), from });
    }
  };
  const readOne = (file: string, separate: boolean) => {
    const bytes = readUserFile(file, separate ? MAX_BUNDLE_FILE : MAX_CERT_FILE, 'certificate file');
    const text = Buffer.from(bytes).toString('latin1');
    let ders: Uint8Array[];
    try {
      ders = text.includes('-----BEGIN') ? pemCertificates(text) : [bytes];
    } catch (e) {
      throw new VerifierError('CERT_MALFORMED', `${file}: ${(e as Error).message}`, { file });
    }
    add(ders, file, separate);
  };
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(path);
  } catch {
    readUserFile(path, MAX_BUNDLE_FILE, 'recipients'); // throws the coded I/O error
    throw usageError(`--recipients ${path} cannot be read`);
  }
  if (st.isDirectory()) {
    const names = readdirSync(path)
      .filter((n) => /\.(pem|crt|cer|der)$/i.test(n))
      .sort();
    if (names.length === 0)
      throw usageError(`--recipients ${path} holds no certificate files (*.pem, *.crt, *.cer, *.der)`);
    for (const n of names) readOne(join(path, n), false);
  } else readOne(path, true);
  for (const f of extra) {
    const text = Buffer.from(readUserFile(f, MAX_CERT_FILE, 'intermediate')).toString('latin1');
    out.intermediates.push(...pemCertificates(text).map(pem));
  }
  if (out.recipients.length === 0) throw usageError('no recipient (end-entity) certificate was given');
  if (out.recipients.length > MAX_FORWARD_RECIPIENTS) throw usageError(`at most ${MAX_FORWARD_RECIPIENTS} recipients`);
  // the enclave refuses a certificate listed twice in one request; across batches only we can see it
  const seen = new Map<string, number>();
  for (const [i, r] of out.recipients.entries()) {
    const j = seen.get(r.thumbprint);
    if (j !== undefined)
      throw usageError(
        `recipient ${i} (${r.from}) is the same certificate as recipient ${j} (${out.recipients[j]!.from}): list each recipient once`,
      );
    seen.set(r.thumbprint, i);
  }
  return out;
}
