/**
 * DKDM admission (kdm/dkdm-check.ts): the project's KDM writer stands in for a mastering tool and
 * makes DKDMs addressed to an "enclave" decryption certificate. Every refusal is made with an
 * otherwise valid signature (crafted key blocks are re-signed by the mastering key, as a lying or
 * broken mastering tool would), and each one keeps its own code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isVerifierError, type VerifierErrorCode } from '../src/errors.ts';
import { buildKdm, kdmSigner, type KdmInput } from '../build/kdm/write.ts';
import { encodeKeyBlock, encryptKeyBlock, oaepSha1Decrypt, KEY_BLOCK_BYTES } from '../src/kdm/block.ts';
import { parseDcCertificate, type DcCertificate } from '../src/kdm/certificate.ts';
import {
  checkDkdm,
  checkDkdmRelease,
  chainValidity,
  dkdmRulesRoots,
  type DkdmCheckInput,
} from '../src/kdm/dkdm-check.ts';
import { RULES_TYPE, openRules, signRules, validateRules } from '../src/forward/rules.ts';
import { TAG, children, readOnly, seq, derBits } from '../src/encoding/der.ts';
import { chain, type Chain } from './kdm-fixtures.ts';

const DAY = 86_400_000;
const pad2 = (n: number) => String(n).padStart(2, '0');
const kdmTime = (ms: number) => {
  const d = new Date(Math.floor(ms / 1000) * 1000);
  return `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}T${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}+00:00`;
};

const now = Date.now();
const mastering = chain({ O: 'STUDIO.COM', leafCn: 'CS.mastering-tool' });
const otherStudio = chain({ O: 'OTHER.COM', leafCn: 'CS.other-tool' });
const enclave = chain({ O: 'KEYCAST.ENCLAVE', leafCn: 'DKDM.keycast-enclave' });
const enclaveSigner = chain({ O: 'KEYCAST.ENCLAVE', leafCn: 'CS.keycast-enclave' });
const cplId = 'urn:uuid:11111111-2222-4333-8444-555555555555';
const keys = [
  { id: 'urn:uuid:aaaaaaaa-2222-4333-8444-555555555555', type: 'MDIK', key: new Uint8Array(randomBytes(16)) },
  { id: 'urn:uuid:bbbbbbbb-2222-4333-8444-555555555555', type: 'MDAK', key: new Uint8Array(randomBytes(16)) },
];
const dWindow = { notBefore: kdmTime(now + 2 * DAY), notAfter: kdmTime(now + 200 * DAY) };
const rules = {
  film: { cplId },
  contentKeyIds: keys.map((k) => k.id),
  kdmWindow: { notBefore: kdmTime(now + 10 * DAY), notAfter: kdmTime(now + 20 * DAY) },
};

const signerOf = (c: Chain) => kdmSigner([c.leaf, c.ca, c.root], c.leafKey);
const dkdmInput = (o: Partial<KdmInput> = {}): KdmInput => ({
  cplId,
  title: 'Film',
  keys,
  ...dWindow,
  issueDate: kdmTime(now),
  recipient: enclave.leaf,
  signer: signerOf(mastering),
  ...o,
});

const check = (dkdm: string | Uint8Array, o: Partial<DkdmCheckInput> = {}) =>
  checkDkdm({
    dkdm,
    signerRoots: [mastering.root],
    recipient: enclave.leaf,
    decrypt: (c) => oaepSha1Decrypt(c, enclave.leafKey),
    rules,
    enclaveSigner: chainValidity([enclaveSigner.leaf, enclaveSigner.ca, enclaveSigner.root]),
    at: new Date(now),
    ...o,
  });

async function refused(p: Promise<unknown>, code: VerifierErrorCode) {
  await assert.rejects(p, (e) => {
    assert.ok(
      isVerifierError(e, code),
      `expected ${code}, got ${(e as { code?: string }).code}: ${(e as Error).message}`,
    );
    // evidence never carries a content key
    const text = JSON.stringify((e as { toJSON(): unknown }).toJSON());
    for (const k of keys) {
      assert.ok(!text.includes(Buffer.from(k.key).toString('hex')));
      assert.ok(!text.includes(Buffer.from(k.key).toString('base64')));
    }
    return true;
  });
}

/**
 * Re-signs a writer-made KDM after its CipherValues were replaced: recomputes both digests
 * (the writer's layout is already canonical: the root's namespaces go onto each signed element)
 * and the SignatureValue with `key` — what a mastering tool writing these blocks would sign.
 */
