/**
 * Attacker-side tests for Nitro attestation documents: flipping any single byte of a real
 * document's signature, payload or any certificate makes verification fail (certificate flips
 * are caught by the chain checks themselves, before the COSE signature), and fuzzing with random
 * and mutated documents never crashes — every refusal is a coded VerifierError.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { verifyAttestationDocument, parseAttestationDocument, VerifierError, isVerifierError } from '../index.ts';
import type { AttestationPayload } from '../src/attestation/payload.ts';
import { decodeCoseSign1 } from '../src/cose/sign1.ts';
import {
  WideUint,
  encodeCbor,
  toHex,
  fromHex,
  type CborValue,
  decodeAttestationPayload,
  encodeAttestationPayload,
  signCoseSign1,
} from '../build.ts';
import { realVectors, makeTestPki, issueDocument, pcrs } from './attestation-fixtures.ts';
import { cborValue } from './cbor-arbitrary.ts';

const v = realVectors().find((x) => x.name.startsWith('marlin-verifier'))!; // production mode, 4 CAs + leaf
const at = new Date(v.side.verify_at_unix_ms);
const verify = (b: Uint8Array) => verifyAttestationDocument(b, { at });

function codeOf(b: Uint8Array): string {
  try {
    verify(b);
    return 'ACCEPTED';
  } catch (e) {
    if (!(e instanceof VerifierError)) throw new Error(`uncoded error: ${String(e)}`, { cause: e });
    return e.code;
  }
}

function flipped(b: Uint8Array, i: number, mask = 0x01): Uint8Array {
  const c = new Uint8Array(b);
  c[i]! ^= mask;
  return c;
}

test('the unmodified document verifies (baseline for the mutations below)', () => {
  assert.equal(verify(v.bytes).moduleId, v.side.module_id);
});

test('flipping any byte of the COSE signature fails with ATTESTATION_SIGNATURE', () => {
  const sigStart = v.bytes.length - 96;
  for (let i = sigStart; i < v.bytes.length; i++)
    for (const mask of [0x01, 0x80])
      assert.equal(codeOf(flipped(v.bytes, i, mask)), 'ATTESTATION_SIGNATURE', `byte ${i} mask ${mask}`);
});

/** Byte ranges of the document's certificates inside the raw bytes. */
function certRanges(): Array<[string, number, number]> {
  const doc = parseAttestationDocument(v.bytes);
  const certs = [
    ...doc.cabundle.map((c, i) => [`cabundle[${i}]`, c] as const),
    ['certificate', doc.certificate] as const,
  ];
  return certs.map(([role, der]) => {
    const off = Buffer.from(v.bytes).indexOf(Buffer.from(der));
    assert.ok(off > 0, role);
    return [role, off, off + der.length];
  });
}

test('flipping any byte of the envelope or payload fails (every byte outside the certificates, which the next test covers)', () => {
  const sigStart = v.bytes.length - 96;
  const ranges = certRanges();
  const seen = new Set<string>();
  for (let i = 0; i < sigStart; i++) {
    if (ranges.some(([, a, b]) => i >= a && i < b)) continue;
    const code = codeOf(flipped(v.bytes, i));
    assert.notEqual(code, 'ACCEPTED', `byte ${i}`);
    seen.add(code);
  }
  for (const c of ['ATTESTATION_MALFORMED', 'ATTESTATION_SIGNATURE'])
    assert.ok(seen.has(c), `saw ${[...seen].join(',')}`);
});

test('flipping any byte of any certificate is caught by the chain checks, not only by the document signature', () => {
  for (const [role, off, end] of certRanges()) {
    for (let i = off; i < end; i++) {
      const code = codeOf(flipped(v.bytes, i));
      assert.ok(
        role === 'cabundle[0]' ? code === 'ROOT_UNTRUSTED' : /^CERT_/.test(code),
        `${role} byte ${i - off}: ${code}`,
      );
    }
  }
});

