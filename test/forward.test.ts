/**
 * The forwarding core end to end: a film's two content keys, sealed by the studio to the enclave,
 * forwarded under studio-signed rules to 1,000 generated projectors (one manufacturer root →
 * SM CA → 1,000 SM leaves). Every KDM validates against the official XSDs (xmllint), verifies with
 * xmlsec1 (chained to the enclave's signer root), xml-crypto and the verifier's reader, and
 * decrypts with its projector's key to exactly the keys sent, the CPL id and window; the receipt
 * proves every delivery; the content keys appear in no output.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  checkDelivery,
  checkKdmRecipient,
  checkKdmSignerChain,
  decryptKdm,
  openReceipt,
  verifyKdmSignature,
  parseDeliveryProof,
} from '#verifier';
import { certificatePem } from '#verifier/build';
import { forward, openForwardRequest, wipe, type ForwardOutput } from '../enclave/index.ts';
import { toolsMissing, xsdValidate, xmlsecVerify, xmlCryptoVerify } from './kdm-tools.ts';
import { CPL, ctx, leaks, request, rules, world } from './forward-fixtures.ts';

const N = 1000;
const tools = toolsMissing();

test(`one film's keys forwarded to ${N} projectors as KDMs`, { timeout: 600_000 }, async (t) => {
  // 25 RSA keys shared by the 1,000 leaves keeps key generation short; every leaf is its own certificate
  const w = await world(N, 25);
  const req = await request(w);
  const opened = await openForwardRequest(req, ctx(w));
  const outputs: ForwardOutput[] = [];
  const result = await forward(opened, w.enclave.keys, (o) => outputs.push(o));
  wipe(opened);
  assert.equal(outputs.length, N);
  const receipt = openReceipt(
    result.receipt,
    w.enclave.receipt.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  );
  assert.equal(receipt.recipients, N);
  assert.equal(receipt.pcr0, Buffer.from(w.enclave.pcr0).toString('hex'));
  const r = rules(w);
  const dir = mkdtempSync(join(tmpdir(), 'forward-'));
  try {
    const files: string[] = [];
    for (const [i, o] of outputs.entries()) {
      assert.equal(o.index, i);
      assert.ok(!leaks(w, o.bytes), `output ${i} leaks a content key`);
      const xml = Buffer.from(o.bytes).toString('utf8');
      const { kdm, signer } = await verifyKdmSignature(xml);
      const p = w.pki.projectors[i]!;
      checkKdmRecipient(kdm, p.certificate);
      assert.equal(kdm.cplId, CPL);
      assert.equal(kdm.notBefore, r.kdmWindow.notBefore);
      assert.equal(kdm.notAfter, r.kdmWindow.notAfter);
      assert.equal(checkKdmSignerChain(kdm, signer, { at: w.now, roots: [w.enclave.signerChain.chain[2]!] }).length, 3);
      const keys = decryptKdm(kdm, p.privateKey, signer);
      assert.deepEqual(
        keys.map((k) => [k.id, k.type, Buffer.from(k.key).toString('hex')]),
        w.contentKeys.map((k) => [k.id, k.type, Buffer.from(k.key).toString('hex')]),
      );
      checkDelivery(receipt, parseDeliveryProof(JSON.stringify(result.prove(i))), o.bytes);
      const f = join(dir, `${i}.kdm.xml`);
      writeFileSync(f, o.bytes);
      files.push(f);
    }
    assert.ok(!leaks(w, result.receipt));
    await t.test(
      'every KDM validates against the SMPTE XSDs and verifies with xmlsec1 and xml-crypto',
      { skip: tools },
      () => {
        assert.equal(xsdValidate(files), null);
        const rootPem = certificatePem(w.enclave.signerChain.chain[2]!.der);
        const intPem = certificatePem(w.enclave.signerChain.chain[1]!.der);
        const leafPem = certificatePem(w.enclave.signerChain.chain[0]!.der);
        assert.equal(xmlsecVerify(files, rootPem, [intPem]), null);
        for (const i of files.keys()) {
          assert.equal(
            xmlCryptoVerify(Buffer.from(outputs[i]!.bytes).toString('utf8'), leafPem),
            null,
            `xml-crypto KDM ${i}`,
          );
        }
      },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
