/**
 * Release entries: statement schema, admission (verifyEntryBundle), the canonical
 * dsse 0.0.1 leaf round trip, and the attacker's inputs: tampered payload or signature,
 * unknown signer, wrong predicate type, unknown fields, oversized bundles, bad revocations.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  verifyEntryBundle,
  decodeLeaf,
  parseBundle,
  validateStatement,
  checkRevocation,
  isVerifierError,
  type VerifierErrorCode,
} from '../index.ts';
import { encodeLeaf, canonicalize } from '../build.ts';
import {
  hex,
  newKey,
  makeBundle,
  releaseStatement,
  revocationStatement,
  rebuildStatement,
  releasePredicate,
} from './release-fixtures.ts';

const IN_TOTO = 'application/vnd.in-toto+json';
const publisher = newKey();
const stranger = newKey();
const rebuilder = newKey();
const policy = { allowedSigners: [publisher.pem] };

function rejects(fn: () => unknown, code: VerifierErrorCode): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isVerifierError(e), `expected VerifierError ${code}, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return true;
  });
}

test('a signed release bundle is admitted and its leaf round-trips', () => {
  const bundle = makeBundle(releaseStatement(), publisher);
  const entry = verifyEntryBundle(JSON.stringify(bundle), policy);
  assert.equal(entry.kind, 'release');
  assert.equal(entry.pcr0, hex(96, '0'));
  assert.equal(entry.eifSha256, hex(64, 'e'));
  assert.equal(entry.commit, hex(40, 'c'));
  assert.equal(entry.signer.spkiSha256, publisher.hint);
  const decoded = decodeLeaf(entry.leaf);
  assert.deepEqual(decoded.statement, entry.statement);
  assert.equal(decoded.signer.spkiSha256, publisher.hint);
  assert.deepEqual(encodeLeaf(parseBundle(bundle), entry.signer), entry.leaf);
  const body = JSON.parse(Buffer.from(entry.leaf).toString()) as {
    kind: string;
    apiVersion: string;
    spec: { payloadHash: { value: string }; envelope: unknown };
  };
  assert.equal(body.kind, 'dsse');
  assert.equal(body.apiVersion, '0.0.1');
  assert.ok(body.spec.envelope, 'the full envelope rides along');
});

test('the leaf is canonical: key order, whitespace and tlog entries do not change it', () => {
  const bundle = makeBundle(releaseStatement(), publisher);
  const a = verifyEntryBundle(JSON.stringify(bundle), policy).leaf;
  const reordered = JSON.stringify(
    {
      dsseEnvelope: bundle.dsseEnvelope,
      verificationMaterial: { ...(bundle.verificationMaterial as object), tlogEntries: [{ x: 1 }] },
      mediaType: bundle.mediaType,
    },
    null,
    2,
  );
  assert.deepEqual(verifyEntryBundle(reordered, policy).leaf, a);
  const text = Buffer.from(a).toString();
  assert.equal(text, canonicalize(JSON.parse(text)));
  rejects(() => decodeLeaf(Buffer.from(JSON.stringify(JSON.parse(text), null, 1))), 'RELEASE_MALFORMED');
});

test('encodeLeaf writes canonical JSON even for payload types that need escaping', () => {
  for (const payloadType of [IN_TOTO, 'x"y\\z', 'caf\u00e9 \u2028 \ud83d\ude00', 'tab\there']) {
    const bundle = parseBundle(makeBundle(releaseStatement(), publisher, payloadType));
    const text = Buffer.from(
      encodeLeaf(bundle, verifyEntryBundle(JSON.stringify(makeBundle(releaseStatement(), publisher)), policy).signer),
    ).toString();
    assert.equal(text, canonicalize(JSON.parse(text)), payloadType);
    const body = JSON.parse(text) as { spec: { envelope: { payloadType: string } } };
    assert.equal(body.spec.envelope.payloadType, payloadType);
  }
});

test('tampered payload, signature and signer are refused with distinct codes', () => {
  const bundle = makeBundle(releaseStatement(), publisher) as {
    dsseEnvelope: { payload: string; signatures: Array<{ sig: string }> };
  };
  const t1 = structuredClone(bundle);
  t1.dsseEnvelope.payload = Buffer.from(JSON.stringify(releaseStatement({ builder: { version: 'evil' } }))).toString(
    'base64',
  );
  rejects(() => verifyEntryBundle(t1, policy), 'SIGNATURE_INVALID');
  const t2 = structuredClone(bundle);
  const sig = Buffer.from(t2.dsseEnvelope.signatures[0]!.sig, 'base64');
  sig[sig.length - 1]! ^= 1;
  t2.dsseEnvelope.signatures[0]!.sig = sig.toString('base64');
  rejects(() => verifyEntryBundle(t2, policy), 'SIGNATURE_INVALID');
  rejects(() => verifyEntryBundle(makeBundle(releaseStatement(), stranger), policy), 'SIGNER_NOT_ALLOWED');
  // a stranger claiming the publisher's hint still fails: the signature is checked with the hinted key
  const spoof = makeBundle(releaseStatement(), { ...stranger, hint: publisher.hint });
  rejects(() => verifyEntryBundle(spoof, policy), 'SIGNATURE_INVALID');
});

test('statement and predicate schema are strict', () => {
  rejects(
    () =>
      verifyEntryBundle(
        makeBundle({ ...releaseStatement(), predicateType: 'https://slsa.dev/provenance/v1' }, publisher),
        policy,
      ),
    'STATEMENT_TYPE',
  );
  rejects(
    () =>
      verifyEntryBundle(
        makeBundle({ ...releaseStatement(), _type: 'https://in-toto.io/Statement/v0.1' }, publisher),
        policy,
      ),
    'STATEMENT_TYPE',
  );
  rejects(() => verifyEntryBundle(makeBundle(releaseStatement(), publisher, 'text/plain'), policy), 'STATEMENT_TYPE');
  rejects(() => verifyEntryBundle(makeBundle('not json', publisher), policy), 'RELEASE_MALFORMED');
  const cases: Array<Record<string, unknown>> = [
    { measurements: { pcr0: hex(95, '0'), pcr1: hex(96, '1'), pcr2: hex(96, '2') } },
    { measurements: { pcr0: hex(96, 'A'), pcr1: hex(96, '1'), pcr2: hex(96, '2') } },
    { measurements: { pcr0: hex(96, '0'), pcr1: hex(96, '1'), pcr2: hex(96, '2'), pcr3: hex(96, '3') } },
    { source: { repo: 'http://github.com/a/b', commit: hex(40, 'c') } },
    { source: { repo: 'https://github.com/a/../b', commit: hex(40, 'c') } },
    { source: { repo: 'https://user:pw@github.com/a/b', commit: hex(40, 'c') } },
    { source: { repo: 'https://github.com/a/b', commit: hex(39, 'c') } },
    { lock: { sha256: hex(64, 'g') } },
    { builder: { version: '' } },
    { extra: true },
  ];
  for (const over of cases) {
    rejects(() => validateStatement(releaseStatement(over)), 'PREDICATE_INVALID');
  }
  rejects(() => validateStatement(releaseStatement({}, hex(64, 'd'))), 'PREDICATE_INVALID');
  rejects(() => validateStatement({ ...releaseStatement(), extra: 1 }), 'PREDICATE_INVALID');
  const pcr8 = validateStatement(
    releaseStatement({
      measurements: { pcr0: hex(96, '0'), pcr1: hex(96, '1'), pcr2: hex(96, '2'), pcr8: hex(96, '8') },
    }),
  );
  assert.equal(pcr8.kind, 'release');
  assert.equal(validateStatement({ ...releaseStatement(), predicate: releasePredicate() }).kind, 'release');
});

test('malformed, duplicate-key and oversized bundles are refused before any crypto', () => {
  rejects(() => verifyEntryBundle('{', policy), 'RELEASE_MALFORMED');
  rejects(() => verifyEntryBundle('[]', policy), 'RELEASE_MALFORMED');
  const b = makeBundle(releaseStatement(), publisher);
  rejects(() => verifyEntryBundle({ ...b, mediaType: 'application/json' }, policy), 'RELEASE_MALFORMED');
  const two = structuredClone(b) as { dsseEnvelope: { signatures: unknown[] } };
  two.dsseEnvelope.signatures.push(two.dsseEnvelope.signatures[0]);
  rejects(() => verifyEntryBundle(two, policy), 'RELEASE_MALFORMED');
  const text = JSON.stringify(b);
  rejects(
    () => verifyEntryBundle(text.replace('{"mediaType"', '{"mediaType":"x","mediaType"'), policy),
    'RELEASE_MALFORMED',
  );
  rejects(() => verifyEntryBundle(text + ' '.repeat(300 * 1024), policy), 'OVERSIZED');
  const big = makeBundle(
    { ...releaseStatement(), subject: [{ name: 'x'.repeat(70_000), digest: { sha256: hex(64, 'e') } }] },
    publisher,
  );
  rejects(() => verifyEntryBundle(big, policy), 'OVERSIZED');
  const nonCanonicalB64 = structuredClone(b) as { dsseEnvelope: { payload: string } };
  nonCanonicalB64.dsseEnvelope.payload = nonCanonicalB64.dsseEnvelope.payload.replace(/=*$/, '');
  if (nonCanonicalB64.dsseEnvelope.payload !== (b.dsseEnvelope as { payload: string }).payload)
    rejects(() => verifyEntryBundle(nonCanonicalB64, policy), 'RELEASE_MALFORMED');
});

test('rebuild attestations need an allowed rebuilder; publishers cannot log them and rebuilders cannot publish', () => {
  const bundle = makeBundle(rebuildStatement(), rebuilder);
  rejects(() => verifyEntryBundle(bundle, policy), 'SIGNER_NOT_ALLOWED');
  const withRebuilders = { ...policy, allowedRebuilders: [rebuilder.pem] };
  const e = verifyEntryBundle(bundle, withRebuilders);
  assert.equal(e.kind, 'rebuild');
  rejects(() => verifyEntryBundle(makeBundle(releaseStatement(), rebuilder), withRebuilders), 'SIGNER_NOT_ALLOWED');
  rejects(() => verifyEntryBundle(makeBundle(rebuildStatement(), publisher), withRebuilders), 'SIGNER_NOT_ALLOWED');
});

test('revocations: by an allowed publisher or the release signer, naming a logged release and its PCR0', () => {
  const former = newKey();
  const release = verifyEntryBundle(makeBundle(releaseStatement(), former), { allowedSigners: [former.pem] });
  const leaves = [release.leaf];
  const lookupLeaf = (i: number) => leaves[i];
  const strict = { allowedSigners: [publisher.pem], lookupLeaf };
  // the publisher may revoke any release
  const r1 = verifyEntryBundle(makeBundle(revocationStatement(0), publisher), strict);
  assert.deepEqual(r1.revokes, { index: 0, pcr0: hex(96, '0') });
  // the key that signed release 0 may revoke it although it is no longer allowed
  assert.equal(verifyEntryBundle(makeBundle(revocationStatement(0), former), strict).kind, 'revocation');
  // a stranger may not
  rejects(() => verifyEntryBundle(makeBundle(revocationStatement(0), stranger), strict), 'SIGNER_NOT_ALLOWED');
  // wrong PCR0, missing index, revoking a revocation
  rejects(
    () => verifyEntryBundle(makeBundle(revocationStatement(0, hex(96, '9')), publisher), strict),
    'REVOCATION_INVALID',
  );
  rejects(() => verifyEntryBundle(makeBundle(revocationStatement(7), publisher), strict), 'REVOCATION_INVALID');
  leaves.push(r1.leaf);
  rejects(() => verifyEntryBundle(makeBundle(revocationStatement(1), publisher), strict), 'REVOCATION_INVALID');
  // without a lookup only publishers may revoke
  assert.equal(verifyEntryBundle(makeBundle(revocationStatement(0), publisher), policy).kind, 'revocation');
  rejects(() => verifyEntryBundle(makeBundle(revocationStatement(0), former), policy), 'SIGNER_NOT_ALLOWED');
  // the subject must be the revoked PCR0
  const bad = revocationStatement(0);
  (bad.subject as Array<{ digest: Record<string, string> }>)[0]!.digest = { sha384: hex(96, '5') };
  rejects(() => verifyEntryBundle(makeBundle(bad, publisher), policy), 'PREDICATE_INVALID');
  // the standalone rule, as a monitor applies it
  rejects(() => checkRevocation(release, release, true), 'REVOCATION_INVALID');
  rejects(() => checkRevocation(decodeLeaf(r1.leaf), decodeLeaf(release.leaf), false), 'SIGNER_NOT_ALLOWED');
});

test('a decoded leaf is self-checking: tampering with any part of it is detected', () => {
  const leaf = verifyEntryBundle(makeBundle(releaseStatement(), publisher), policy).leaf;
  const body = JSON.parse(Buffer.from(leaf).toString()) as { spec: Record<string, any> };
  const mutate = (f: (b: typeof body) => void): Uint8Array => {
    const c = structuredClone(body);
    f(c);
    return Buffer.from(canonicalize(c));
  };
  rejects(
    () =>
      decodeLeaf(
        mutate((b) => {
          b.spec.payloadHash.value = hex(64, '0');
        }),
      ),
    'RELEASE_MALFORMED',
  );
  rejects(
    () =>
      decodeLeaf(
        mutate((b) => {
          b.spec.envelopeHash.value = hex(64, '0');
        }),
      ),
    'RELEASE_MALFORMED',
  );
  rejects(
    () =>
      decodeLeaf(
        mutate((b) => {
          b.spec.signatures[0].verifier = Buffer.from(stranger.pem).toString('base64');
        }),
      ),
    'SIGNATURE_INVALID',
  );
  rejects(
    () =>
      decodeLeaf(
        mutate((b) => {
          b.spec.extra = 1;
        }),
      ),
    'RELEASE_MALFORMED',
  );
  const swapped = mutate((b) => {
    b.spec.envelope.payload = Buffer.from(JSON.stringify(releaseStatement({ builder: { version: 'x' } }))).toString(
      'base64',
    );
  });
  rejects(() => decodeLeaf(swapped), 'RELEASE_MALFORMED');
  rejects(() => decodeLeaf(Buffer.from([0xff, 0xfe])), 'RELEASE_MALFORMED');
});

/** The other valid ECDSA signature (r, n − s) of the same message, DER-encoded. */
function malleate(derSig: Buffer): Buffer {
  const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
  const readInt = (at: number): [bigint, number] => {
    const len = derSig[at + 1]!;
    return [BigInt('0x' + derSig.subarray(at + 2, at + 2 + len).toString('hex')), at + 2 + len];
  };
  const [r, next] = readInt(2);
  const [s] = readInt(next);
  const int = (v: bigint) => {
    let h = v.toString(16);
    if (h.length % 2) h = '0' + h;
    if (parseInt(h.slice(0, 2), 16) & 0x80) h = '00' + h;
    return Buffer.concat([Buffer.from([0x02, h.length / 2]), Buffer.from(h, 'hex')]);
  };
  const body = Buffer.concat([int(r), int(N - s)]);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]);
}

