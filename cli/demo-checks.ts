/**
 * The demo's storyline: each step runs real `keycast` commands and records a check whose
 * outcome is decided by what the commands answered, never assumed.
 */
import { readFileSync } from 'node:fs';
import { LogClient } from '#verifier';
import type { Narrator, RunResult, Service } from './demo-steps.ts';

export interface Check { name: string; ok: boolean; detail: string }

interface Lookup { index: number; status: string; entry: string; proof: string }

export interface DemoContext {
  say: Narrator;
  p(...s: string[]): string;
  services: Service[];
  writeInputs(dir: string, variant: string): void;
  buildArgs(inputs: string, out: string): string[];
  ORIGIN: string;
  SOURCE: string;
  keycast(args: string[]): Promise<RunResult>;
  keycastOk(args: string[]): Promise<RunResult>;
  startService(args: string[]): Promise<Service>;
  freePort(): Promise<number>;
  gate(lookup: Lookup, logVkey: string, witnessVkey: string, pcr0: string): string;
  /** A cosignature key of a witness that never saw this log. */
  otherWitnessVkey: string;
}

/** The error code a refused `--json` command printed, or '' when none. */
function errorCode(r: RunResult): string {
  try { return String((JSON.parse(r.stdout) as { code?: unknown }).code ?? ''); } catch { return ''; }
}

