/**
 * The gate opens for a release whose publisher is pinned by identity (keyless: a Fulcio
 * certificate for a CI workflow) rather than by key, and refuses, naming the field, a release
 * from the wrong workflow, ref, issuer or trigger, one whose certificate another CA issued, and
 * any keyless release when the config pins no identity. The certificates are real X.509 from a
 * @sigstore/mock Fulcio CA (no network); the leaf is the one a Keycast log stores for a keyless bundle.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign, X509Certificate } from 'node:crypto';
import { initializeCA } from '@sigstore/mock';
import { decideGate, parseBundle, parseEnclaveConfig, type EnclaveConfig, type GateDecision } from '#verifier';
import { IN_TOTO_PAYLOAD_TYPE, dssePae, encodeLeaf, formatEnclaveConfig } from '#verifier/build';
import { GateWorld, measurements, pcrMap, releaseStatement } from '#test-kit';

const ISSUER = 'https://token.actions.githubusercontent.com';
const IDENTITY = 'https://github.com/keycast/enclave-app/.github/workflows/release.yml@refs/tags/v2.0.0';
const F = '1.3.6.1.4.1.57264.1';

interface Claims {
  san?: string;
  issuer?: string;
  ref?: string;
  trigger?: string;
  repo?: string;
}

async function newCa() {
  const ca = await initializeCA(generateKeyPairSync('ec', { namedCurve: 'P-256' }));
  return { ca, pem: new X509Certificate(Buffer.from(ca.rootCertificate.buffer)).toString() };
}

/** A keyless release leaf: an ephemeral key, a certificate from `ca` for the claims, the DSSE signature. */
async function keylessLeaf(
  ca: Awaited<ReturnType<typeof newCa>>['ca'],
  m: ReturnType<typeof measurements>,
  c: Claims = {},
) {
  const eph = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const ref = c.ref ?? 'refs/tags/v2.0.0';
  const repo = c.repo ?? 'keycast/enclave-app';
  const cert = await ca.issueCertificate({
    publicKey: eph.publicKey.export({ type: 'spki', format: 'der' }),
    subjectAltName: c.san ?? IDENTITY,
    extensions: [
      { oid: `${F}.1`, value: c.issuer ?? ISSUER, legacy: true },
      { oid: `${F}.8`, value: c.issuer ?? ISSUER },
      { oid: `${F}.12`, value: `https://github.com/${repo}` },
      { oid: `${F}.14`, value: ref },
      { oid: `${F}.20`, value: c.trigger ?? 'push' },
    ],
  });
  const payload = Buffer.from(JSON.stringify(releaseStatement(m)));
  const bundle = {
    mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
    verificationMaterial: {
      certificate: { rawBytes: Buffer.from(cert.buffer, cert.byteOffset, cert.byteLength).toString('base64') },
      tlogEntries: [],
    },
    dsseEnvelope: {
      payload: payload.toString('base64'),
      payloadType: IN_TOTO_PAYLOAD_TYPE,
      signatures: [{ sig: sign('sha256', dssePae(IN_TOTO_PAYLOAD_TYPE, payload), eph.privateKey).toString('base64') }],
    },
  };
  return encodeLeaf(parseBundle(JSON.stringify(bundle)));
}

function refused(d: GateDecision, code: string): Record<string, unknown> {
  assert.equal(d.open, false, `expected a refusal ${code}`);
  if (d.open) throw new Error('unreachable');
  assert.equal(d.code, code, d.message);
  return d.evidence;
}

test('the gate opens for a keyless release from the pinned identity, and refuses the wrong one naming the field', async () => {
  const { ca, pem } = await newCa();
  const w = new GateWorld();
  const pinned = {
    identity: IDENTITY,
    issuer: ISSUER,
    githubWorkflowRef: 'refs/tags/v2.0.0',
    githubWorkflowTrigger: 'push',
  };
  // the config round-trips through its strict parser and canonical writer (what the image holds)
  const config: EnclaveConfig = parseEnclaveConfig(
    formatEnclaveConfig(w.config({ publishers: [], publisherIdentities: [pinned], fulcioCAs: [pem] })),
  );
  const decide = async (seed: string, claims: Claims = {}, cfg = config, issuer = ca) => {
    const m = measurements(seed);
    const i = w.publishLeaf(await keylessLeaf(issuer, m, claims), m.pcr0);
    return decideGate({ pcrs: pcrMap(m), config: cfg, bundle: w.bundle(i), now: w.now });
  };

  const ok = await decide('keyless-ok');
  assert.equal(ok.open, true, ok.open ? '' : `${ok.code} ${ok.message}`);

  const cases: Array<[string, Claims, string]> = [
    ['wrong-workflow', { san: IDENTITY.replace('release.yml', 'nightly.yml') }, 'certificate-identity'],
    ['wrong-ref', { ref: 'refs/heads/main' }, 'certificate-github-workflow-ref'],
    ['wrong-issuer', { issuer: 'https://gitlab.com' }, 'certificate-oidc-issuer'],
    ['wrong-trigger', { trigger: 'pull_request_target' }, 'certificate-github-workflow-trigger'],
  ];
  for (const [seed, claims, field] of cases) {
    const ev = refused(await decide(seed, claims), 'IDENTITY_MISMATCH');
    assert.equal(ev.field, field, seed);
  }

  const other = await newCa();
  refused(await decide('other-ca', {}, config, other.ca), 'CERT_CHAIN');

  // a key-only config does not accept a keyless release at all
  refused(await decide('no-identities', {}, w.config()), 'SIGNER_NOT_ALLOWED');
});

test('the config refuses identities without Fulcio CAs, bad policies, and CAs that are not certificates', async () => {
  const { pem } = await newCa();
  const w = new GateWorld();
  const good = { identity: IDENTITY, issuer: ISSUER };
  const parse = (over: Record<string, unknown>) => () => parseEnclaveConfig(JSON.stringify({ ...w.config(), ...over }));
  const malformed = (e: unknown) => (e as { code?: string }).code === 'GATE_CONFIG_MALFORMED';
  assert.throws(parse({ publisherIdentities: [good] }), malformed);
  assert.throws(parse({ fulcioCAs: [pem] }), malformed);
  assert.throws(parse({ publisherIdentities: [{ identity: IDENTITY }], fulcioCAs: [pem] }), malformed); // no issuer
  assert.throws(parse({ publisherIdentities: [{ ...good, identityRegexp: '.*' }], fulcioCAs: [pem] }), malformed);
  assert.throws(parse({ publisherIdentities: [good], fulcioCAs: [w.publisher.pem] }), malformed);
  assert.throws(parse({ publishers: [] }), malformed); // no key and no identity
  assert.equal(parse({ publishers: [], publisherIdentities: [good], fulcioCAs: [pem] })().publishers.length, 0);
});