test('a document re-signed by a different key, or with a swapped leaf, is refused', () => {
  const now = Date.UTC(2026, 0, 1);
  const pki = makeTestPki(now);
  const a = issueDocument(pki, now);
  const b = issueDocument(pki, now);
  const opts = { at: new Date(now + 1000), trustedRoots: [pki.root.der] };
  // payload of a, signed by b's leaf key
  assert.throws(
    () => verifyAttestationDocument(signCoseSign1(decodeCoseSign1(a.bytes).payload, b.leafKey), opts),
    (e: unknown) => isVerifierError(e, 'ATTESTATION_SIGNATURE'),
  );
  // b's leaf certificate inside a's otherwise identical payload, signed by a's key
  const swapped: AttestationPayload = { ...a.payload, certificate: b.payload.certificate };
  assert.throws(
    () => verifyAttestationDocument(signCoseSign1(encodeAttestationPayload(swapped), a.leafKey), opts),
    (e: unknown) => isVerifierError(e, 'ATTESTATION_SIGNATURE'),
  );
  // a replayed document is still a valid document: freshness comes from the nonce binding
  assert.throws(
    () => verifyAttestationDocument(a.bytes, { ...opts, policy: { nonce: Uint8Array.of(9) } }),
    (e: unknown) => isVerifierError(e, 'NONCE_MISMATCH'),
  );
});

test('oversized and truncated documents are refused with codes', () => {
  assert.throws(
    () => verify(new Uint8Array(70_000)),
    (e: unknown) => isVerifierError(e, 'OVERSIZED'),
  );
  for (const n of [0, 1, 5, 100, v.bytes.length - 1])
    assert.throws(
      () => verify(v.bytes.subarray(0, n)),
      (e: unknown) => isVerifierError(e, 'ATTESTATION_MALFORMED'),
    );
  assert.throws(
    () => verify(new Uint8Array([...v.bytes, 0])),
    (e: unknown) => isVerifierError(e, 'ATTESTATION_MALFORMED'),
  );
});

test('fuzz: random bytes never crash and are refused with a code', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 6000 }), (b) => assert.notEqual(codeOf(b), 'ACCEPTED')),
    { numRuns: 500 },
  );
});

test('fuzz: mutated real documents (flips, deletions, insertions, truncation) are refused with a code', () => {
  const edit = fc.tuple(
    fc.nat({ max: v.bytes.length - 1 }),
    fc.constantFrom('flip', 'del', 'ins', 'cut'),
    fc.integer({ min: 1, max: 255 }),
  );
  fc.assert(
    fc.property(fc.array(edit, { minLength: 1, maxLength: 4 }), (edits) => {
      let b = [...v.bytes];
      for (const [pos, kind, x] of edits) {
        const p = Math.min(pos, b.length - 1);
        if (kind === 'flip') b[p]! ^= x;
        else if (kind === 'del') b.splice(p, 1);
        else if (kind === 'ins') b.splice(p, 0, x);
        else b = b.slice(0, p);
      }
      assert.notEqual(codeOf(Uint8Array.from(b)), 'ACCEPTED');
    }),
    { numRuns: 300 },
  );
});

test('fuzz: any CBOR value as a payload decodes only to a coded ATTESTATION_MALFORMED', () => {
  fc.assert(
    fc.property(cborValue, (x) => {
      const bytes = encodeCbor(x);
      assert.throws(
        () => decodeAttestationPayload(bytes),
        (e: unknown) => isVerifierError(e, 'ATTESTATION_MALFORMED'),
      );
    }),
    { numRuns: 500 },
  );
});

test('fuzz: payload fields round-trip through the canonical encoding, and out-of-profile fields are refused', () => {
  const bytesOrNull = fc.option(fc.uint8Array({ maxLength: 1100 }), { nil: null });
  fc.assert(
    fc.property(
      fc.integer({ min: -5, max: 2 ** 53 }),
      bytesOrNull,
      bytesOrNull,
      bytesOrNull,
      fc.integer({ min: 14, max: 33 }),
      (timestamp, publicKey, userData, nonce, n) => {
        const p: AttestationPayload = {
          moduleId: 'i-0123456789abcdef0-enc0123456789abcdef',
          digest: 'SHA384',
          timestamp,
          pcrs: pcrs((i) => i, n),
          certificate: new Uint8Array(10).fill(1),
          cabundle: [new Uint8Array(5)],
          publicKey,
          userData,
          nonce,
        };
        const ok =
          timestamp > 0 &&
          timestamp <= Number.MAX_SAFE_INTEGER &&
          n >= 16 &&
          n <= 32 &&
          [publicKey, userData, nonce].every((x) => x === null || x.length <= 1024);
        if (!ok) return assert.throws(() => encodeAttestationPayload(p), RangeError);
        assert.deepEqual(decodeAttestationPayload(encodeAttestationPayload(p)), p);
      },
    ),
    { numRuns: 300 },
  );
});