const ROOT_NS =
  'xmlns="http://www.smpte-ra.org/schemas/430-3/2006/ETM" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" xmlns:enc="http://www.w3.org/2001/04/xmlenc#"';
function resign(xml: string, key: KeyObject): string {
  const digest = (tag: string) => {
    const m = new RegExp(`<${tag} [\\s\\S]*?</${tag}>`).exec(xml)![0];
    return createHash('sha256')
      .update(m.replace(`<${tag} `, `<${tag} ${ROOT_NS} `))
      .digest('base64');
  };
  let out = xml;
  const pub = digest('AuthenticatedPublic');
  const priv = digest('AuthenticatedPrivate');
  let n = 0;
  out = out.replace(
    /<ds:DigestValue>[^<]*<\/ds:DigestValue>/g,
    () => `<ds:DigestValue>${n++ === 0 ? pub : priv}</ds:DigestValue>`,
  );
  const si = /<ds:SignedInfo>[\s\S]*?<\/ds:SignedInfo>/.exec(out)![0];
  const sv = sign('sha256', Buffer.from(si.replace('<ds:SignedInfo>', `<ds:SignedInfo ${ROOT_NS}>`)), key).toString(
    'base64',
  );
  return out.replace(/<ds:SignatureValue>[^<]*<\/ds:SignatureValue>/, `<ds:SignatureValue>${sv}</ds:SignatureValue>`);
}

/** A DKDM whose key blocks are the given plaintexts (encrypted to the enclave), signed by the mastering leaf. */
function withBlocks(blocks: Uint8Array[], o: Partial<KdmInput> = {}): string {
  const xml = buildKdm(dkdmInput(o));
  let n = 0;
  const swapped = xml.replace(/<enc:CipherValue>[^<]*<\/enc:CipherValue>/g, () => {
    const b = blocks[n++]!;
    return `<enc:CipherValue>${Buffer.from(encryptKeyBlock(b, enclave.leaf.publicKey)).toString('base64')}</enc:CipherValue>`;
  });
  assert.equal(n, blocks.length);
  return resign(swapped, mastering.leafKey);
}

const block = (k: (typeof keys)[number], o: Partial<Parameters<typeof encodeKeyBlock>[0]> = {}) =>
  encodeKeyBlock({
    signerThumbprint: mastering.leaf.thumbprint,
    cplId,
    keyType: k.type,
    keyId: k.id,
    ...dWindow,
    key: k.key,
    ...o,
  });

test('happy path: a DKDM for the enclave from a pinned mastering signer opens to exactly its keys, window = rules', async () => {
  const v = await check(buildKdm(dkdmInput()));
  assert.deepEqual(
    v.keys!.map((k) => [k.id, k.type, Buffer.from(k.key).toString('hex')]),
    keys.map((k) => [k.id, k.type, Buffer.from(k.key).toString('hex')]),
  );
  assert.deepEqual(v.window, rules.kdmWindow);
  assert.equal(v.signerChain.length, 3);
  assert.equal(v.signerChain[2], mastering.root);
  // the re-signing helper itself produces an accepted document from correct blocks
  const again = await check(withBlocks(keys.map((k) => block(k))));
  assert.equal(again.keys!.length, 2);
  // offline: no decrypt, same public verdict, no keys
  const off = await check(buildKdm(dkdmInput()), { decrypt: undefined });
  assert.equal(off.keys, null);
});

