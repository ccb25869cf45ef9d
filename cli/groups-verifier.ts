/**
 * The verifier's command group: every command a studio runs with the verifier alone. The full
 * `keycast` registers it among the others (groups.ts); the studio package `@keycast/verifier`
 * registers only this one (scripts/build-verifier-package.mjs bundles cli/studio.ts with
 * groups.ts swapped for this file), so both answer from one table.
 */
import { group } from './registry.ts';

group(
  ['verify', 'monitor', 'rules', 'seal', 'forward', 'kdm', 'dkdm', 'raw', 'receipt'],
  () => import('../verifier/cli.ts'),
  [
    ['verify attestation', 'verify an AWS Nitro attestation document (chain to the AWS root, signature, PCR policy)'],
    ['verify release', 'verify a release: log checkpoint, inclusion, Sigstore bundle, publisher, status, rebuilds'],
    ['verify bundle', 'verify any Sigstore bundle for a file or digest, by signer identity (keyless) or public key'],
    ['verify enclave', 'attest a live enclave with a fresh nonce and prove it runs a logged, active release'],
    ['monitor', 'follow a log and alarm on forks, split views, bad entries and lying status statements'],
    ['rules sign', 'sign forwarding rules (strict JSON schema) as a DSSE envelope with the studio key'],
    [
      'rules endorse',
      "endorse signed rules with the DKDM signer's key, so the enclave takes that DKDM's keys under them",
    ],
    ['seal', "seal a film's content keys to an attested forwarding enclave, bound to the studio's signed rules"],
    [
      'forward',
      'forward sealed content keys through the host to the attested enclave: one KDM per recipient and a verified receipt',
    ],
    ['dkdm check', "say offline whether an attested enclave will accept a DKDM under the studio's rules, and why not"],
    ['kdm inspect', 'show a KDM: recipient, CPL, window, keys, signature and signer chain; decrypt with --key'],
    ['kdm logged', 'prove a KDM is on the record: its delivery proof, the logged delivery entry and its inclusion'],
    [
      'raw open',
      "open a raw delivery (raw-hpke or raw-rsa-oaep) with the receiver's key, checking it is for this receiver",
    ],
    ['receipt verify', "verify a forwarding receipt (enclave's signature) and, optionally, one delivery's inclusion"],
  ],
);
