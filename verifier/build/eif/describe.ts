/**
 * `nitro-cli describe-eif` output (CLI src/lib.rs `describe_eif`, src/common/json_output.rs
 * `EifDescribeInfo`; the reference output is in testdata/nitro/eif/*.json): EifVersion, Measurements
 * {HashAlgorithm, PCR0, PCR1, PCR2, [PCR8]}, IsSigned, [SigningCertificate], CheckCRC,
 * [SignatureCheck], ImageName, ImageVersion, Metadata {BuildTime, BuildTool,
 * BuildToolVersion, OperatingSystem, KernelVersion, DockerInfo, …custom metadata flattened}.
 * HashAlgorithm is the sha2 0.9 Debug string nitro-cli's docs show.
 */
import { X509Certificate } from 'node:crypto';
import { scanEif, type EifScan } from './scan.ts';

export const HASH_ALGORITHM = 'Sha384 { ... }';

export interface EifDescription {
  EifVersion: number;
  Measurements: { HashAlgorithm: string; PCR0: string; PCR1: string; PCR2: string; PCR8?: string };
  IsSigned: boolean;
  SigningCertificate?: {
    IssuerName: string;
    Algorithm: string;
    NotBefore: string;
    NotAfter: string;
    Signature: string;
  };
  CheckCRC: boolean;
  SignatureCheck?: boolean;
  ImageName?: string;
  ImageVersion?: string;
  Metadata?: Record<string, unknown>;
}

function certInfo(pem: string): NonNullable<EifDescription['SigningCertificate']> {
  const c = new X509Certificate(pem);
  return {
    IssuerName: c.issuer,
    Algorithm: c.publicKey.asymmetricKeyType ?? 'unknown',
    NotBefore: c.validFrom,
    NotAfter: c.validTo,
    Signature: c.fingerprint256,
  };
}

export function describeScan(scan: EifScan): EifDescription {
  const m: EifDescription['Measurements'] = {
    HashAlgorithm: HASH_ALGORITHM,
    PCR0: scan.pcrs.pcr0,
    PCR1: scan.pcrs.pcr1,
    PCR2: scan.pcrs.pcr2,
  };
  if (scan.pcrs.pcr8) m.PCR8 = scan.pcrs.pcr8;
  const d: EifDescription = {
    EifVersion: scan.header.version,
    Measurements: m,
    IsSigned: scan.signature !== undefined,
    CheckCRC: scan.crcOk,
  };
  if (scan.signature) {
    d.SigningCertificate = certInfo(scan.signature.certificatePem);
    d.SignatureCheck = scan.signatureOk === true;
  }
  if (scan.metadata) {
    const md = scan.metadata;
    d.ImageName = md.ImageName;
    d.ImageVersion = md.ImageVersion;
    const custom =
      md.CustomMetadata && typeof md.CustomMetadata === 'object' && !Array.isArray(md.CustomMetadata)
        ? (md.CustomMetadata as Record<string, unknown>)
        : {};
    d.Metadata = { ...md.BuildMetadata, DockerInfo: md.DockerInfo, ...custom };
  }
  return d;
}

/** Describes an in-memory EIF. Malformed files throw EIF_MALFORMED; a bad CRC is `CheckCRC: false`. */
export function describeEif(bytes: Uint8Array): EifDescription {
  return describeScan(scanEif(bytes));
}
