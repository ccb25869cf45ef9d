/**
 * The coded-error base every folder instantiates: the message is prose without the code, the
 * JSON view hex-encodes byte evidence, `cause` chains, and text output puts the code in front once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CodedError, VerifierError, errorText, isVerifierError } from '../index.ts';

test('a coded error keeps code, prose message, public evidence and cause apart', () => {
  const cause = new Error('underlying');
  const e = new VerifierError(
    'PCR_MISMATCH',
    'PCR0 differs',
    { pcr: 0, got: Uint8Array.of(0xab, 0x01), seen: [Uint8Array.of(1), 2] },
    { cause },
  );
  assert.ok(e instanceof CodedError && e instanceof Error && isVerifierError(e, 'PCR_MISMATCH'));
  assert.equal(e.name, 'VerifierError');
  assert.equal(e.message, 'PCR0 differs'); // no "PCR_MISMATCH: " baked in for callers to strip
  assert.equal(e.cause, cause);
  assert.deepEqual(e.toJSON(), {
    error: 'VerifierError',
    code: 'PCR_MISMATCH',
    message: 'PCR0 differs',
    evidence: { pcr: 0, got: 'ab01', seen: ['01', 2] },
  });
  assert.equal(JSON.parse(JSON.stringify(e)).evidence.got, 'ab01');
  assert.equal(errorText(e), 'PCR_MISMATCH: PCR0 differs');
  assert.equal(errorText(new Error('plain')), 'plain');
  assert.equal(errorText('text'), 'text');
});

test('each folder instantiates the base with its own closed code union', () => {
  type Code = 'A_FAILED' | 'B_FAILED';
  class LocalError extends CodedError<Code> {
    override readonly name = 'LocalError';
  }
  const e = new LocalError('A_FAILED', 'a failed');
  assert.deepEqual(e.toJSON(), { error: 'LocalError', code: 'A_FAILED', message: 'a failed', evidence: {} });
  // @ts-expect-error a code outside the union is a type error
  assert.ok(new LocalError('C_FAILED', 'nope'));
});
