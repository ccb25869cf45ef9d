/**
 * EIF parsing from the attacker's side: every truncation and random corruption of a real
 * image, and random bytes, end in a coded VerifierError (EIF_MALFORMED / EIF_UNSUPPORTED /
 * EIF_CRC) or a result whose CRC check fails — never an uncoded exception. Round trips of
 * random sections through writer → reader give back the same sections.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isVerifierError } from '../index.ts';
import { describeEif, parseEif, scanEif, writeEif, type EifMetadata } from '../build.ts';
import { vec } from './eif-fixtures.ts';

const coded = (e: unknown) =>
  isVerifierError(e, 'EIF_MALFORMED') || isVerifierError(e, 'EIF_UNSUPPORTED') || isVerifierError(e, 'EIF_CRC');
const MD: EifMetadata = {
  ImageName: 'f',
  ImageVersion: '1',
  BuildMetadata: { BuildTime: 't', BuildTool: 'k', BuildToolVersion: '0', OperatingSystem: 'o', KernelVersion: 'k' },
  DockerInfo: null,
  CustomMetadata: null,
};

test('every truncation of a real EIF is EIF_MALFORMED', () => {
  const good = vec('synthetic-x86_64.eif');
  for (let n = 0; n < good.length; n += 7) {
    assert.throws(
      () => describeEif(good.subarray(0, n)),
      (e) => isVerifierError(e, 'EIF_MALFORMED'),
      `cut at ${n}`,
    );
  }
  assert.throws(
    () => describeEif(new Uint8Array([...good, 0])),
    (e) => isVerifierError(e, 'EIF_MALFORMED'),
    'one extra byte',
  );
});

test('random corruption: coded error or CheckCRC false, never a crash', () => {
  const good = vec('synthetic-x86_64.eif');
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 0, max: good.length - 1 }), fc.integer({ min: 1, max: 255 })), {
        minLength: 1,
        maxLength: 4,
      }),
      (flips) => {
        const b = good.slice();
        for (const [at, x] of flips) b[at] = b[at]! ^ x;
        try {
          const d = describeEif(b);
          const onlyCrcField = flips.every(([at]) => at >= 544 && at < 548);
          assert.equal(d.CheckCRC, false, onlyCrcField ? 'crc field flipped' : 'content flipped');
        } catch (e) {
          assert.ok(coded(e), String(e));
        }
      },
    ),
    { numRuns: 1000 },
  );
});

test('random bytes and random headers are refused with codes', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 2000 }), (b) => {
      try {
        scanEif(b);
        assert.fail('accepted random bytes');
      } catch (e) {
        assert.ok(coded(e), String(e));
      }
    }),
    { numRuns: 300 },
  );
  const head = vec('synthetic-x86_64.eif').subarray(0, 8);
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 540, maxLength: 3000 }), (tail) => {
      try {
        scanEif(new Uint8Array([...head, ...tail]));
      } catch (e) {
        assert.ok(coded(e), String(e));
      }
    }),
    { numRuns: 300 },
  );
});

test('writer → reader round trip: same sections, same PCRs, CRC valid', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 500 }),
      fc.string({ maxLength: 80 }),
      fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 1, maxLength: 4 }),
      fc.constantFrom('x86_64', 'aarch64' as const),
      (kernel, cmdline, ramdisks, arch) => {
        const { bytes, pcrs } = writeEif({ arch: arch as 'x86_64', kernel, cmdline, metadata: MD, ramdisks });
        const p = parseEif(bytes);
        assert.deepEqual(Buffer.from(p.kernel), Buffer.from(kernel));
        assert.equal(p.cmdline, cmdline);
        assert.deepEqual(
          p.ramdisks.map((r) => Buffer.from(r)),
          ramdisks.map((r) => Buffer.from(r)),
        );
        assert.equal(p.arch, arch);
        assert.deepEqual(p.metadata, MD);
        assert.deepEqual(scanEif(bytes).pcrs, pcrs);
      },
    ),
    { numRuns: 200 },
  );
});
