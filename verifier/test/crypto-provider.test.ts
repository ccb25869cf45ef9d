/**
 * The crypto provider's two implementations — node:crypto (what the verifier runs on Node) and
 * @noble (what the browser bundle runs) — export the same contract and agree byte for byte:
 * SHA-256 incremental digests, Ed25519 keys, signatures and verdicts (including tampered,
 * wrong-length and non-canonical signatures), and the byte encodings bytes.ts builds its strict
 * decoders on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as node from '../src/crypto/node.ts';
import * as browser from '../src/crypto/browser.ts';
import * as provider from '../src/crypto/provider.ts';

// Both implementations satisfy one shape (a compile-time check as much as a runtime one).
type Contract = Omit<typeof node, 'Sha256'>;
const implementations: Array<[string, Contract]> = [
  ['node', node],
  ['browser', browser as unknown as Contract],
];

test('the provider on Node is node:crypto, and both implementations export the same functions', () => {
  assert.equal(provider.createSha256, node.createSha256);
  assert.deepEqual(Object.keys(browser).sort(), Object.keys(node).sort());
});

test('SHA-256: incremental digests agree with each other and with FIPS 180-4 vectors', () => {
  const abc = new TextEncoder().encode('abc');
  for (const [name, p] of implementations) {
    assert.equal(
      p.hexEncode(p.createSha256().update(abc).digest()),
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
      name,
    );
    assert.equal(
      p.hexEncode(p.createSha256().digest()),
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
      name,
    );
  }
  const parts = [new Uint8Array([0]), new Uint8Array(1000).fill(7), new Uint8Array(3)];
  const digest = (p: Contract) => parts.reduce((h, x) => h.update(x), p.createSha256()).digest();
  assert.deepEqual(Uint8Array.from(digest(node)), Uint8Array.from(digest(browser as unknown as Contract)));
});

test('SHA-256 one-shot: sha256Digest agrees with the incremental digest, as a plain 32-byte Uint8Array', () => {
  const inputs = [new Uint8Array(0), new Uint8Array(65).fill(1), new Uint8Array(3000).map((_, i) => i * 31)];
  for (const [name, p] of implementations) {
    for (const x of inputs) {
      const once = p.sha256Digest(x);
      assert.equal(Object.getPrototypeOf(once), Uint8Array.prototype, name);
      assert.equal(once.length, 32, name);
      assert.equal(p.hexEncode(once), node.hexEncode(node.createSha256().update(x).digest()), name);
    }
    // Every byte value survives the node provider's latin1 round trip (≥ 0x80 included).
    assert.equal(
      p.hexEncode(p.sha256Digest(new TextEncoder().encode('abc'))),
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
      name,
    );
  }
});

test('Ed25519: same public keys and signatures from a seed; verdicts agree on good, tampered and malformed signatures', () => {
  const seed = new Uint8Array(32).map((_, i) => i * 7);
  const msg = new TextEncoder().encode('log.keycast.test\n1\nAAAA\n');
  const n = node.ed25519FromSeed(seed);
  const b = browser.ed25519FromSeed(seed);
  assert.deepEqual(Uint8Array.from(n.publicKey), Uint8Array.from(b.publicKey));
  const sig = node.ed25519Sign(n.privateKey, msg);
  assert.deepEqual(
    Uint8Array.from(browser.ed25519Sign(b.privateKey, msg)),
    Uint8Array.from(sig),
    'RFC 8032 signatures are deterministic',
  );
  const nk = node.ed25519PublicKey(n.publicKey);
  const bk = browser.ed25519PublicKey(b.publicKey);
  const flipped = sig.slice();
  flipped[10]! ^= 1;
  // S + L: the same signature with a non-canonical scalar, which RFC 8032 verification must refuse
  const L = 2n ** 252n + 27742317777372353535851937790883648493n;
  let s = 0n;
  for (let i = 63; i >= 32; i--) s = (s << 8n) | BigInt(sig[i]!);
  const sPlusL = sig.slice();
  let v = s + L;
  for (let i = 32; i < 64; i++) {
    sPlusL[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  const cases: Array<[string, Uint8Array, Uint8Array, boolean]> = [
    ['good', msg, sig, true],
    ['other message', new TextEncoder().encode('other'), sig, false],
    ['flipped bit', msg, flipped, false],
    ['non-canonical S', msg, sPlusL, false],
    ['all zero', msg, new Uint8Array(64), false],
  ];
  for (const [what, m, sg, want] of cases) {
    assert.equal(node.ed25519Verify(nk, m, sg), want, `node: ${what}`);
    assert.equal(browser.ed25519Verify(bk, m, sg), want, `browser: ${what}`);
  }
});

test('base64: the node provider accepts exactly the strings the browser one does (random short strings)', () => {
  // browser.ts decodes with atob and re-encodes: an independent judge of canonical spelling.
  const alphabet = 'AQgwBEIMb0+/=-_ \n.é';
  let seed = 7;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  for (let k = 0; k < 20_000; k++) {
    let s = '';
    for (let len = rand(13); len > 0; len--) s += alphabet[rand(alphabet.length)];
    // … and near-misses: a canonical encoding with one character replaced.
    const good = node.base64Encode(new Uint8Array(rand(11)).map(() => rand(256)));
    const at = rand(good.length + 1);
    const near = good.slice(0, at) + alphabet[rand(alphabet.length)] + good.slice(at + 1);
    for (const x of [s, good, near]) {
      const a = node.base64DecodeCanonical(x);
      const b = browser.base64DecodeCanonical(x);
      assert.deepEqual(a && Uint8Array.from(a), b && Uint8Array.from(b), JSON.stringify(x));
    }
  }
});

test('byte encodings agree, and base64 decodes only its canonical spelling', () => {
  const bytes = new Uint8Array(300).map((_, i) => (i * 37) & 0xff);
  assert.equal(browser.hexEncode(bytes), node.hexEncode(bytes));
  assert.equal(browser.base64Encode(bytes), node.base64Encode(bytes));
  assert.deepEqual(Uint8Array.from(browser.hexDecode(node.hexEncode(bytes))), bytes);
  assert.deepEqual(Uint8Array.from(browser.base64DecodeCanonical(node.base64Encode(bytes))!), bytes);
  assert.deepEqual(Uint8Array.from(node.base64DecodeCanonical(node.base64Encode(bytes))!), bytes);
  assert.deepEqual(Uint8Array.from(browser.utf8Encode('é—✓')), Uint8Array.from(node.utf8Encode('é—✓')));
  for (const bad of [
    '%%%%',
    'AB',
    'AB=',
    'A===',
    'QQ=A',
    'QR==',
    'QQ ==',
    'Q-8=',
    '====',
    'Q===',
    'QUJD=',
    'QUI=QUI=',
    'QUJ\u00e9',
  ]) {
    for (const [name, p] of implementations) assert.equal(p.base64DecodeCanonical(bad), undefined, `${name}: ${bad}`);
  }
  for (const n of [0, 1, 2, 3, 31, 32, 33, 64, 767, 768, 769, 1500]) {
    // Both sides of the node provider's short-string path (≤ 1024 characters) round-trip.
    const b = new Uint8Array(n).map((_, i) => (i * 91 + n) & 0xff);
    for (const [name, p] of implementations)
      assert.deepEqual(Uint8Array.from(p.base64DecodeCanonical(node.base64Encode(b))!), b, `${name}: ${n} bytes`);
  }
  for (const [name, p] of implementations) {
    assert.equal(p.constantTimeEqual(bytes, bytes.slice()), true, name);
    const other = bytes.slice();
    other[299]! ^= 1;
    assert.equal(p.constantTimeEqual(bytes, other), false, name);
    assert.equal(p.randomBytes(16).length, 16, name);
  }
});
