/**
 * Signed EIFs (PCR8): the signature section is CBOR [{signing_certificate, signature}] with
 * serde's uint-array byte fields, the COSE_Sign1 signs {register_index: 0, register_value:
 * PCR0}, PCR8 = SHA384(0⁴⁸ ‖ SHA384(cert DER)), and describe-eif checks the signature.
 * The certificate comes from Debian's openssl; the test skips without it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sign } from 'node:crypto';
import { cborPayloadBytes } from './eif-fixtures-cbor.ts';
import {
  describeEif,
  pcrOf,
  pemToDer,
  pcrPayload,
  scanEif,
  writeEif,
  measureEif,
  decodeSignatureSection,
  type EifMetadata,
} from '../build.ts';
import { vec } from './eif-fixtures.ts';

const MD: EifMetadata = {
  ImageName: 's',
  ImageVersion: '1',
  BuildMetadata: { BuildTime: 't', BuildTool: 'k', BuildToolVersion: '0', OperatingSystem: 'o', KernelVersion: 'k' },
  DockerInfo: null,
  CustomMetadata: null,
};

function makeCert(): { cert: string; key: string } | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'eif-sig-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:secp384r1',
        '-nodes',
        '-keyout',
        join(dir, 'k.pem'),
        '-out',
        join(dir, 'c.pem'),
        '-days',
        '30',
        '-subj',
        '/CN=keycast-test',
      ],
      { stdio: 'ignore' },
    );
    return { cert: readFileSync(join(dir, 'c.pem'), 'utf8'), key: readFileSync(join(dir, 'k.pem'), 'utf8') };
  } catch {
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('payload CBOR matches the image-format cbor.rs vector', () => {
  const pcr = new Uint8Array(48).map((_, i) => i);
  assert.equal(Buffer.from(pcrPayload(pcr)).toString('hex'), cborPayloadBytes());
});

test('signed EIF: PCR8 is the cert DER PCR and describe-eif verifies the signature', (t) => {
  const kc = makeCert();
  if (!kc) return t.skip('openssl not available');
  const signing = {
    certificatePem: kc.cert,
    sign: (tbs: Uint8Array, hash: string) =>
      new Uint8Array(sign(hash, tbs, { key: kc.key, dsaEncoding: 'ieee-p1363' })),
  };
  const { bytes, pcrs } = writeEif({
    arch: 'x86_64',
    kernel: vec('kernel.fake'),
    cmdline: 'console=ttyS0',
    metadata: MD,
    ramdisks: [vec('ramdisk0.linuxkit.cpio'), vec('ramdisk1.gnu.cpio')],
    signing,
  });
  assert.equal(pcrs.pcr8, pcrOf(pemToDer(kc.cert)));
  const d = describeEif(bytes);
  assert.equal(d.IsSigned, true);
  assert.equal(d.SignatureCheck, true);
  assert.equal(d.Measurements.PCR8, pcrs.pcr8);
  assert.equal(measureEif(bytes).pcr8, pcrs.pcr8);
  const scan = scanEif(bytes);
  const sigSection = scan.sections[scan.sections.length - 1]!;
  assert.equal(sigSection.typeName, 'EifSectionSignature');
  const raw = bytes.subarray(sigSection.offset + 12, sigSection.offset + 12 + sigSection.size);
  assert.equal(raw[0], 0x81); // array(1)
  assert.equal(decodeSignatureSection(raw).certificatePem, kc.cert);
  // Same PCR0/1/2 as the unsigned image: the signature is not measured.
  const unsigned = writeEif({
    arch: 'x86_64',
    kernel: vec('kernel.fake'),
    cmdline: 'console=ttyS0',
    metadata: MD,
    ramdisks: [vec('ramdisk0.linuxkit.cpio'), vec('ramdisk1.gnu.cpio')],
  });
  assert.equal(unsigned.pcrs.pcr0, pcrs.pcr0);
  // A signature over another PCR0 fails the check.
  const other = writeEif({
    arch: 'x86_64',
    kernel: vec('init.fake'),
    cmdline: 'console=ttyS0',
    metadata: MD,
    ramdisks: [vec('ramdisk0.linuxkit.cpio')],
    signing: { ...signing, sign: () => new Uint8Array(96) },
  });
  assert.equal(describeEif(other.bytes).SignatureCheck, false);
});
