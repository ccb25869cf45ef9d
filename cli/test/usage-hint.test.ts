/**
 * A usage error points to the help once: "(see --help)" is added only when the message does not
 * already name a --help of its own (issue #18: `verify attestation` printed it twice).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { main } from '../main.ts';

async function stderrOf(argv: string[]): Promise<{ code: number; err: string }> {
  const lines: string[] = [];
  const orig = console.error;
  console.error = (...a: unknown[]) => void lines.push(a.join(' '));
  try {
    const code = await main(argv);
    return { code, err: lines.join('\n') };
  } finally {
    console.error = orig;
  }
}

test('a usage error that names its own help gets no second "(see --help)"', async () => {
  const r = await stderrOf(['verify', 'attestation', 'a.cbor', 'b.cbor']);
  assert.equal(r.code, 2);
  assert.equal(r.err, 'keycast: expected exactly one DOC (see keycast verify attestation --help)');
});

test('any other usage error still points to --help, once', async () => {
  const r = await stderrOf(['verify', 'attestation', '--no-such-flag']);
  assert.equal(r.code, 2);
  assert.match(r.err, /^keycast: Unknown option '--no-such-flag'.* \(see --help\)$/s);
  assert.equal(r.err.split('--help').length, 2);
});
