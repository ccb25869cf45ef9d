/**
 * EIF v4 against the synthetic vectors built by AWS's reference image-format code
 * (testdata/nitro/eif/*.json): header, offsets, sizes, CRC, metadata bytes and
 * PCRs; byte-for-byte reproduction from the inputs; describe-eif's JSON shape.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { isVerifierError } from '../index.ts';
import {
  SectionType,
  crc32Combine,
  crc32,
  describeEif,
  encodeMetadata,
  eifCrc32,
  measureEif,
  parseEif,
  pcrOf,
  scanEif,
  writeEif,
  decodeMetadata,
  serdeJson,
  EifMeasurer,
  EifScanner,
} from '../build.ts';
import { bootstrapFromInputs, customerFromInputs, sidecar, vec } from './eif-fixtures.ts';

const CASES = [
  {
    file: 'synthetic-x86_64',
    arch: 'x86_64' as const,
    cmdline: 'cmdline-x86_64.txt',
    ramdisks: () => [bootstrapFromInputs(), customerFromInputs()],
  },
  {
    file: 'synthetic-aarch64-1ramdisk',
    arch: 'aarch64' as const,
    cmdline: 'cmdline-aarch64.txt',
    ramdisks: () => [bootstrapFromInputs()],
  },
];

for (const c of CASES) {
  const s = sidecar(`${c.file}.json`);
  const bytes = vec(`${c.file}.eif`);

  test(`${c.file}: header, offsets, sizes, CRC and PCRs match the sidecar`, () => {
    const p = parseEif(bytes);
    assert.equal(p.header.version, s.header.version);
    assert.equal(p.header.flags, s.header.flags);
    assert.equal(p.header.defaultMem, Number(s.header.default_mem));
    assert.equal(p.header.defaultCpus, Number(s.header.default_cpus));
    assert.equal(p.header.numSections, s.header.num_sections);
    assert.deepEqual(p.header.sectionOffsets, s.section_offsets);
    assert.deepEqual(p.header.sectionSizes, s.section_sizes);
    assert.equal(p.header.crc32.toString(16).padStart(8, '0'), s.eif_crc32_hex);
    assert.equal(eifCrc32(bytes).toString(16).padStart(8, '0'), s.eif_crc32_hex);
    assert.deepEqual(
      p.sections.map((x) => ({ type: x.type, flags: 0, size: x.size, hdr_off: x.offset })),
      s.sections_in_file_order,
    );
    assert.equal(p.arch, c.arch);
    const m = measureEif(bytes);
    assert.equal(m.pcr0, s.expected_measurements.PCR0);
    assert.equal(m.pcr1, s.expected_measurements.PCR1);
    assert.equal(m.pcr2, s.expected_measurements.PCR2);
    assert.equal(m.pcr8, undefined);
    assert.equal(m.sha256, s.sha256);
    assert.equal(Buffer.from(p.sections[2]!.data).toString('utf8'), s.metadata_json_exact);
  });

  test(`${c.file}: rebuilt byte for byte from its inputs`, () => {
    const md = decodeMetadata(new Uint8Array(Buffer.from(s.metadata_json_exact)));
    const { bytes: out, pcrs } = writeEif({
      arch: c.arch,
      kernel: vec('kernel.fake'),
      cmdline: Buffer.from(vec(c.cmdline)).toString('utf8').trim(),
      metadata: md,
      ramdisks: c.ramdisks(),
    });
    assert.equal(createHash('sha256').update(out).digest('hex'), s.sha256);
    assert.equal(out.length, s.length);
    assert.equal(pcrs.pcr0, s.expected_measurements.PCR0);
  });

  test(`${c.file}: describe-eif prints what nitro-cli prints`, () => {
    const d = describeEif(bytes);
    const ref = s.reference_tool_describe_output;
    assert.deepEqual(d.Measurements, ref.Measurements);
    assert.equal(d.EifVersion, ref.EifVersion);
    assert.equal(d.CheckCRC, true);
    assert.equal(d.IsSigned, false);
    assert.equal(d.ImageName, ref.Metadata.ImageName);
    assert.equal(d.ImageVersion, ref.Metadata.ImageVersion);
    assert.deepEqual(d.Metadata, { ...ref.Metadata.BuildMetadata, DockerInfo: null });
  });
}

test('PCR of empty content and pcrOf match pcr-formulas', () => {
  assert.equal(
    pcrOf(new Uint8Array(0)),
    '21b9efbc184807662e966d34f390821309eeac6802309798826296bf3e8bec7c10edb30948c90ba67310f7b964fc500a',
  );
});

test('the incremental measurer gives the same PCRs for any chunking', () => {
  const bytes = vec('synthetic-x86_64.eif');
  const want = measureEif(bytes);
  for (const size of [1, 7, 512, 4096]) {
    const s = new EifScanner();
    for (let i = 0; i < bytes.length; i += size) s.push(bytes.subarray(i, i + size));
    const got = s.finish();
    assert.deepEqual(got.pcrs, { pcr0: want.pcr0, pcr1: want.pcr1, pcr2: want.pcr2 });
    assert.equal(got.crcOk, true);
  }
  const m = new EifMeasurer();
  m.begin(SectionType.Kernel);
  for (const b of vec('kernel.fake')) m.update(new Uint8Array([b]));
  m.begin(SectionType.Cmdline);
  m.update(vec('cmdline-aarch64.txt'));
  m.begin(SectionType.Metadata);
  m.update(new Uint8Array([1, 2, 3])); // not measured
  m.begin(SectionType.Ramdisk);
  m.update(vec('ramdisk0.linuxkit.cpio'));
  assert.equal(m.digest().pcr0, sidecar('synthetic-aarch64-1ramdisk.json').expected_measurements.PCR0);
});

test('crc32Combine equals the CRC of the concatenation', () => {
  const a = vec('kernel.fake');
  const b = vec('ramdisk1.gnu.cpio');
  assert.equal(crc32Combine(crc32(a), crc32(b), b.length), crc32(Buffer.concat([a, b])));
  assert.equal(crc32Combine(crc32(a), crc32(new Uint8Array(0)), 0), crc32(a));
});

test('metadata: sorted keys in DockerInfo/CustomMetadata, struct order elsewhere', () => {
  assert.equal(serdeJson({ b: 1, a: [{ z: null, B: 'x' }], A: true }), '{"A":true,"a":[{"B":"x","z":null}],"b":1}');
  const md = {
    ImageName: 'n',
    ImageVersion: 'v',
    BuildMetadata: { BuildTime: 't', BuildTool: 'k', BuildToolVersion: '1', OperatingSystem: 'o', KernelVersion: 'kv' },
    DockerInfo: null,
    CustomMetadata: { y: 2, x: 1 },
  };
  const enc = Buffer.from(encodeMetadata(md)).toString();
  assert.ok(enc.startsWith('{"ImageName":"n","ImageVersion":"v","BuildMetadata":{"BuildTime":"t"'));
  assert.ok(enc.endsWith('"CustomMetadata":{"x":1,"y":2}}'));
  assert.deepEqual(decodeMetadata(encodeMetadata(md)), md);
});

test('a flipped data byte is a CRC mismatch: parseEif refuses, describe reports CheckCRC false', () => {
  const bad = vec('synthetic-x86_64.eif').slice();
  bad[600] = bad[600]! ^ 0x01; // inside the kernel data: PCRs unchanged
  assert.throws(
    () => parseEif(bad),
    (e) => isVerifierError(e, 'EIF_CRC'),
  );
  const d = describeEif(bad);
  assert.equal(d.CheckCRC, false);
  assert.equal(scanEif(bad).crcOk, false);
});

test('malformed headers are coded errors with the offset', () => {
  const good = vec('synthetic-x86_64.eif');
  const cases: Array<[string, (b: Uint8Array) => void, string]> = [
    [
      'magic',
      (b) => {
        b[0] = 0x00;
      },
      'EIF_MALFORMED',
    ],
    [
      'version 9',
      (b) => {
        b[5] = 9;
      },
      'EIF_UNSUPPORTED',
    ],
    [
      'num_sections 33',
      (b) => {
        b[27] = 33;
      },
      'EIF_MALFORMED',
    ],
    [
      'num_sections 4',
      (b) => {
        b[27] = 4;
      },
      'EIF_MALFORMED',
    ],
    [
      'offset moved',
      (b) => {
        b[28 + 8 + 7] = 0;
      },
      'EIF_MALFORMED',
    ],
    [
      'section type 6',
      (b) => {
        b[548 + 1] = 6;
      },
      'EIF_MALFORMED',
    ],
    [
      'section size huge',
      (b) => {
        b[548 + 4] = 0xff;
      },
      'EIF_MALFORMED',
    ],
  ];
  for (const [name, mutate, code] of cases) {
    const b = good.slice();
    mutate(b);
    assert.throws(
      () => scanEif(b),
      (e) => isVerifierError(e, code as 'EIF_MALFORMED'),
      name,
    );
  }
});
