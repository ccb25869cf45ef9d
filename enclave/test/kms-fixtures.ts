/** Shared fixtures for the KMS tests: a simulated enclave whose attestation carries an ephemeral RSA key. */
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { SimulatedNsm } from '../dev/nsm/simulator.ts';
import { createTestPki, type TestPki } from '../dev/nsm/test-pki.ts';

export const ACCOUNT = '111122223333';
export const ENCLAVE_ROLE = `arn:aws:iam::${ACCOUNT}:role/keycast-enclave`;
export const ADMIN = `arn:aws:iam::${ACCOUNT}:role/key-admin`;
export const pcrHex = () => randomBytes(48).toString('hex');

export interface Enclave {
  pcr0: string;
  privateKey: KeyObject;
  spki: Uint8Array;
  attest(): Promise<Uint8Array>;
}

/** An enclave measuring `pcr0` under `pki`, with a fresh RSA-2048 key in each document. */
export function enclave(pki: TestPki, pcr0: string = pcrHex(), clock?: () => number): Enclave {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const spki = new Uint8Array(publicKey.export({ type: 'spki', format: 'der' }));
  const nsm = new SimulatedNsm({ pki, pcrs: { pcr0, pcr1: pcrHex(), pcr2: pcrHex() }, ...(clock ? { clock } : {}) });
  return { pcr0, privateKey, spki, attest: () => nsm.attestation({ publicKey: spki }) };
}

/** Admins administer, the enclave role decrypts only as an attested PCR0 in `pcr0s`. */
export function attestedPolicy(pcr0s: string[], opts: { enclaveRole?: string; admin?: string } = {}): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'Admins',
        Effect: 'Allow',
        Principal: { AWS: opts.admin ?? ADMIN },
        Action: ['kms:PutKeyPolicy', 'kms:GetKeyPolicy', 'kms:DescribeKey'],
        Resource: '*',
      },
      {
        Sid: 'EnclaveAttested',
        Effect: 'Allow',
        Principal: { AWS: opts.enclaveRole ?? ENCLAVE_ROLE },
        Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
        Resource: '*',
        Condition: { StringEqualsIgnoreCase: { 'kms:RecipientAttestation:ImageSha384': pcr0s } },
      },
    ],
  });
}

export { createTestPki };
