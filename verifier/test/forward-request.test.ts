/**
 * The formats `keycast forward` and the enclave share: the forward request (shape, caps, one
 * digest whether a certificate travels as PEM text or DER bytes), the enclave's answer, and the
 * verified-enclave record (keys re-read from the identity binding; edited fields refused).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { canonicalize } from '../src/encoding/canonical-json.ts';
import { isVerifierError } from '../src/errors.ts';
import {
  formatForwardRequest,
  forwardRequestDigest,
  parseForwardAnswer,
  parseForwardRequest,
  checkForwardRequestTime,
  MAX_FORWARD_RECIPIENTS,
  FORWARD_JSON_LIMITS,
} from '../src/forward/request.ts';
import { JsonShapeGuard } from '../src/encoding/json-shape.ts';
import {
  formatVerifiedEnclave,
  parseVerifiedEnclave,
  reverifyEnclaveRecord,
  verifiedEnclaveRecord,
} from '../src/forward/enclave-keys.ts';
import { formatIdentityBinding, parseIdentityBinding } from '../src/gate/identity.ts';
import { toBase64, toHex, utf8 } from '../src/encoding/bytes.ts';

const der = new Uint8Array(randomBytes(40));
const base = {
  sealedKeys: '{"s":1}',
  rules: '{"r":1}',
  recipients: [der],
  intermediates: [],
  format: 'kdm' as const,
  expires: '2026-01-01T00:00:00Z',
};

test('forward request: round trip, one digest for DER bytes and their base64, malformed and oversized refused', () => {
  const text = formatForwardRequest(base);
  const back = parseForwardRequest(JSON.parse(text));
  assert.deepEqual(back.recipients, [Buffer.from(der).toString('base64')]);
  assert.equal(forwardRequestDigest(back), forwardRequestDigest(base));
  assert.notEqual(forwardRequestDigest({ ...base, format: 'raw-rsa-oaep' }), forwardRequestDigest(base));
  assert.notEqual(forwardRequestDigest({ ...base, expires: '2026-01-01T00:00:01Z' }), forwardRequestDigest(base));
  // the streamed digest hashes exactly the canonical JSON of the request, escapes included
  const odd = { ...base, rules: '{"r":"\u2028 \\ " é \u0001"}', recipients: ['PEM\n+/=', der], intermediates: [der] };
  const canonical = canonicalize({
    ...odd,
    recipients: odd.recipients.map((c) => (typeof c === 'string' ? c : Buffer.from(c).toString('base64'))),
    intermediates: [Buffer.from(der).toString('base64')],
  });
  assert.equal(forwardRequestDigest(odd), createHash('sha256').update(canonical).digest('hex'));
  for (const bad of [
    null,
    [],
    { ...base, extra: 1 },
    { ...base, recipients: [] },
    { ...base, recipients: [1] },
    { ...base, format: 'pdf' },
    { ...base, sealedKeys: 3 },
    { ...base, intermediates: new Array(65).fill('x') },
    { ...base, expires: '2026-01-01T00:00:00.5Z' },
    { ...base, expires: '2026-01-01T00:00:00+00:00' },
    { ...base, expires: 1767225600 },
  ]) {
    assert.throws(
      () => parseForwardRequest(bad),
      (e) => isVerifierError(e, 'MALFORMED'),
    );
  }
  assert.throws(
    () => parseForwardRequest({ ...base, recipients: new Array(MAX_FORWARD_RECIPIENTS + 1).fill('x') }),
    (e) => isVerifierError(e, 'OVERSIZED'),
  );
});

test('forward request: without expires is REQUEST_OUTDATED; expired or more than 24 h ahead is REQUEST_EXPIRED', () => {
  const { expires: _e, ...old } = base;
  assert.throws(
    () => parseForwardRequest(old),
    (e) => isVerifierError(e, 'REQUEST_OUTDATED'),
  );
  const t = Date.parse(base.expires);
  assert.equal(checkForwardRequestTime(base, new Date(t - 1000)).getTime(), t);
  for (const now of [t, t + 1, t - 24 * 3600_000 - 1000])
    assert.throws(
      () => checkForwardRequestTime(base, new Date(now)),
      (e) => isVerifierError(e, 'REQUEST_EXPIRED'),
    );
});

test('bounded JSON reader: depth and value count refused while streaming, strings not counted', () => {
  const g = () => new JsonShapeGuard(FORWARD_JSON_LIMITS);
  const ok = g();
  // an escaped backslash ends a string, an escaped quote does not; brackets inside strings are text
  for (const c of ['{"recipients":["a[[[[,,,,", "b\\\\"', '],"x":"{{{{\\"[[[["}']) ok.push(utf8(c));
  assert.throws(
    () => g().push(utf8('{"a":[[['.padEnd(64, '['))),
    (e) => isVerifierError(e, 'MALFORMED'),
  );
  const many = g();
  assert.throws(
    () => {
      many.push(utf8('{"r":['));
      for (let i = 0; i < 200; i++) many.push(utf8('0,'.repeat(1000)));
    },
    (e) => isVerifierError(e, 'OVERSIZED'),
  );
});

test('forward answer: outputs in order with 20-byte thumbprints, anything else MALFORMED', () => {
  const out = {
    index: 0,
    thumbprint: toBase64(new Uint8Array(20)),
    subject: 'CN=x',
    format: 'kdm',
    bytes: toBase64(new Uint8Array([1, 2])),
  };
  const good = { requestDigest: 'ab'.repeat(32), receipt: '{}', outputs: [out] };
  assert.equal(parseForwardAnswer(good).outputs.length, 1);
  for (const bad of [
    null,
    { ...good, requestDigest: 'x' },
    { ...good, outputs: [{ ...out, index: 1 }] },
    { ...good, outputs: [{ ...out, thumbprint: toBase64(new Uint8Array(19)) }] },
    { ...good, outputs: [{ ...out, bytes: 'not base64!' }] },
    { ...good, outputs: [{ ...out, format: 'pdf' }] },
    { ...good, receipt: 1 },
  ]) {
    assert.throws(
      () => parseForwardAnswer(bad),
      (e) => isVerifierError(e, 'MALFORMED'),
    );
  }
});

test('verified-enclave record: keys from the binding; edited keys, another type or a contradicting binding refused', () => {
  const hpke = new Uint8Array(randomBytes(32));
  const receipts = new Uint8Array(
    generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'der' }).subarray(-32),
  );
  const userData = formatIdentityBinding({ hpkeX25519: hpke, receiptsEd25519: receipts });
  const pcr0 = toHex(new Uint8Array(randomBytes(48)));
  const fields = {
    host: 'http://127.0.0.1:1',
    moduleId: 'i-x-enc1',
    timestamp: new Date().toISOString(),
    pcr0,
    releaseIndex: 2,
    origin: 'o',
    treeSize: 3,
    publicKey: toBase64(hpke),
    userData: toBase64(userData),
    nonce: '00'.repeat(32),
    rootSha256: '11'.repeat(32),
    attestation: toBase64(new Uint8Array([0x84, 0x40])),
  };
  const text = formatVerifiedEnclave(verifiedEnclaveRecord(fields, parseIdentityBinding(userData, hpke)));
  const r = parseVerifiedEnclave(text);
  assert.deepEqual(
    [toHex(r.hpke), toHex(r.pcr0), r.receipt.asymmetricKeyType, r.record.kdmChainSha256],
    [toHex(hpke), pcr0, 'ed25519', null],
  );
  const j = JSON.parse(text);
  for (const bad of [
    { ...j, hpkeX25519: toBase64(new Uint8Array(32)) },
    { ...j, receiptsEd25519: toBase64(new Uint8Array(32)) },
    { ...j, type: 'other' },
    { ...j, verified: false },
    { ...j, pcr0: 'ab' },
    { ...j, publicKey: toBase64(new Uint8Array(randomBytes(32))) },
    { ...j, userData: 'x' },
  ]) {
    assert.throws(
      () => parseVerifiedEnclave(JSON.stringify(bad)),
      (e) => isVerifierError(e, 'IDENTITY_BINDING'),
    );
  }
  assert.throws(
    () => parseVerifiedEnclave('x'.repeat(70_000)),
    (e) => isVerifierError(e, 'IDENTITY_BINDING'),
  );
  // a record without the document it was made from cannot be verified again: v1, or the field dropped
  const { attestation: _a, ...noDoc } = j;
  for (const bad of [{ ...noDoc, type: 'keycast-verified-enclave/v1' }, noDoc, { ...j, attestation: '' }])
    assert.throws(
      () => parseVerifiedEnclave(JSON.stringify(bad)),
      (e) => isVerifierError(e, 'RECORD_UNVERIFIABLE'),
    );
  // a record whose document does not verify: the attestation's own refusal
  assert.throws(() => reverifyEnclaveRecord(r, { at: new Date(), maxAgeMs: 60_000 }), isVerifierError);
});