test('replays: an edited keyid gives the same leaf; a malleated signature a new leaf with the same replayKey', () => {
  const bundle = makeBundle(releaseStatement(), publisher) as {
    dsseEnvelope: { signatures: Array<{ sig: string; keyid?: string }> };
  };
  const a = verifyEntryBundle(bundle, policy);
  const edited = structuredClone(bundle);
  edited.dsseEnvelope.signatures[0]!.keyid = 'something-else';
  assert.deepEqual(verifyEntryBundle(edited, policy).leaf, a.leaf);
  const flipped = structuredClone(bundle);
  flipped.dsseEnvelope.signatures[0]!.sig = malleate(
    Buffer.from(bundle.dsseEnvelope.signatures[0]!.sig, 'base64'),
  ).toString('base64');
  const b = verifyEntryBundle(flipped, policy);
  assert.notDeepEqual(b.leaf, a.leaf);
  assert.equal(b.replayKey, a.replayKey);
  assert.match(a.replayKey, /^[0-9a-f]{64}$/);
  // a different statement by the same key has a different replay key
  assert.notEqual(
    verifyEntryBundle(makeBundle(releaseStatement({ builder: { version: 'v2' } }), publisher), policy).replayKey,
    a.replayKey,
  );
});

test('predicate.eif.uri: optional; https (http only on loopback), canonical, no credentials or fragment', () => {
  const withUri = (uri: unknown) => {
    const s = releaseStatement() as { predicate: { eif: Record<string, unknown> } };
    s.predicate.eif = { ...s.predicate.eif, uri };
    return s;
  };
  for (const ok of [
    'https://releases.example.com/v1/enclave.eif',
    'http://127.0.0.1:8080/enclave.eif',
    'http://localhost/e.eif',
    'http://[::1]:9/e.eif',
  ]) {
    const { statement } = validateStatement(withUri(ok));
    assert.equal((statement.predicate as { eif: { uri?: string } }).eif.uri, ok);
  }
  for (const bad of [
    'http://example.com/enclave.eif',
    'ftp://example.com/e.eif',
    'https://user:pw@example.com/e.eif',
    'https://example.com/e.eif#frag',
    'https://EXAMPLE.com/e.eif',
    'https://example.com/a/../e.eif',
    'not a url',
    `https://example.com/${'a'.repeat(2048)}`,
    42,
  ])
    rejects(() => validateStatement(withUri(bad)), 'PREDICATE_INVALID');
  const extra = releaseStatement() as { predicate: { eif: Record<string, unknown> } };
  extra.predicate.eif = { ...extra.predicate.eif, url: 'https://example.com/e.eif' };
  rejects(() => validateStatement(extra), 'PREDICATE_INVALID');
  assert.equal(
    (validateStatement(releaseStatement()).statement.predicate as { eif: { uri?: string } }).eif.uri,
    undefined,
    'absent stays absent',
  );
});