test('refused: oversize, DOCTYPE, not a KDM, broken signature', async () => {
  const xml = buildKdm(dkdmInput());
  await refused(check(xml + ' '.repeat(1024 * 1024)), 'DKDM_OVERSIZED');
  await refused(
    check(xml.replace('<DCinemaSecurityMessage', '<!DOCTYPE x [<!ENTITY a "b">]>\n<DCinemaSecurityMessage')),
    'DKDM_MALFORMED',
  );
  await refused(check('<a/>'), 'DKDM_MALFORMED');
  await refused(check(xml.replace('<ContentTitleText>Film', '<ContentTitleText>Filn')), 'DKDM_SIGNATURE');
});

test('refused: a signer chain from a root the studio did not pin, even when addressed to the enclave', async () => {
  await refused(check(buildKdm(dkdmInput({ signer: signerOf(otherStudio) }))), 'DKDM_SIGNER_NOT_PINNED');
  await refused(check(buildKdm(dkdmInput()), { signerRoots: [] }), 'DKDM_SIGNER_NOT_PINNED');
});

test('refused: a signer chain that is not valid ST 430-2 at the check time', async () => {
  const expired = chain({ O: 'STUDIO.COM', leafCn: 'CS.old', now: now - 400 * DAY, leafDays: 30 });
  await refused(
    check(buildKdm(dkdmInput({ signer: signerOf(expired) })), { signerRoots: [expired.root] }),
    'DKDM_SIGNER_CHAIN',
  );
  // a chain broken in the middle (the intermediate of another chain)
  await refused(
    check(
      buildKdm(dkdmInput({ signer: kdmSigner([mastering.leaf, otherStudio.ca, mastering.root], mastering.leafKey) })),
    ),
    'DKDM_SIGNER_CHAIN',
  );
});

/** The certificate `c` with its dnQualifier replaced by `dnq` (same length), re-signed by `issuerKey`. */
function withDnQualifier(c: DcCertificate, dnq: string, issuerKey: KeyObject): DcCertificate {
  const [tbsT, algT] = children(readOnly(c.der, TAG.SEQUENCE));
  const tbs = Buffer.from(tbsT!.bytes);
  const subjectAt = tbs.indexOf(Buffer.from(c.subjectDer));
  const old = Buffer.from(c.subjectRdns.flat().find((a) => a.type === 'dnQualifier')!.value, 'latin1');
  const at = tbs.indexOf(old, subjectAt);
  assert.ok(at > subjectAt && dnq.length === old.length);
  tbs.write(dnq, at, 'latin1');
  const sig = sign('sha256', tbs, issuerKey);
  return parseDcCertificate(seq(new Uint8Array(tbs), algT!.bytes, derBits(new Uint8Array(sig))));
}

test('refused: a CA:true signer, and a signer whose dnQualifier is not its key', async () => {
  // the mastering intermediate (CA:TRUE) signs the DKDM itself
  const caSigned = buildKdm(dkdmInput({ signer: kdmSigner([mastering.ca, mastering.root], mastering.caKey) }));
  await refused(check(caSigned), 'DKDM_SIGNER_NOT_LEAF');
  // a leaf whose dnQualifier names another key (still properly signed by its CA)
  const liar = withDnQualifier(
    mastering.leaf,
    enclave.leaf.subjectRdns.flat().find((a) => a.type === 'dnQualifier')!.value,
    mastering.caKey,
  );
  const xml = buildKdm(dkdmInput({ signer: kdmSigner([liar, mastering.ca, mastering.root], mastering.leafKey) }));
  await refused(check(xml), 'DKDM_SIGNER_NOT_LEAF');
});

test('refused: not addressed to the enclave (issuer/serial or subject of another certificate)', async () => {
  const other = chain({ O: 'KEYCAST.ENCLAVE', leafCn: 'DKDM.another' });
  await refused(check(buildKdm(dkdmInput({ recipient: other.leaf }))), 'DKDM_RECIPIENT');
  // named for the enclave but checked against another enclave's certificate
  await refused(check(buildKdm(dkdmInput()), { recipient: other.leaf }), 'DKDM_RECIPIENT');
});