export async function demoChecks(c: DemoContext): Promise<Check[]> {
  const { say, p } = c;
  const checks: Check[] = [];
  const check = (name: string, ok: boolean, detail: string): void => {
    checks.push({ name, ok, detail });
    say.say(`${ok ? '✓' : '✗'} ${detail}`);
  };

  say.step('Build the enclave image from pinned inputs, twice');
  c.writeInputs(p('inputs'), 'v1');
  const b1 = JSON.parse((await c.keycastOk(c.buildArgs(p('inputs'), p('build')))).stdout) as { sha256: string; measurements: Record<string, string> };
  const pcr0 = b1.measurements.PCR0!;
  await c.keycastOk(['build', '--lock', p('build', 'builder.lock.json'), '--out', p('rebuild'), '--json']);
  const same = readFileSync(p('build', 'enclave.eif')).equals(readFileSync(p('rebuild', 'enclave.eif')));
  check('reproducible', same, `rebuilt from the lock file: ${same ? 'byte-identical' : 'DIFFERENT'} EIF, PCR0 ${pcr0.slice(0, 16)}…`);

  say.step('Start the transparency log and an independent witness');
  const logVkey = (await c.keycastOk(['log', 'init', '--data', p('log'), '--origin', c.ORIGIN])).stdout.trim().split('\n').pop()!.trim();
  say.say(`log verifier key: ${logVkey}`);
  const witness = await c.startService(['witness', 'serve', '--data', p('witness'), '--listen', `127.0.0.1:${await c.freePort()}`, '--log', logVkey, '--name', 'witness.demo.keycast.test']);
  c.services.push(witness);
  const witnessVkey = (await c.keycastOk(['witness', 'vkey', '--data', p('witness')])).stdout.trim();
  await c.keycastOk(['release', 'keygen', '--out', p('release.pem')]);
  const log = await c.startService(['log', 'serve', '--data', p('log'), '--listen', `127.0.0.1:${await c.freePort()}`,
    '--trust-signer', p('release.pem.pub'), '--witness', `${witnessVkey}=${witness.url}`]);
  c.services.push(log);
  const client = new LogClient({ url: log.url, fetch: globalThis.fetch, logKey: logVkey });
  const served = (await client.checkpoint()).checkpoint;
  check('log up', served.origin === c.ORIGIN && served.size === 0, `log at ${log.url} serves its empty checkpoint, signed by its key; witness ${witnessVkey.split('+')[0]} at ${witness.url}`);

  say.step('Sign the release into a Sigstore bundle and publish it to the log');
  await c.keycastOk(['release', 'sign', '--eif', p('build', 'enclave.eif'), '--source', c.SOURCE, '--lock', p('build', 'builder.lock.json'), '--key', p('release.pem'), '--out', p('release.bundle.json')]);
  const pub = JSON.parse((await c.keycastOk(['release', 'publish', '--log', log.url, p('release.bundle.json'), '--log-key', logVkey, '--json'])).stdout) as { index?: number };
  const verified = await c.keycast(['release', 'verify', p('release.bundle.json'), '--log-key', logVkey, '--public-key', p('release.pem.pub')]);
  check('published + sigstore', verified.code === 0, `entry ${pub.index ?? '?'}; stock @sigstore/verify with a trusted root naming the log: ${verified.code === 0 ? 'accepted' : `refused (${verified.stderr.trim()})`}`);

  say.step('The enclave boots: the simulated NSM attests to the measured image');
  await c.keycastOk(['nsm', 'test-pki', 'init', '--out', p('test-pki.json'), '--keys', 'issuing', '--root-out', p('test-root.pem')]);
  await c.keycastOk(['nsm', 'attest', '--sim', '--pki', p('test-pki.json'), '--pcrs', p('build', 'measurements.json'), '--nonce', 'ab'.repeat(16), '--out', p('attestation.cbor')]);
  const untrusted = await c.keycast(['verify', 'attestation', p('attestation.cbor'), '--json']);
  check('test root not trusted by default', untrusted.code === 1, `without --trust-root the document is refused: ${errorCode(untrusted) || `exit ${untrusted.code}`}`);
  await waitForCosignature(client, witnessVkey);
  const studio = await c.keycast(['verify', 'attestation', p('attestation.cbor'), '--trust-root', p('test-root.pem'), '--expect-pcr0', pcr0,
    '--nonce', 'ab'.repeat(16), '--max-age', '300', '--log', log.url, '--log-key', logVkey, '--witness', witnessVkey, '--max-checkpoint-age', '600', '--json']);
  check('studio verifies', studio.code === 0, `studio's check (chain, signature, PCR0, nonce, logged, witnessed, fresh, active): ${studio.code === 0 ? 'verified' : `refused ${errorCode(studio)}`}`);
  const unwitnessed = await c.keycast(['verify', 'attestation', p('attestation.cbor'), '--trust-root', p('test-root.pem'),
    '--log', log.url, '--log-key', logVkey, '--witness', c.otherWitnessVkey, '--json']);
  check('unwitnessed refused', unwitnessed.code === 1, `requiring a witness that never saw this log: ${unwitnessed.code === 1 ? `refused ${errorCode(unwitnessed)}` : 'ACCEPTED'}`);

  say.step('The enclave gate: logged, witnessed, fresh — with the verifier the studio uses');
  const lookup = await client.lookup('pcr0', pcr0);
  let gateOk = false;
  try {
    const verdict = c.gate(lookup!, logVkey, witnessVkey, pcr0);
    gateOk = verdict.startsWith('serve');
    check('gate serves', gateOk, verdict);
  } catch (e) {
    check('gate serves', false, `gate refused: ${(e as Error).message}`);
  }

  say.step('An operator swaps in modified code');
  c.writeInputs(p('inputs-evil'), 'v1 + exfiltration');
  const b2 = JSON.parse((await c.keycastOk(c.buildArgs(p('inputs-evil'), p('evil')))).stdout) as { measurements: Record<string, string> };
  const diff = await c.keycast(['diff-eif', p('build', 'enclave.eif'), p('evil', 'enclave.eif')]);
  const named = diff.code === 1 && diff.stdout.includes('forwarder.js');
  check('diff-eif explains', named, `diff-eif names the changed file: ${named ? 'rootfs/app/forwarder.js' : diff.stdout.trim().split('\n')[0]}`);
  await c.keycastOk(['nsm', 'attest', '--sim', '--pki', p('test-pki.json'), '--pcrs', p('evil', 'measurements.json'), '--out', p('evil.cbor')]);
  const evil = await c.keycast(['verify', 'attestation', p('evil.cbor'), '--trust-root', p('test-root.pem'), '--log', log.url, '--log-key', logVkey, '--json']);
  check('unlogged refused', evil.code === 1, `PCR0 ${b2.measurements.PCR0!.slice(0, 16)}… is not in the log: ${evil.code === 1 ? `refused ${errorCode(evil)}` : 'ACCEPTED'}`);
  const evilLookup = await client.lookup('pcr0', b2.measurements.PCR0!);
  check('gate refuses unlogged', evilLookup === null, `the gate has no proof to check, so the enclave would not serve`);

  say.step('The publisher revokes the release');
  await c.keycastOk(['release', 'revoke', '--log', log.url, '--index', String(lookup?.index ?? 0), '--reason', 'demo: key rotation', '--key', p('release.pem'), '--out', p('revocation.json')]);
  const after = await c.keycast(['verify', 'attestation', p('attestation.cbor'), '--trust-root', p('test-root.pem'), '--log', log.url, '--log-key', logVkey, '--json']);
  check('revoked refused', after.code === 1, `studio's check after revocation: ${after.code === 1 ? `refused ${errorCode(after)}` : 'ACCEPTED'}`);
  const revoked = await client.lookup('pcr0', pcr0);
  const verdict = revoked ? safeGate(c, revoked, logVkey, witnessVkey, pcr0) : 'refuse: not found';
  check('gate refuses revoked', verdict.startsWith('refuse'), verdict);
  return checks;
}

function safeGate(c: DemoContext, l: Lookup, logVkey: string, witnessVkey: string, pcr0: string): string {
  try { return c.gate(l, logVkey, witnessVkey, pcr0); } catch (e) { return `refuse: ${(e as Error).message}`; }
}

/** Cosignatures arrive as the log submits each checkpoint; wait (bounded) until one is served. */
async function waitForCosignature(client: LogClient, witnessVkey: string): Promise<void> {
  const name = witnessVkey.split('+')[0]!;
  for (let i = 0; i < 50; i++) {
    if ((await client.checkpoint()).note.includes(`\u2014 ${name} `)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
}
