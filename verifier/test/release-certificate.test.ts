/**
 * Keyless-shaped (certificate) release bundles at admission: the DSSE signature is checked
 * with the certificate's key, which must be pinned in the policy (no Fulcio chain is checked by
 * verifyEntryBundle); the leaf embeds the certificate PEM so monitors can re-check it alone.
 * Certificates are made with the openssl CLI; the test skips without it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPrivateKey, sign, X509Certificate } from 'node:crypto';
import { verifyEntryBundle, decodeLeaf, isVerifierError } from '../index.ts';
import { dssePae, IN_TOTO_PAYLOAD_TYPE } from '../build.ts';
import { newKey, releaseStatement } from './release-fixtures.ts';

function opensslCert(): { certPem: string; keyPem: string } | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'keycast-cert-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        join(dir, 'k.pem'),
        '-out',
        join(dir, 'c.pem'),
        '-days',
        '1',
        '-subj',
        '/CN=release-ci',
      ],
      { stdio: 'ignore' },
    );
    return { certPem: readFileSync(join(dir, 'c.pem'), 'utf8'), keyPem: readFileSync(join(dir, 'k.pem'), 'utf8') };
  } catch {
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function certBundle(certPem: string, keyPem: string, statement: unknown): Record<string, unknown> {
  const payload = Buffer.from(JSON.stringify(statement));
  const sig = sign('sha256', dssePae(IN_TOTO_PAYLOAD_TYPE, payload), createPrivateKey(keyPem));
  return {
    mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
    verificationMaterial: {
      certificate: { rawBytes: new X509Certificate(certPem).raw.toString('base64') },
      tlogEntries: [],
    },
    dsseEnvelope: {
      payload: payload.toString('base64'),
      payloadType: IN_TOTO_PAYLOAD_TYPE,
      signatures: [{ sig: sig.toString('base64') }],
    },
  };
}

test('certificate bundles: admitted only with the certificate key pinned; the leaf carries the certificate', (t) => {
  const c = opensslCert();
  if (!c) return t.skip('openssl CLI not available');
  const bundle = certBundle(c.certPem, c.keyPem, releaseStatement());
  const e = verifyEntryBundle(bundle, { allowedSigners: [c.certPem] });
  assert.equal(e.signer.certificate, true);
  const leaf = decodeLeaf(e.leaf);
  assert.equal(leaf.signer.certificate, true);
  assert.match(leaf.signer.pem, /BEGIN CERTIFICATE/);
  assert.throws(
    () => verifyEntryBundle(bundle, { allowedSigners: [newKey().pem] }),
    (x: unknown) => isVerifierError(x, 'SIGNER_NOT_ALLOWED'),
  );
  const garbage = structuredClone(bundle) as { verificationMaterial: { certificate: { rawBytes: string } } };
  garbage.verificationMaterial.certificate.rawBytes = Buffer.from('not a certificate').toString('base64');
  assert.throws(
    () => verifyEntryBundle(garbage, { allowedSigners: [c.certPem] }),
    (x: unknown) => isVerifierError(x, 'KEY_MALFORMED'),
  );
  const other = certBundle(c.certPem, newKeyPem(), releaseStatement());
  assert.throws(
    () => verifyEntryBundle(other, { allowedSigners: [c.certPem] }),
    (x: unknown) => isVerifierError(x, 'SIGNATURE_INVALID'),
  );
});

function newKeyPem(): string {
  return newKey().priv.export({ format: 'pem', type: 'pkcs8' }).toString();
}
