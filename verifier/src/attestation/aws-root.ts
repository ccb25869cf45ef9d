/**
 * The pinned AWS Nitro Enclaves Root G1 certificate (CN=aws.nitro-enclaves, commercial
 * partition), notes/nitro.md §3.4: 533 bytes of DER, SHA-256 fingerprint
 * 641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b, valid 2019-10-28 → 2049-10-28.
 * Byte-identical to hf/nitrite DefaultCARoots, evervault src/nitro.pem and tkhq/qos
 * aws_root_cert.pem; AWS publishes it at
 * https://aws-nitro-enclaves.amazonaws.com/AWS_NitroEnclaves_Root-G1.zip (the ZIP's own hash,
 * 8cf60e2b…, is NOT the certificate's). The module checks the fingerprint when it loads.
 */
import { createHash } from 'node:crypto';

export const AWS_NITRO_ROOT_G1_SHA256 = '641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b';

const DER_BASE64 =
  'MIICETCCAZagAwIBAgIRAPkxdWgbkK/hHUbMtOTn+FYwCgYIKoZIzj0EAwMwSTELMAkGA1UEBhMCVVMxDzANBgNVBAoMBkFtYXpvbjEMMAoGA1UECwwDQVdTMRswGQYDVQQDDBJhd3Mubml0cm8tZW5jbGF2ZXMwHhcNMTkxMDI4MTMyODA1WhcNNDkxMDI4MTQyODA1WjBJMQswCQYDVQQGEwJVUzEPMA0GA1UECgwGQW1hem9uMQwwCgYDVQQLDANBV1MxGzAZBgNVBAMMEmF3cy5uaXRyby1lbmNsYXZlczB2MBAGByqGSM49AgEGBSuBBAAiA2IABPwCVOumCMHzaHDimtqQvkY4MpJzbolL//Zy2YlES1BR5TSksfbb48C8WBoyt7F2Bw7eEtaaP+ohG2bnUs990d0JX28TcPQXCEPZ3BABIeTPYwEoCWZEh8l5YoQwTcU/9KNCMEAwDwYDVR0TAQH/BAUwAwEB/zAdBgNVHQ4EFgQUkCW1DdkFR+eWw5b6cp3PmanfS5YwDgYDVR0PAQH/BAQDAgGGMAoGCCqGSM49BAMDA2kAMGYCMQCjfy+Rocm9Xue4YnwWmNJVA44fA0P5W2OpYow9OYCVRaEevL8uO1XYru5xtMPWrfMCMQCi85sWBbJwKKXdS6BptQFuZbT73o/gBh1qUxl/nNr12UO8Yfwr6wPLb+6NIwLz3/Y=';

/** DER of the AWS Nitro Enclaves Root G1 (a fresh copy per call, so callers cannot alter the pin). */
export function awsNitroRootG1(): Uint8Array {
  return new Uint8Array(PINNED);
}

const PINNED = new Uint8Array(Buffer.from(DER_BASE64, 'base64'));
if (createHash('sha256').update(PINNED).digest('hex') !== AWS_NITRO_ROOT_G1_SHA256)
  throw new Error('aws-root.ts: embedded AWS Nitro root does not match its pinned fingerprint');