test("refused: a CipherValue that does not open with the enclave's key", async () => {
  const stranger = chain({ O: 'X.COM', leafCn: 'SM.x' });
  // the XML names the enclave, the blocks are encrypted to someone else
  const xml = buildKdm(dkdmInput({ recipient: { ...enclave.leaf, publicKey: stranger.leaf.publicKey } }));
  await refused(check(xml), 'DKDM_DECRYPT');
});

test('refused: Interop 134-byte block, wrong length, wrong structure id', async () => {
  const interop = (k: (typeof keys)[number]) => {
    const b = block(k);
    // Interop layout: the SMPTE one without KeyType
    return Uint8Array.from([...b.subarray(0, 52), ...b.subarray(56)]);
  };
  assert.equal(interop(keys[0]!).length, 134);
  await refused(check(withBlocks(keys.map(interop))), 'DKDM_INTEROP_BLOCK');
  await refused(check(withBlocks(keys.map((k) => block(k).subarray(0, 137)))), 'DKDM_BLOCK_MALFORMED');
  const wrongId = keys.map((k) => {
    const b = block(k);
    b[0] = b[0]! ^ 1;
    return b;
  });
  assert.equal(wrongId[0]!.length, KEY_BLOCK_BYTES);
  await refused(check(withBlocks(wrongId)), 'DKDM_BLOCK_MALFORMED');
});

test("refused: a block carrying another signer's thumbprint (libdcp skips this check)", async () => {
  await refused(
    check(withBlocks([block(keys[0]!), block(keys[1]!, { signerThumbprint: otherStudio.leaf.thumbprint })])),
    'DKDM_BLOCK_SIGNER',
  );
});

test("refused: CPL id other than the rules' film, or a block CPL id other than CompositionPlaylistId", async () => {
  await refused(
    check(buildKdm(dkdmInput({ cplId: 'urn:uuid:99999999-2222-4333-8444-555555555555' }))),
    'DKDM_CPL_MISMATCH',
  );
  await refused(
    check(withBlocks([block(keys[0]!), block(keys[1]!, { cplId: 'urn:uuid:99999999-2222-4333-8444-555555555555' })])),
    'DKDM_CPL_MISMATCH',
  );
});

test("refused: key ids not exactly the rules' contentKeyIds; unknown types; a block's key not in KeyIdList", async () => {
  const extra = { id: 'urn:uuid:cccccccc-2222-4333-8444-555555555555', type: 'MDSK', key: new Uint8Array(16) };
  await refused(check(buildKdm(dkdmInput({ keys: [...keys, extra] }))), 'DKDM_KEY_IDS');
  await refused(check(buildKdm(dkdmInput({ keys: [keys[0]!] }))), 'DKDM_KEY_IDS');
  await refused(
    check(buildKdm(dkdmInput()), { rules: { ...rules, contentKeyIds: [...rules.contentKeyIds, extra.id] } }),
    'DKDM_KEY_IDS',
  );
  await refused(check(buildKdm(dkdmInput({ keys: [keys[0]!, { ...keys[1]!, type: 'ABCD' }] }))), 'DKDM_KEY_IDS');
  // block says MDSK where KeyIdList says MDAK; then a block repeating the first key id
  await refused(check(withBlocks([block(keys[0]!), block(keys[1]!, { keyType: 'MDSK' })])), 'DKDM_KEY_IDS');
  await refused(check(withBlocks([block(keys[0]!), block(keys[0]!)])), 'DKDM_KEY_IDS');
});

test('refused: block window strings that differ from the XML window (same instant, other spelling)', async () => {
  // the same instant written with another offset is still refused: strings must be identical
  const d = new Date(Date.parse(dWindow.notAfter) + 3600_000);
  const plusOne = `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}T${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}+01:00`;
  assert.equal(Date.parse(plusOne), Date.parse(dWindow.notAfter));
  await refused(check(withBlocks([block(keys[0]!), block(keys[1]!, { notAfter: plusOne })])), 'DKDM_BLOCK_WINDOW');
});

