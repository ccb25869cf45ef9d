/**
 * The identity policy (sigstore/identity-policy.ts) on real public-good Fulcio certificates from
 * the conformance set: exact means exact, a regexp must match the whole SAN, the GitHub fields
 * come from the current Fulcio extensions (and the deprecated ones must agree), refusals name the
 * flag, and a user's pattern never reaches a library that would treat it as an unanchored regexp.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseIdentityPolicy, type IdentityPolicy } from '../index.ts';
import { checkIdentity, matchCertificateIdentity } from '../src/sigstore/identity-policy.ts';
import { fromBase64, fulcioIdentity, type FulcioIdentity } from '../build.ts';

const CASES = resolve(import.meta.dirname, '../../testdata/sigstore-conformance/cases');
function certOf(name: string): Uint8Array {
  const b = JSON.parse(readFileSync(`${CASES}/${name}/bundle.sigstore.json`, 'utf8'));
  return fromBase64(b.verificationMaterial.certificate.rawBytes);
}
// rekor2-dsse-happy-path's certificate carries both the current (1.8–1.22) and deprecated (1.1–1.6) extensions
const CERT = certOf('rekor2-dsse-happy-path');
const SAN =
  'https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main';
const ISSUER = 'https://token.actions.githubusercontent.com';
const base: IdentityPolicy = { identity: SAN, issuer: ISSUER };

function mismatch(p: IdentityPolicy, id: FulcioIdentity = fulcioIdentity(CERT)): Record<string, unknown> {
  try {
    checkIdentity(parseIdentityPolicy(p), id);
  } catch (e) {
    assert.equal((e as { code?: string }).code, 'IDENTITY_MISMATCH', String(e));
    return (e as { evidence: Record<string, unknown> }).evidence;
  }
  assert.fail(`accepted ${JSON.stringify(p)}`);
}

test('reads the SAN and the Fulcio extensions from the DER', () => {
  const id = fulcioIdentity(CERT);
  assert.deepEqual(id.sans, [{ type: 'uri', value: SAN }]);
  assert.equal(id.fields.issuer, ISSUER);
  assert.equal(id.fields.issuerV1, ISSUER);
  assert.equal(
    id.fields.sourceRepositoryUri,
    'https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon',
  );
  assert.equal(id.fields.sourceRepositoryRef, 'refs/heads/main');
  assert.equal(id.fields.buildTrigger, 'workflow_dispatch');
  assert.equal(id.fields.githubWorkflowName, 'Extremely dangerous OIDC beacon');
  assert.ok(id.notAfter.getTime() - id.notBefore.getTime() === 10 * 60_000);
});

test('the matching policy passes, with every GitHub field cosign names', () => {
  const id = fulcioIdentity(CERT);
  checkIdentity(
    parseIdentityPolicy({
      ...base,
      githubWorkflowRepository: 'sigstore-conformance/extremely-dangerous-public-oidc-beacon',
      githubWorkflowRef: 'refs/heads/main',
      githubWorkflowSha: id.fields.sourceRepositoryDigest,
      githubWorkflowTrigger: 'workflow_dispatch',
      githubWorkflowName: 'Extremely dangerous OIDC beacon',
    }),
    id,
  );
  // the repository may be given as the full URI too (then exactly)
  checkIdentity(
    parseIdentityPolicy({
      ...base,
      githubWorkflowRepository: 'https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon',
    }),
    id,
  );
});

test('exact is exact: a prefix, a suffix or another case is refused naming --certificate-identity', () => {
  for (const identity of [SAN.slice(0, -1), `${SAN}x`, SAN.toUpperCase(), 'https://github.com/sigstore-conformance/'])
    assert.equal(mismatch({ ...base, identity }).field, 'certificate-identity');
});

test('a regexp must match the whole SAN (anchored), and is a usage error when it does not compile', () => {
  const re = (identityRegexp: string) => ({ identityRegexp, issuer: ISSUER });
  checkIdentity(
    parseIdentityPolicy(re('https://github\\.com/sigstore-conformance/.*@refs/heads/main')),
    fulcioIdentity(CERT),
  );
  // unanchored, cosign would accept these: here they are refused
  for (const p of ['sigstore-conformance', 'https://github\\.com/sigstore-conformance/', 'refs/heads/main'])
    assert.equal(mismatch(re(p)).field, 'certificate-identity-regexp');
  // an alternation cannot escape the anchors (a naive '^' + RE + '$' would accept this one)
  assert.equal(mismatch(re('nothing|refs/heads/main')).field, 'certificate-identity-regexp');
  assert.throws(
    () => parseIdentityPolicy(re('(')),
    (e: unknown) => (e as { code?: string }).code === 'MALFORMED',
  );
});

test('wrong issuer, ref, repository, sha, trigger or name: refused naming the flag and the OID', () => {
  const cases: Array<[Partial<IdentityPolicy>, string, string]> = [
    [{ issuer: 'https://token.actions.githubusercontent.com/' }, 'certificate-oidc-issuer', '1.3.6.1.4.1.57264.1.8'],
    [{ githubWorkflowRef: 'refs/heads/mainx' }, 'certificate-github-workflow-ref', '1.3.6.1.4.1.57264.1.14'],
    [
      { githubWorkflowRepository: 'sigstore-conformance/extremely' },
      'certificate-github-workflow-repository',
      '1.3.6.1.4.1.57264.1.12',
    ],
    [{ githubWorkflowSha: '0'.repeat(40) }, 'certificate-github-workflow-sha', '1.3.6.1.4.1.57264.1.13'],
    [{ githubWorkflowTrigger: 'push' }, 'certificate-github-workflow-trigger', '1.3.6.1.4.1.57264.1.20'],
    [{ githubWorkflowName: 'Extremely dangerous' }, 'certificate-github-workflow-name', '1.3.6.1.4.1.57264.1.4'],
  ];
  for (const [over, field, oid] of cases) {
    const ev = mismatch({ ...base, ...over });
    assert.equal(ev.field, field);
    assert.equal(ev.oid, oid);
  }
});

test('the deprecated extension must agree with the current one', () => {
  const id = fulcioIdentity(CERT);
  const forged: FulcioIdentity = { ...id, fields: { ...id.fields, githubWorkflowRef: 'refs/heads/evil' } };
  assert.equal(mismatch({ ...base, githubWorkflowRef: 'refs/heads/main' }, forged).oid, '1.3.6.1.4.1.57264.1.6');
  const issuers: FulcioIdentity = { ...id, fields: { ...id.fields, issuerV1: 'https://evil.example' } };
  assert.equal(mismatch(base, issuers).oid, '1.3.6.1.4.1.57264.1.1');
  // a field the certificate does not carry is refused, not skipped
  const bare: FulcioIdentity = { ...id, fields: { issuer: ISSUER } };
  assert.equal(mismatch({ ...base, githubWorkflowRef: 'refs/heads/main' }, bare).actual, null);
});

test('policy shape: exactly one of identity / regexp, an issuer, known fields only', () => {
  const bad = (p: unknown) =>
    assert.throws(
      () => parseIdentityPolicy(p),
      (e: unknown) => (e as { code?: string }).code === 'MALFORMED',
    );
  bad({ issuer: ISSUER });
  bad({ identity: SAN });
  bad({ identity: SAN, identityRegexp: '.*', issuer: ISSUER });
  bad({ identity: SAN, issuer: ISSUER, subjectAlternativeName: SAN });
  bad({ identity: '', issuer: ISSUER });
  bad({ identity: `${SAN}\n`, issuer: ISSUER });
});

test('several pinned identities: the first that matches; none → IDENTITY_MISMATCH with each miss', () => {
  const other = { identity: 'https://github.com/x/y/.github/workflows/z.yml@refs/heads/main', issuer: ISSUER };
  assert.equal(matchCertificateIdentity([other, base], CERT).policy, base);
  assert.throws(
    () => matchCertificateIdentity([other, { ...base, githubWorkflowRef: 'refs/tags/v1' }], CERT),
    (e: unknown) =>
      (e as { code?: string }).code === 'IDENTITY_MISMATCH' &&
      (e as { evidence: { misses: unknown[] } }).evidence.misses.length === 2,
  );
  assert.throws(
    () => matchCertificateIdentity([], CERT),
    (e: unknown) => (e as { code?: string }).code === 'SIGNER_NOT_ALLOWED',
  );
});
