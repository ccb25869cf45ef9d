/**
 * KDMs written by the verifier's writer, signed by an enclave signer chain, addressed to
 * manufacturer projector certificates, checked by independent implementations: the official
 * SMPTE XSDs (xmllint), xmlsec1 (signature + chain to the signer root), xml-crypto, and RSA-OAEP
 * decryption by openssl with the projector's key. Skips with the reason when Debian tools are absent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { parseKdm } from '#verifier';
import { buildKdm, kdmSigner, certificatePem, decodeKeyBlock } from '#verifier/build';
import { createSignerChain, createProjectorPki } from '../enclave/index.ts';
import { toolsMissing, xsdValidate, xmlsecVerify, xmlCryptoVerify } from './kdm-tools.ts';

const skip = toolsMissing();

test('written KDMs validate against the XSDs, verify with xmlsec1 and xml-crypto, and decrypt with openssl', {
  skip,
}, () => {
  const s = createSignerChain({ name: 'keycast.test' });
  const pki = createProjectorPki({ count: 3, keyPool: 2 });
  const signer = kdmSigner(s.chain, s.privateKey);
  const keys = [
    { id: 'urn:uuid:aaaaaaaa-2222-4333-8444-555555555555', type: 'MDIK', key: new Uint8Array(randomBytes(16)) },
    { id: 'urn:uuid:bbbbbbbb-2222-4333-8444-555555555555', type: 'MDAK', key: new Uint8Array(randomBytes(16)) },
  ];
  const dir = mkdtempSync(join(tmpdir(), 'kdm-interop-'));
  try {
    const files: string[] = [];
    for (const [i, p] of pki.projectors.entries()) {
      const xml = buildKdm({
        cplId: 'urn:uuid:11111111-2222-4333-8444-555555555555',
        title: 'Interop & <Test> — é',
        keys,
        notBefore: '2026-01-01T00:00:00+00:00',
        notAfter: '2026-01-15T00:00:00+00:00',
        issueDate: '2025-12-01T00:00:00+00:00',
        recipient: p.certificate,
        signer,
      });
      const f = join(dir, `kdm-${i}.xml`);
      writeFileSync(f, xml);
      files.push(f);
      assert.equal(xmlsecVerify(f, certificatePem(s.chain[2]!.der), [certificatePem(s.chain[1]!.der)]), null);
      assert.equal(xmlCryptoVerify(xml, certificatePem(s.chain[0]!.der)), null);
      // openssl decrypts the first block with the exact ST 430-1 OAEP parameters
      writeFileSync(join(dir, 'k.pem'), p.privateKey.export({ type: 'pkcs8', format: 'pem' }));
      writeFileSync(join(dir, 'c.bin'), parseKdm(xml).cipherValues[0]!);
      const plain = execFileSync('openssl', [
        'pkeyutl',
        '-decrypt',
        '-inkey',
        join(dir, 'k.pem'),
        '-in',
        join(dir, 'c.bin'),
        '-pkeyopt',
        'rsa_padding_mode:oaep',
        '-pkeyopt',
        'rsa_oaep_md:sha1',
        '-pkeyopt',
        'rsa_mgf1_md:sha1',
      ]);
      assert.deepEqual(decodeKeyBlock(new Uint8Array(plain)).key, keys[0]!.key);
    }
    assert.equal(xsdValidate(files), null);
    // a tampered copy fails xmlsec1 and xml-crypto
    const bad = join(dir, 'bad.xml');
    writeFileSync(bad, readFileSync(files[0]!, 'utf8').replace('Interop &amp;', 'Interop and'));
    assert.notEqual(xmlsecVerify(bad, certificatePem(s.chain[2]!.der), [certificatePem(s.chain[1]!.der)]), null);
    assert.notEqual(xmlCryptoVerify(readFileSync(bad, 'utf8'), certificatePem(s.chain[0]!.der)), null);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