test('payload encodings other than the NSM canonical one are refused: reordered, duplicated, extra or missing keys, other integer widths, floats, tags, indefinite lengths', () => {
  const base = decodeAttestationPayload(decodeCoseSign1(v.bytes).payload);
  const good = encodeAttestationPayload(base);
  const asMap = (order: string[], over: Record<string, unknown> = {}) => {
    // the timestamp in 8 bytes as the NSM writes it, so each case differs from a genuine payload only where it says
    const fields: Record<string, CborValue> = {
      module_id: base.moduleId,
      digest: base.digest,
      timestamp: new WideUint(base.timestamp, 8),
      pcrs: base.pcrs,
      certificate: base.certificate,
      cabundle: base.cabundle,
      public_key: base.publicKey,
      user_data: base.userData,
      nonce: base.nonce,
      ...over,
    };
    return encodeCbor(new Map(order.map((k) => [k, fields[k]!])));
  };
  const ORDER = [
    'module_id',
    'digest',
    'timestamp',
    'pcrs',
    'certificate',
    'cabundle',
    'public_key',
    'user_data',
    'nonce',
  ];
  const hexGood = Buffer.from(good).toString('hex');
  const small = encodeAttestationPayload({ ...base, timestamp: 1000 }); // the NSM writes even small timestamps in 8 bytes
  const dup = Buffer.from(
    hexGood.replace(Buffer.from('user_data').toString('hex'), Buffer.from('module_id').toString('hex')),
    'hex',
  );
  const tsHead = toHex(encodeCbor('timestamp')) + '1b';
  const at = hexGood.indexOf(tsHead) + tsHead.length - 2;
  const float = Buffer.alloc(8);
  float.writeDoubleBE(base.timestamp + 0.5);
  assert.equal(toHex(asMap(ORDER)), hexGood); // the helper spells the genuine payload exactly
  const cases: Array<[string, Uint8Array]> = [
    ['reordered keys', asMap(['digest', ...ORDER.filter((k) => k !== 'digest')])],
    ['extra key', asMap([...ORDER, 'extra'], { extra: 1 })],
    ['missing nonce', asMap(ORDER.slice(0, 8))],
    ['duplicate key', dup],
    [
      'timestamp in shortest form',
      Buffer.from(Buffer.from(small).toString('hex').replace('1b00000000000003e8', '1903e8'), 'hex'),
    ],
    ['float timestamp', fromHex(hexGood.slice(0, at) + 'fb' + float.toString('hex') + hexGood.slice(at + 18))],
    ['tagged value', Buffer.from(hexGood.replace(/^a9/, 'c0a9'), 'hex')],
    ['indefinite map', Buffer.from(hexGood.replace(/^a9/, 'bf') + 'ff', 'hex')],
    ['pcr of 32 bytes', asMap(ORDER, { pcrs: new Map([...base.pcrs].map(([i, b]) => [i, b.subarray(0, 32)])) })],
    ['digest SHA256', asMap(ORDER, { digest: 'SHA256' })],
    ['PCR15 missing', asMap(ORDER, { pcrs: new Map([...base.pcrs].filter(([i]) => i !== 15)) })],
    ['1025-byte nonce', asMap(ORDER, { nonce: new Uint8Array(1025) })],
    ['empty cabundle', asMap(ORDER, { cabundle: [] })],
    ['text user_data', asMap(ORDER, { user_data: 'hello' })],
  ];
  assert.deepEqual(decodeAttestationPayload(small).timestamp, 1000);
  for (const [what, bytes] of cases)
    assert.throws(
      () => decodeAttestationPayload(bytes),
      (e: unknown) => isVerifierError(e, 'ATTESTATION_MALFORMED'),
      what,
    );
});
