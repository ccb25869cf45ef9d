/**
 * Independent KDM checkers for tests: the official XSDs with Debian's xmllint, XML-DSig with
 * Debian's xmlsec1 (chain to the given root) and with xml-crypto. Each returns null when the
 * check passes, or the reason; `toolsMissing()` says which Debian tools are absent so tests can
 * skip with that reason.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignedXml } from 'xml-crypto';
import { DOMParser } from '@xmldom/xmldom';

const XSD = new URL('../testdata/kdm/xsd/kdm-driver.xsd', import.meta.url).pathname;

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

export function toolsMissing(): string | false {
  const missing = ['xmllint', 'xmlsec1'].filter((t) => !has(t));
  return missing.length ? `Debian tools missing: ${missing.join(', ')} (apt-get install libxml2-utils xmlsec1)` : false;
}

/** Validates many KDM files with one xmllint run; returns the failures' output or null. */
export function xsdValidate(files: string[]): string | null {
  const r = spawnSync('xmllint', ['--nonet', '--noout', '--schema', XSD, ...files], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  if (r.status === 0) return null;
  return (
    r.stderr
      .split('\n')
      .filter((l) => !l.includes('Skipping import') && l.trim() && !l.endsWith(' validates'))
      .join('\n') || `xmllint exit ${r.status}`
  );
}

const ID_ATTRS = [
  '--id-attr:Id',
  'http://www.smpte-ra.org/schemas/430-3/2006/ETM:AuthenticatedPublic',
  '--id-attr:Id',
  'http://www.smpte-ra.org/schemas/430-3/2006/ETM:AuthenticatedPrivate',
];

/**
 * xmlsec1 --verify of KDM files (one run for all; xmlsec1 stops at the first failure) against the
 * signer root, intermediates given as untrusted. Null when every file printed OK.
 */
export function xmlsecVerify(files: string | string[], rootPem: string, intermediatePems: string[]): string | null {
  const list = typeof files === 'string' ? [files] : files;
  const dir = mkdtempSync(join(tmpdir(), 'kdm-xmlsec-'));
  try {
    const root = join(dir, 'root.pem');
    writeFileSync(root, rootPem);
    const ints = intermediatePems.map((p, i) => {
      const f = join(dir, `int${i}.pem`);
      writeFileSync(f, p);
      return ['--untrusted-pem', f];
    });
    const r = spawnSync('xmlsec1', ['--verify', ...ID_ATTRS, '--trusted-pem', root, ...ints.flat(), ...list], {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
    const ok = (r.stderr.match(/^OK$/gm) ?? []).length;
    if (r.status === 0 && ok === list.length) return null;
    return `xmlsec1 verified ${ok} of ${list.length}: ${r.stderr
      .split('\n')
      .filter((l) => l.startsWith('Error') || l.includes('error='))
      .slice(0, 3)
      .join(' | ')}`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** xml-crypto's verification of the KDM's signature with the signer leaf certificate. */
export function xmlCryptoVerify(xml: string, signerPem: string): string | null {
  try {
    const doc = new DOMParser().parseFromString(xml, 'application/xml');
    const sigNode = doc.getElementsByTagNameNS('http://www.w3.org/2000/09/xmldsig#', 'Signature')[0];
    const sig = new SignedXml({ publicCert: signerPem });
    sig.loadSignature(sigNode as never);
    return sig.checkSignature(xml) ? null : 'xml-crypto: signature does not verify';
  } catch (e) {
    return `xml-crypto: ${(e as Error).message}`;
  }
}