test("refused: a DKDM window that runs past its own signer chain's validity", async () => {
  const short = chain({ O: 'STUDIO.COM', leafCn: 'CS.short', leafDays: 100 });
  await refused(
    check(buildKdm(dkdmInput({ signer: signerOf(short) })), { signerRoots: [short.root] }),
    'DKDM_WINDOW_SIGNER_CHAIN',
  );
});

test("refused: the rules' window outside the DKDM window (never clamped), or outside the enclave signer chain", async () => {
  const xml = buildKdm(dkdmInput());
  for (const kdmWindow of [
    { notBefore: kdmTime(now + 1 * DAY), notAfter: kdmTime(now + 20 * DAY) },
    { notBefore: kdmTime(now + 190 * DAY), notAfter: kdmTime(now + 201 * DAY) },
  ])
    await refused(check(xml, { rules: { ...rules, kdmWindow } }), 'DKDM_WINDOW_OUTSIDE');
  await refused(
    check(xml, { enclaveSigner: { notBefore: new Date(now), notAfter: new Date(now + 15 * DAY) } }),
    'DKDM_WINDOW_ENCLAVE_CHAIN',
  );
});

test('a refused DKDM leaves no opened key behind: the keys already opened are wiped', async () => {
  const opened: Uint8Array[] = [];
  const decrypt = (c: Uint8Array) => {
    const p = oaepSha1Decrypt(c, enclave.leafKey);
    opened.push(p);
    return p;
  };
  await refused(
    check(withBlocks([block(keys[0]!), block(keys[1]!, { signerThumbprint: otherStudio.leaf.thumbprint })]), {
      decrypt,
    }),
    'DKDM_BLOCK_SIGNER',
  );
  assert.equal(opened.length, 2);
  for (const p of opened)
    assert.ok(
      p.every((b) => b === 0),
      'plaintext block wiped',
    );
});

