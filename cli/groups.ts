/**
 * Which folder answers which words, and the static command table `keycast --help` prints
 * without loading any module. Each folder adds its lines when its CLI lands; the summaries
 * must equal the commands' own (cli/test/table.test.ts).
 */
import { group } from './registry.ts';
// the verifier's group (verify, monitor, rules, seal, forward, kdm, raw, receipt) is its own file:
// the studio package registers it alone
import './groups-verifier.ts';

const logServer = () => import('../log-server/cli.ts');
group(['log', 'witness'], logServer, [
  ['log init', 'create a log database and its Ed25519 checkpoint key'],
  ['log serve', 'serve the log over HTTP (add-entry, tiles, lookups, proofs)'],
  ['log vkey', "print the log's verifier key"],
  ['log migrate', 'move a SQLite log into an empty PostgreSQL database, byte for byte'],
  ['witness serve', 'run a c2sp.org/tlog-witness that cosigns consistent checkpoints of the given logs'],
  ['witness vkey', "print the witness's cosignature verifier key"],
]);
group(['build', 'describe-eif', 'diff-eif', 'release', 'endorse'], () => import('../builder/cli.ts'), [
  ['build', 'build a byte-reproducible EIF from pinned inputs'],
  ['describe-eif', "print an EIF's measurements and metadata as nitro-cli describe-eif does"],
  ['diff-eif', 'explain why two EIFs differ (sections, PCRs, files in the ramdisks)'],
  ['release keygen', 'create an ECDSA P-256 release signing key'],
  ['release sign', 'sign a release statement (PCRs, source, lock) into a Sigstore bundle'],
  ['release publish', 'submit a signed bundle to a Keycast log and write back its tlog entry'],
  ['release revoke', 'sign and publish a revocation of a logged release'],
  ['release attest-rebuild', 'deprecated name of keycast endorse'],
  ['endorse', 'sign (and publish) a rebuild endorsement: "I rebuilt this source and got these PCRs"'],
]);
// enclave/ in its rooms: keycast loads only the room a command lives in, so the image's
// `enclave run` loads the runtime alone (test/enclave-image-closure.test.ts); `--nsm sim` is the
// development tools' (they hold the simulator)
const enclaveDev = () => import('../enclave/dev/cli.ts');
const enclaveAll = () => import('../enclave/cli.ts'); // kms-policy (its module lists it with the rest)
group(['nsm', 'dev-kms', 'dev'], enclaveDev, [
  ['nsm describe', 'Describe the NSM and every PCR (device or simulator)'],
  ['nsm attest', 'Get a signed attestation document from the NSM (device or simulator)'],
  ['nsm test-pki init', 'Create a simulator test PKI (AWS-shaped P-384 chain under a NEW, untrusted test root)'],
  ['nsm test-pki renew', 'Reissue the test PKI intermediates (same root) so they are valid from now'],
  ['dev-kms', 'A local KMS speaking the real KMS JSON 1.1 protocol, enforcing RecipientAttestation policies'],
]);
group(['kms-policy'], enclaveAll, [
  [
    'kms-policy',
    'Print a KMS key policy that lets only the logged, active releases decrypt (read through the verified log)',
  ],
]);
group(['enclave'], () => import('../enclave/runtime/cli.ts'), [
  [
    'enclave run',
    'Run the enclave service: fail-closed boot gate, KMS-sealed identity, the enclave API',
    { when: simulatedNsm, load: enclaveDev },
  ],
]);
group(['host'], () => import('../enclave/host/cli.ts'), [
  ['host run', 'Run the parent-instance host: proofs from the log, sealed-artefact store, public API'],
]);
group(['dev'], enclaveDev, [
  ['dev certs', 'generate realistic ST 430-2 projector chains (maker root → SM CA → SM leaves) for tests and demos'],
]);
group(['kms-policy'], enclaveAll, [
  [
    'kms-policy check',
    'Audit a KMS key policy: flag every statement that reaches a decrypt path without a RecipientAttestation condition',
  ],
]);
group(['demo'], () => import('./demo.ts'), [
  ['demo', 'run the whole Keycast story locally (build, log, witness, sign, attest, verify, forward, revoke)'],
]);
group([], () => import('./aliases.ts'), [['release verify', 'deprecated name of keycast verify release --bundle']]);
group([], () => import('./verify-rebuild.ts'), [
  ['verify rebuild', 'rebuild an enclave image from its lock and compare PCR0/1/2 with the logged release'],
]);

/** `--nsm sim` or `--nsm=sim` anywhere in argv: the command then runs with the dev tools' simulator. */
function simulatedNsm(argv: readonly string[]): boolean {
  return argv.some((a, i) => a === '--nsm=sim' || (a === '--nsm' && argv[i + 1] === 'sim'));
}
