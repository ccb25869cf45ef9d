/**
 * The EIF v4 metadata section (IMGFMT src/defs/mod.rs `EifIdentityInfo`/`EifBuildInfo`;
 * exact bytes in testdata/nitro/eif/*.json): compact `serde_json::to_vec` of
 *   {"ImageName","ImageVersion","BuildMetadata":{"BuildTime","BuildTool","BuildToolVersion",
 *    "OperatingSystem","KernelVersion"},"DockerInfo":<Value>,"CustomMetadata":<Value>}
 * Struct fields keep declaration order; `serde_json::Value` objects (DockerInfo,
 * CustomMetadata) are BTreeMaps, so their keys come out sorted bytewise (UTF-8).
 * Limitation: JS numbers cannot tell `2.0` from `2`; integral floats are written as `2`.
 * The metadata is not measured, but it changes the file bytes and the CRC.
 */
import { compareUtf8 } from '../../src/encoding/bytes.ts';
import { VerifierError } from '../../src/errors.ts';
import { MAX_JSON_DEPTH, jsonStructure } from '../../src/encoding/canonical-json.ts';

export interface EifBuildInfo {
  BuildTime: string;
  BuildTool: string;
  BuildToolVersion: string;
  OperatingSystem: string;
  KernelVersion: string;
}

export interface EifMetadata {
  ImageName: string;
  ImageVersion: string;
  BuildMetadata: EifBuildInfo;
  DockerInfo: unknown;
  CustomMetadata: unknown;
}

/** Keycast's fixed build info: no clock, no host facts (the build time is the Unix epoch). */
export const FIXED_BUILD_TIME = '1970-01-01T00:00:00+00:00';

/** serde_json-compatible compact serialisation of a JSON value with sorted object keys. */
export function serdeJson(v: unknown): string {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new TypeError('serdeJson: non-finite number');
    return JSON.stringify(v);
  }
  if (Array.isArray(v)) return `[${v.map(serdeJson).join(',')}]`;
  if (typeof v === 'object') {
    const keys = Object.keys(v as object).sort(compareUtf8);
    return `{${keys.map((k) => `${JSON.stringify(k)}:${serdeJson((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  throw new TypeError(`serdeJson: cannot serialise ${typeof v}`);
}

/** The exact metadata section bytes for `m`. */
export function encodeMetadata(m: EifMetadata): Uint8Array {
  const b = m.BuildMetadata;
  const s =
    '{' +
    [
      `"ImageName":${JSON.stringify(m.ImageName)}`,
      `"ImageVersion":${JSON.stringify(m.ImageVersion)}`,
      `"BuildMetadata":{"BuildTime":${JSON.stringify(b.BuildTime)},"BuildTool":${JSON.stringify(b.BuildTool)},` +
        `"BuildToolVersion":${JSON.stringify(b.BuildToolVersion)},"OperatingSystem":${JSON.stringify(b.OperatingSystem)},` +
        `"KernelVersion":${JSON.stringify(b.KernelVersion)}}`,
      `"DockerInfo":${serdeJson(m.DockerInfo ?? null)}`,
      `"CustomMetadata":${serdeJson(m.CustomMetadata ?? null)}`,
    ].join(',') +
    '}';
  return new Uint8Array(Buffer.from(s, 'utf8'));
}

const STR_FIELDS = ['ImageName', 'ImageVersion'] as const;
const BUILD_FIELDS = ['BuildTime', 'BuildTool', 'BuildToolVersion', 'OperatingSystem', 'KernelVersion'] as const;

// ignoreBOM: a leading U+FEFF stays in the text, so JSON.parse refuses it as serde_json does.
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Parses a metadata section as the reader does (serde_json::from_slice), as strictly: nesting
 * deeper than serde_json's recursion limit (128) and a key repeated within one object (serde's
 * derived structs refuse a duplicate field) are refused rather than overflowing the stack or
 * letting the last one win. EIF_MALFORMED, with the reason in the evidence.
 */
export function decodeMetadata(bytes: Uint8Array): EifMetadata {
  let v: unknown;
  let text: string;
  try {
    text = STRICT_UTF8.decode(bytes);
    v = JSON.parse(text);
  } catch (e) {
    throw new VerifierError(
      'EIF_MALFORMED',
      'metadata section is not UTF-8 JSON',
      { size: bytes.length },
      { cause: e },
    );
  }
  const shape = jsonStructure(text);
  if (shape.tooDeep)
    throw new VerifierError('EIF_MALFORMED', `metadata section nests deeper than ${MAX_JSON_DEPTH} levels`, {
      size: bytes.length,
      reason: 'depth',
      limit: MAX_JSON_DEPTH,
    });
  if (shape.duplicateKey !== undefined) {
    throw new VerifierError('EIF_MALFORMED', 'metadata section repeats a key within one object', {
      size: bytes.length,
      reason: 'duplicate key',
      key: shape.duplicateKey.slice(0, 200),
    });
  }
  const o = v as Record<string, unknown>;
  const bm = (o && typeof o === 'object' ? o.BuildMetadata : undefined) as Record<string, unknown> | undefined;
  const ok =
    o &&
    typeof o === 'object' &&
    !Array.isArray(o) &&
    STR_FIELDS.every((k) => typeof o[k] === 'string') &&
    bm &&
    typeof bm === 'object' &&
    BUILD_FIELDS.every((k) => typeof bm[k] === 'string');
  if (!ok)
    throw new VerifierError('EIF_MALFORMED', 'metadata section lacks the EifIdentityInfo fields', {
      size: bytes.length,
    });
  return {
    ImageName: o.ImageName as string,
    ImageVersion: o.ImageVersion as string,
    BuildMetadata: Object.fromEntries(BUILD_FIELDS.map((k) => [k, bm[k]])) as unknown as EifBuildInfo,
    DockerInfo: o.DockerInfo ?? null,
    CustomMetadata: o.CustomMetadata ?? null,
  };
}