test('kdm inspect: shows a DKDM (recipient, signer chain, window, key ids, no keys) and refuses a CA or lying signer', async () => {
  const { commands } = await import('../cli/forward.ts');
  const inspect = commands.find((c) => c.path.join(' ') === 'kdm inspect')!;
  const dir = mkdtempSync(join(tmpdir(), 'dkdm-inspect-'));
  const run = async (xml: string) => {
    const file = join(dir, 'k.xml');
    writeFileSync(file, xml);
    const lines: string[] = [];
    const log = console.log;
    console.log = (s: string) => lines.push(s);
    try {
      const code = await inspect.run([file, '--json']);
      return { code, view: JSON.parse(lines.join('\n')) };
    } finally {
      console.log = log;
    }
  };
  try {
    const ok = await run(buildKdm(dkdmInput()));
    assert.equal(ok.code, 0);
    assert.equal(ok.view.recipient.subjectName, enclave.leaf.subject);
    assert.deepEqual(ok.view.window, [dWindow.notBefore, dWindow.notAfter]);
    assert.deepEqual(
      ok.view.keyIds.map((k: { id: string }) => k.id),
      keys.map((k) => k.id),
    );
    assert.deepEqual(
      ok.view.signerChain.map((c: { subject: string }) => c.subject),
      [mastering.leaf.subject, mastering.ca.subject, mastering.root.subject],
    );
    assert.equal(ok.view.keys, undefined);
    const ca = await run(buildKdm(dkdmInput({ signer: kdmSigner([mastering.ca, mastering.root], mastering.caKey) })));
    assert.equal(ca.code, 1);
    assert.match(ca.view.signerLeaf, /^FAILED: DKDM_SIGNER_NOT_LEAF/);
    const dnq = enclave.leaf.subjectRdns.flat().find((a) => a.type === 'dnQualifier')!.value;
    const liar = withDnQualifier(mastering.leaf, dnq, mastering.caKey);
    const lying = await run(
      buildKdm(dkdmInput({ signer: kdmSigner([liar, mastering.ca, mastering.root], mastering.leafKey) })),
    );
    assert.equal(lying.code, 1);
    assert.match(lying.view.signerLeaf, /dnQualifier/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Rules as the studio signs them, with a DKDM section (dkdmSigners + releases). */
function sampleRules(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: RULES_TYPE,
    film: { cplId, title: 'Film' },
    contentKeyIds: keys.map((k) => k.id),
    kdmWindow: rules.kdmWindow,
    forwardFrom: '2025-12-01T00:00:00Z',
    forwardUntil: '2099-01-10T00:00:00Z',
    recipients: { thumbprints: ['2jmj7l5rSw0yVb/vlWAYkK/YBwk='], roots: [], excluded: [], roles: ['SM'] },
    formats: ['kdm'],
    limits: { maxKdmValidityDays: 30, maxRecipients: 10 },
    dkdmSigners: [Buffer.from(mastering.root.der).toString('base64')],
    releases: { pcr0s: ['ab'.repeat(48)], publishers: ['cd'.repeat(32)] },
    ...over,
  };
}

test('rules: dkdmSigners (self-signed roots) and releases go together; the signed payload keeps them', () => {
  const r = validateRules(sampleRules());
  assert.deepEqual(
    dkdmRulesRoots(r).map((c) => c.subject),
    [mastering.root.subject],
  );
  const studio = generateKeyPairSync('ed25519');
  const opened = openRules(
    signRules(r, studio.privateKey),
    studio.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  );
  assert.deepEqual(opened.rules.dkdmSigners, r.dkdmSigners);
  assert.deepEqual(opened.rules.releases, r.releases);
  // rules without a DKDM section stay valid, and accept no DKDM
  const { dkdmSigners: _a, releases: _b, ...plain } = sampleRules();
  assert.throws(
    () => dkdmRulesRoots(validateRules(plain)),
    (e) => isVerifierError(e, 'DKDM_NOT_ALLOWED'),
  );
  const invalid = (o: Record<string, unknown>, why: string) =>
    assert.throws(
      () => validateRules(sampleRules(o)),
      (e) => isVerifierError(e, 'RULES_INVALID'),
      why,
    );
  invalid({ releases: undefined }, 'signers without releases');
  invalid({ dkdmSigners: [] }, 'empty signers');
  invalid({ dkdmSigners: [Buffer.from(mastering.leaf.der).toString('base64')] }, 'a leaf is not a root');
  invalid({ dkdmSigners: [Buffer.from(mastering.ca.der).toString('base64')] }, 'an intermediate is not a root');
  invalid({ dkdmSigners: ['AAAA'] }, 'not a certificate');
  invalid({ releases: { pcr0s: [], publishers: [] } }, 'no release');
  invalid({ releases: { pcr0s: ['AB'.repeat(48)], publishers: [] } }, 'PCR0 in lowercase hex');
  invalid({ releases: { pcr0s: [], publishers: [], extra: 1 } }, 'unknown field');
});

test('releases: the enclave opens a DKDM only as a listed PCR0 or a release of a listed publisher', () => {
  const r = validateRules(sampleRules());
  checkDkdmRelease(r, { pcr0: 'ab'.repeat(48), publishers: [] });
  checkDkdmRelease(r, { pcr0: 'ee'.repeat(48), publishers: ['00'.repeat(32), 'cd'.repeat(32)] });
  for (const self of [
    { pcr0: 'ee'.repeat(48), publishers: [] },
    { pcr0: 'ee'.repeat(48), publishers: ['00'.repeat(32)] },
  ])
    assert.throws(
      () => checkDkdmRelease(r, self),
      (e) => isVerifierError(e, 'DKDM_RELEASE_NOT_ALLOWED'),
    );
  assert.throws(
    () => checkDkdmRelease({}, { pcr0: 'ab'.repeat(48), publishers: [] }),
    (e) => isVerifierError(e, 'DKDM_RELEASE_NOT_ALLOWED'),
  );
});
