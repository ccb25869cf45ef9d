/**
 * The simulator's test PKI has AWS's shape (notes/nitro.md §3.3), never AWS's identity, and its
 * persisted form round-trips and refuses tampering.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createTestPki, renewTestPki, LIFETIME_MS } from '../dev/nsm/test-pki.ts';
import { exportTestPki, importTestPki } from '../dev/nsm/test-pki-json.ts';
import { EnclaveError } from '../common/errors.ts';

const NOW = Date.UTC(2026, 10, 26, 12, 0, 0);
const pki = createTestPki({ now: NOW, region: 'eu-west-1', instanceId: 'i-0123456789abcdef0' });
const x = (der: Uint8Array) => new X509Certificate(der);
const life = (c: X509Certificate) => Date.parse(c.validTo) - Date.parse(c.validFrom);
const coded = (code: string) => (e: unknown) => e instanceof EnclaveError && e.code === code;
const awsRoot = readFileSync(resolve(import.meta.dirname, '../../testdata/nitro/aws-nitro-enclaves-root-g1.der'));

test('chain root → regional → zonal → instance → leaf, P-384, names and signatures link', () => {
  const [root, regional, zonal, instance] = pki.cabundle().map(x) as [
    X509Certificate,
    X509Certificate,
    X509Certificate,
    X509Certificate,
  ];
  const leaf = x(pki.issueLeaf('i-0123456789abcdef0-enc0123456789abcdef', NOW).der);
  const chain = [root, regional, zonal, instance, leaf];
  chain.forEach((c, i) => {
    const issuer = chain[Math.max(0, i - 1)]!;
    assert.ok(c.checkIssued(issuer), `cert ${i} names its issuer`);
    assert.ok(c.verify(issuer.publicKey), `cert ${i} is signed by its issuer`);
    assert.equal(c.publicKey.asymmetricKeyDetails?.namedCurve, 'secp384r1');
  });
  assert.deepEqual(
    chain.map((c) => c.ca),
    [true, true, true, true, false],
  );
  assert.match(root.subject, /CN=keycast-test\.nitro-enclaves/);
  assert.match(regional.subject, /CN=[0-9a-f]{16}\.eu-west-1\.keycast-test\.nitro-enclaves/);
  assert.match(zonal.subject, /CN=[0-9a-f]{16}\.zonal\.eu-west-1\./);
  assert.match(instance.subject, /CN=i-0123456789abcdef0\.eu-west-1\./);
  assert.match(leaf.subject, /CN=i-0123456789abcdef0-enc0123456789abcdef\.eu-west-1\.aws/);
  assert.equal(life(leaf), LIFETIME_MS.leaf, 'leaf lives exactly 3 hours like AWS leaves');
  assert.equal(life(instance), LIFETIME_MS.instance);
  assert.ok(life(root) >= 29 * 365 * 86400_000, 'root is long-lived');
  assert.equal(Date.parse(leaf.validFrom), NOW);
});

test("the test root is not AWS's root and each leaf has its own key", () => {
  assert.notDeepEqual(Buffer.from(pki.rootDer), awsRoot);
  assert.equal(pki.rootPem, x(pki.rootDer).toString());
  const a = pki.issueLeaf('i-0123456789abcdef0-enc0000000000000000', NOW);
  const b = pki.issueLeaf('i-0123456789abcdef0-enc0000000000000000', NOW);
  assert.notEqual(x(a.der).serialNumber, x(b.der).serialNumber);
  assert.notEqual(
    x(a.der).publicKey.export({ format: 'der', type: 'spki' }).toString('hex'),
    x(b.der).publicKey.export({ format: 'der', type: 'spki' }).toString('hex'),
  );
});

test('export/import round trip keeps the same root; keys only when asked', () => {
  const all = exportTestPki(pki, { keys: 'all' });
  assert.deepEqual(Object.keys(all.privateKeys).sort(), ['instance', 'regional', 'root', 'zonal']);
  const back = importTestPki(JSON.stringify(all));
  assert.deepEqual(back.rootDer, pki.rootDer);
  assert.deepEqual(back.cabundle(), pki.cabundle());
  assert.ok(
    x(back.issueLeaf('i-0123456789abcdef0-enc1111111111111111', NOW).der).verify(x(pki.instance.der).publicKey),
  );
  const issuing = exportTestPki(pki, { keys: 'issuing' });
  assert.deepEqual(Object.keys(issuing.privateKeys), ['instance']);
  assert.throws(() => renewTestPki(importTestPki(issuing)), coded('PKI_MALFORMED'));
  const none = exportTestPki(pki, { keys: 'none' });
  assert.deepEqual(none.privateKeys, {});
  assert.equal(JSON.stringify(none).includes('PRIVATE KEY'), false);
  assert.throws(
    () => importTestPki(none).issueLeaf('i-0123456789abcdef0-enc1111111111111111', NOW),
    coded('PKI_MALFORMED'),
  );
});

test('renew keeps the root and reissues valid intermediates', () => {
  const later = NOW + 10 * 86400_000;
  const r = renewTestPki(pki, later);
  assert.deepEqual(r.rootDer, pki.rootDer);
  assert.notDeepEqual(r.instance.der, pki.instance.der);
  assert.equal(Date.parse(x(r.instance.der).validFrom), later);
  assert.ok(x(r.regional.der).verify(x(r.rootDer).publicKey));
});

test('import refuses tampered or mismatched files with PKI_MALFORMED and no key material in the error', () => {
  const good = exportTestPki(pki, { keys: 'all' });
  const other = exportTestPki(createTestPki({ now: NOW }), { keys: 'all' });
  const cases: [string, unknown][] = [
    ['not JSON', '{'],
    ['wrong format', { ...good, format: 'x' }],
    ['bad instance id', { ...good, instanceId: 'i-1' }],
    ['missing cert', { ...good, certificates: { ...good.certificates, zonal: undefined } }],
    [
      'garbage cert',
      {
        ...good,
        certificates: { ...good.certificates, root: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' },
      },
    ],
    ['foreign intermediate', { ...good, certificates: { ...good.certificates, zonal: other.certificates.zonal } }],
    ['foreign root', { ...good, certificates: { ...good.certificates, root: other.certificates.root } }],
    ['key of another cert', { ...good, privateKeys: { ...good.privateKeys, instance: other.privateKeys.instance } }],
    ['garbage key', { ...good, privateKeys: { instance: 'nope' } }],
  ];
  for (const [what, input] of cases) {
    assert.throws(
      () => importTestPki(input),
      (e: unknown) => {
        assert.ok(coded('PKI_MALFORMED')(e), `${what}: ${String(e)}`);
        assert.equal(JSON.stringify((e as EnclaveError).toJSON()).includes('PRIVATE KEY'), false);
        return true;
      },
      what,
    );
  }
});

test('fingerprint helper sanity: root DER hashes differ per PKI', () => {
  const h = (d: Uint8Array) => createHash('sha256').update(d).digest('hex');
  assert.notEqual(h(pki.rootDer), h(createTestPki({ now: NOW }).rootDer));
});
