/**
 * Interop with real KDMs from three independent generators (DCP-o-matic/libdcp, easyDCP,
 * cinemaslides) and one negative vector, when they are present in testdata/kdm/ (byte-identical
 * copies of the team's shared vectors; GPL test data, see testdata/kdm/README.md). Expected values
 * are those of the vectors' INDEX.json. Skips with the reason when the files are absent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createPrivateKey } from 'node:crypto';
import { isVerifierError } from '../src/errors.ts';
import { parseKdm, verifyKdmSignature, decryptKdm, checkKdmSignerChain, checkKdmRecipient } from '../src/kdm/read.ts';
import { parseDcCertificate, pemCertificates, certificateThumbprint } from '../src/kdm/certificate.ts';

const DIR = new URL('../../testdata/kdm/', import.meta.url).pathname;
const has = (...f: string[]) => f.every((x) => existsSync(DIR + x));
const read = (f: string) => readFileSync(DIR + f);
const key = (f: string) => createPrivateKey(read(f));
const cert = (f: string) => parseDcCertificate(pemCertificates(read(f).toString('utf8'))[0]!);
const why = (...f: string[]) =>
  has(...f) ? false : `real KDM vectors not in testdata/kdm (${f.filter((x) => !existsSync(DIR + x)).join(', ')})`;

async function check(
  file: string,
  at: string,
  expect: { cpl: string; window: [string, string]; thumbprint: string; keys: Record<string, [string, string]> },
  keyFile?: string,
  root?: string,
) {
  const xml = read(file);
  const { kdm, signer } = await verifyKdmSignature(new Uint8Array(xml));
  assert.equal(certificateThumbprint(signer), expect.thumbprint);
  assert.equal(kdm.cplId, expect.cpl);
  assert.deepEqual([kdm.notBefore, kdm.notAfter], expect.window);
  checkKdmSignerChain(kdm, signer, { at: new Date(at), profile: false, ...(root ? { roots: [cert(root)] } : {}) });
  if (keyFile) {
    const got = Object.fromEntries(
      decryptKdm(kdm, key(keyFile), signer).map((k) => [k.id, [k.type, Buffer.from(k.key).toString('hex')]]),
    );
    assert.deepEqual(got, expect.keys);
  }
  return kdm;
}

test('DCP-o-matic/libdcp KDM: signature, chain, decryption', {
  skip: why('dcpomatic-2025.kdm.xml', 'libdcp-test-leaf.key', 'libdcp-test-leaf.pem'),
}, async () => {
  const kdm = await check(
    'dcpomatic-2025.kdm.xml',
    '2025-06-01T00:00:00Z',
    {
      cpl: 'urn:uuid:67334526-342c-475d-bb64-d8fd8318f954',
      window: ['2018-04-17T17:46:18+00:00', '2028-04-10T17:46:18+00:00'],
      thumbprint: 'ZIAkQQ2K2XvLYtE+skBOnL886b0=',
      keys: {
        'urn:uuid:8380c321-7412-405b-a725-e9251f2de4a5': ['MDIK', '4536fe9ebd3835376edd93650e4691e9'],
        'urn:uuid:79d60a9e-382f-4fc0-963f-5d643cd8fa7d': ['MDAK', '4536fe9ebd3835376edd93650e4691e9'],
      },
    },
    'libdcp-test-leaf.key',
  );
  checkKdmRecipient(kdm, cert('libdcp-test-leaf.pem'));
});

test('easyDCP KDM: 4-certificate chain, no DigestMethod, no scope', {
  skip: why('easydcp-2.1.3-2013.kdm.xml', 'easydcp-recipient.key'),
}, async () => {
  await check(
    'easydcp-2.1.3-2013.kdm.xml',
    '2014-01-01T00:00:00Z',
    {
      cpl: 'urn:uuid:1296643f-e0ba-438e-bcfa-e47852173d5b',
      window: ['2013-07-08T07:13:26+02:00', '2023-07-04T22:04:56+02:00'],
      thumbprint: 'q0pmcPYmY4HqaJcBfKB0VDktnLw=',
      keys: {
        'urn:uuid:0e947ded-917f-4841-9f9b-3d2bdd98b39e': ['MDIK', 'e7efe5b6a14e7d33a9e5cd2343835086'],
        'urn:uuid:bce11ede-88d6-419f-b736-961745c0905a': ['MDAK', '362f3d123c799cf6a3f2f001f3553270'],
        'urn:uuid:8edcad52-b7b1-4db7-b65f-7d2ef29cb97a': ['MDIK', 'f11fff17e74c165bf78265c6c93b80d8'],
        'urn:uuid:6b699446-ca2b-4548-bf4c-5abf8320781f': ['MDAK', 'adfe3cf5939f975f1a83a4c73438bbf2'],
      },
    },
    'easydcp-recipient.key',
  );
});

test('cinemaslides KDM: keys confirmed by two oracles, chain to the libdcp test root', {
  skip: why('cinemaslides-2022-restored.kdm.xml', 'libdcp-test-leaf.key', 'libdcp-test-root.pem'),
}, async () => {
  await check(
    'cinemaslides-2022-restored.kdm.xml',
    '2023-01-01T00:00:00Z',
    {
      cpl: 'urn:uuid:eece17de-77e8-4a55-9347-b6bab5724b9f',
      window: ['2022-12-30T18:38:54+01:00', '2023-01-19T21:02:54+01:00'],
      thumbprint: 'xYi+hux8QsVnNNyJgNCrBakQo8U=',
      keys: {
        'urn:uuid:4ac4f922-8239-4831-b23b-31426d0542c4': ['MDIK', '8a2729c3e5b65c45d78305462104c3fb'],
        'urn:uuid:73baf5de-e195-4542-ab28-8a465f7d4079': ['MDAK', '5327fb7ec2e807bd57059615bf8a169d'],
      },
    },
    'libdcp-test-leaf.key',
    'libdcp-test-root.pem',
  );
});

test('cinemaslides KDMs for a real Dolphin IMB: signature and recipient', {
  skip: why(
    'cinemaslides-2012-dolphin-imb-t1.kdm.xml',
    'cinemaslides-2012-dolphin-imb-mt1.kdm.xml',
    'dolphin-imb-227577.sm.pem',
  ),
}, async () => {
  for (const f of ['cinemaslides-2012-dolphin-imb-t1.kdm.xml', 'cinemaslides-2012-dolphin-imb-mt1.kdm.xml']) {
    const { kdm, signer } = await verifyKdmSignature(new Uint8Array(read(f)));
    checkKdmSignerChain(kdm, signer, { at: new Date('2012-01-20T00:00:00Z'), profile: false });
    checkKdmRecipient(kdm, cert('dolphin-imb-227577.sm.pem'));
  }
  assert.deepEqual(parseKdm(read('cinemaslides-2012-dolphin-imb-t1.kdm.xml')).deviceList, [
    'IkDg473t+eX7tJAsiD5ucs1EnME=',
  ]);
  assert.deepEqual(parseKdm(read('cinemaslides-2012-dolphin-imb-mt1.kdm.xml')).deviceList, [
    '2jmj7l5rSw0yVb/vlWAYkK/YBwk=',
  ]);
});

test('negative vector: edited after signing → KDM_SIGNATURE, blocks still decrypt', {
  skip: why('NEGATIVE-cinemaslides-2022-edited-after-signing.kdm.xml', 'libdcp-test-leaf.key'),
}, async () => {
  const xml = read('NEGATIVE-cinemaslides-2022-edited-after-signing.kdm.xml');
  await assert.rejects(verifyKdmSignature(new Uint8Array(xml)), (e) => isVerifierError(e, 'KDM_SIGNATURE'));
  assert.equal(decryptKdm(parseKdm(new Uint8Array(xml)), key('libdcp-test-leaf.key')).length, 2);
});
