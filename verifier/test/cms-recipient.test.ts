/**
 * CMS EnvelopedData for a KMS Recipient: the writer produces KMS's exact profile (BER,
 * indefinite lengths, ktri v2 by SKID, OAEP-SHA-256, AES-256-CBC in chunks), the reader opens
 * it and refuses anything else; openssl cross-checks both directions when it is installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openForRecipient, isVerifierError, type VerifierErrorCode } from '../index.ts';
import { parseRecipientEnvelope } from '../src/cms/open.ts';
import { sealForRecipient, toHex, MAX_CMS_BYTES } from '../build.ts';

const rsa = () => generateKeyPairSync('rsa', { modulusLength: 2048 });
const me = rsa();
const other = rsa();
const spki = (k: ReturnType<typeof rsa>) => new Uint8Array(k.publicKey.export({ type: 'spki', format: 'der' }));
const mySpki = spki(me);
const coded = (code: VerifierErrorCode) => (e: unknown) => isVerifierError(e, code);

function indexOf(hay: Uint8Array, needle: number[]): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

test('seal → open round trips 0, 32 and 10000 bytes; long content is chunked', async () => {
  for (const n of [0, 32, 10000]) {
    const pt = randomBytes(n);
    const cms = sealForRecipient(pt, mySpki);
    assert.deepEqual(Buffer.from(await openForRecipient(cms, me.privateKey)), pt);
    assert.deepEqual(
      Buffer.from(await openForRecipient(cms, new Uint8Array(me.privateKey.export({ type: 'pkcs8', format: 'der' })))),
      pt,
    );
  }
  const big = sealForRecipient(randomBytes(10000), mySpki);
  assert.equal(parseRecipientEnvelope(big).encryptedContent.length, 10000 + 16 - (10000 % 16));
  // 4096-byte chunks: three OCTET STRING headers 04 82 10 00 / 04 82 10 00 / 04 82 07 20
  assert.ok(indexOf(big, [0x04, 0x82, 0x10, 0x00]) > 0);
});

test('the envelope is KMS profile: BER indefinite lengths, v2, ktri v2 by SKID, OAEP-SHA-256 + MGF1-SHA-256, AES-256-CBC', () => {
  const cms = sealForRecipient(new Uint8Array(32), mySpki);
  assert.equal(toHex(cms.subarray(0, 20)), '3080' + '06092a864886f70d010703' + 'a080' + '3080' + '020102');
  assert.deepEqual([...cms.subarray(cms.length - 10)], new Array(10).fill(0)); // five EOCs
  const oaep =
    '06092a864886f70d010107302ba00d300b0609608648016503040201a11a301806092a864886f70d010108300b0609608648016503040201';
  assert.ok(toHex(cms).includes(oaep));
  assert.ok(toHex(cms).includes('060960864801650304012a0410')); // aes256-CBC, 16-byte IV
  const env = parseRecipientEnvelope(cms);
  const bits = mySpki.subarray(mySpki.length - 270); // the RSA-2048 BIT STRING content after its unused-bits byte
  assert.equal(toHex(env.subjectKeyIdentifier), createHash('sha1').update(bits).digest('hex'));
  assert.equal(env.encryptedKey.length, 256);
  assert.equal(env.iv.length, 16);
  assert.notEqual(toHex(sealForRecipient(new Uint8Array(32), mySpki)), toHex(cms), 'fresh CEK and IV each time');
});

test('a wrong key, a tampered key or content, truncation and trailing bytes are refused with codes', async () => {
  const cms = sealForRecipient(randomBytes(32), mySpki);
  await assert.rejects(openForRecipient(cms, other.privateKey), coded('CMS_DECRYPT'));
  const env = parseRecipientEnvelope(cms);
  const keyAt = indexOf(cms, [...env.encryptedKey.subarray(0, 8)]);
  const ctAt = indexOf(cms, [...env.encryptedContent.subarray(0, 8)]);
  const flip = (at: number) => {
    const t = Uint8Array.from(cms);
    t[at]! ^= 0x01;
    return t;
  };
  // the wrapped key (OAEP is checked) and the padding (the last byte of the second-to-last block)
  for (const at of [keyAt + 100, ctAt + 31])
    await assert.rejects(openForRecipient(flip(at), me.privateKey), coded('CMS_DECRYPT'), `flip at ${at}`);
  // the profile has no MAC: CBC bits flipped in an earlier block change the plaintext unnoticed.
  // Whoever relays the envelope can garble the key it carries (denial of service), never read it.
  assert.notDeepEqual(
    await openForRecipient(flip(ctAt + 3), me.privateKey),
    await openForRecipient(cms, me.privateKey),
  );
  await assert.rejects(openForRecipient(cms.subarray(0, cms.length - 3), me.privateKey), coded('CMS_MALFORMED'));
  await assert.rejects(openForRecipient(Uint8Array.of(...cms, 0), me.privateKey), coded('CMS_MALFORMED'));
  await assert.rejects(openForRecipient(new Uint8Array(0), me.privateKey), coded('CMS_MALFORMED'));
  await assert.rejects(
    openForRecipient(randomBytes(300), me.privateKey),
    (e) => isVerifierError(e, 'CMS_MALFORMED') || isVerifierError(e, 'CMS_UNSUPPORTED'),
  );
  await assert.rejects(openForRecipient(new Uint8Array(MAX_CMS_BYTES + 1), me.privateKey), coded('OVERSIZED'));
});

test('other versions and algorithms are CMS_UNSUPPORTED, not guessed at', async () => {
  const cms = sealForRecipient(randomBytes(32), mySpki);
  const patch = (find: number[], replace: number[]) => {
    const at = indexOf(cms, find);
    assert.ok(at >= 0);
    const t = Uint8Array.from(cms);
    t.set(replace, at);
    return t;
  };
  const cases: Array<[string, Uint8Array]> = [
    ['EnvelopedData v0', patch([0x30, 0x80, 0x02, 0x01, 0x02], [0x30, 0x80, 0x02, 0x01, 0x00])],
    ['ktri v0', patch([0x02, 0x01, 0x02, 0x80, 0x14], [0x02, 0x01, 0x00, 0x80, 0x14])],
    [
      'aes-128-cbc',
      patch(
        [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2a],
        [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x02],
      ),
    ],
    [
      'OAEP with SHA-384',
      patch(
        [0xa0, 0x0d, 0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01],
        [0xa0, 0x0d, 0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02],
      ),
    ],
    [
      'PKCS#1 v1.5 key transport',
      patch(
        [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x07],
        [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01],
      ),
    ],
    [
      'signedData content type',
      patch(
        [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x03],
        [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02],
      ),
    ],
  ];
  for (const [name, bytes] of cases)
    await assert.rejects(openForRecipient(bytes, me.privateKey), coded('CMS_UNSUPPORTED'), name);
});

test('sealForRecipient takes only an RSA-2048 SubjectPublicKeyInfo', () => {
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' });
  const rsa3072 = generateKeyPairSync('rsa', { modulusLength: 3072 }).publicKey.export({ type: 'spki', format: 'der' });
  for (const k of [ec, rsa3072, Buffer.from('not a key'), mySpki.subarray(0, 100)]) {
    assert.throws(() => sealForRecipient(new Uint8Array(32), new Uint8Array(k)), coded('CMS_UNSUPPORTED'));
  }
});

const opensslMissing = spawnSync('openssl', ['version']).status === 0 ? false : 'Debian openssl is not installed';

test('openssl cms cross-check: openssl -stream output opens here, and openssl opens ours', {
  skip: opensslMissing,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'keycast-cms-'));
  try {
    const key = join(dir, 'k.pem');
    const cert = join(dir, 'c.pem');
    writeFileSync(key, me.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    execFileSync(
      'openssl',
      ['req', '-x509', '-new', '-key', key, '-out', cert, '-subj', '/CN=keycast-test', '-days', '1'],
      { stdio: 'pipe' },
    );
    const pt = randomBytes(10000);
    writeFileSync(join(dir, 'pt'), pt);
    const ossl = (extra: string[]) => {
      execFileSync(
        'openssl',
        [
          'cms',
          '-encrypt',
          '-binary',
          '-keyid',
          '-stream',
          '-outform',
          'DER',
          '-in',
          join(dir, 'pt'),
          '-out',
          join(dir, 'ct.der'),
          '-recip',
          cert,
          ...extra,
        ],
        { stdio: 'pipe' },
      );
      return new Uint8Array(readFileSync(join(dir, 'ct.der')));
    };
    const theirs = ossl(['-aes-256-cbc', '-keyopt', 'rsa_padding_mode:oaep', '-keyopt', 'rsa_oaep_md:sha256']);
    assert.deepEqual(Buffer.from(await openForRecipient(theirs, me.privateKey)), pt);
    // what KMS never sends: SHA-1 OAEP, PKCS#1 v1.5, AES-128
    await assert.rejects(
      openForRecipient(ossl(['-aes-256-cbc', '-keyopt', 'rsa_padding_mode:oaep']), me.privateKey),
      coded('CMS_UNSUPPORTED'),
    );
    await assert.rejects(openForRecipient(ossl(['-aes-256-cbc']), me.privateKey), coded('CMS_UNSUPPORTED'));
    await assert.rejects(
      openForRecipient(
        ossl(['-aes-128-cbc', '-keyopt', 'rsa_padding_mode:oaep', '-keyopt', 'rsa_oaep_md:sha256']),
        me.privateKey,
      ),
      coded('CMS_UNSUPPORTED'),
    );

    const small = randomBytes(32);
    writeFileSync(join(dir, 'ours.der'), sealForRecipient(small, mySpki));
    const out = execFileSync(
      'openssl',
      ['cms', '-decrypt', '-binary', '-inform', 'DER', '-in', join(dir, 'ours.der'), '-inkey', key, '-recip', cert],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    assert.deepEqual(out, small);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('random corruption never escapes as an uncoded error', async () => {
  const cms = sealForRecipient(randomBytes(32), mySpki);
  const codes = new Set<string>();
  for (let i = 0; i < 300; i++) {
    const t = Uint8Array.from(cms);
    const n = 1 + (i % 4);
    for (let k = 0; k < n; k++) t[Math.floor(Math.random() * t.length)] = Math.floor(Math.random() * 256);
    const cut = i % 7 === 0 ? t.subarray(0, Math.floor(Math.random() * t.length)) : t;
    try {
      await openForRecipient(cut, me.privateKey);
      codes.add('opened');
    } catch (e) {
      assert.ok(isVerifierError(e), `uncoded ${String(e)}`);
      codes.add(e.code);
    }
  }
  assert.ok(codes.has('CMS_MALFORMED') || codes.has('CMS_UNSUPPORTED'));
});
