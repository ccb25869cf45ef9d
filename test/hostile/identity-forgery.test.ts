/**
 * Attack (issue 16 #4, "the host forges the identity"): the KMS key policy also lets the enclave
 * role — whose credentials the parent instance holds — call kms:Encrypt. The operator makes a data
 * key of its own, has KMS wrap it (a genuine CiphertextBlob under the right key), seals an
 * identity of its own choosing with it, and plants it in the host's store before the enclave's
 * first boot. Under the old design the enclave unsealed it, attested the operator's keys, `verify
 * enclave` said OK and studios sealed their content keys to the operator.
 *
 * Real parts on loopback: SQLite log + witness, dev-kms verifying SigV4 (the admin and the
 * enclave role are different principals), `keycast enclave run --nsm sim` and `keycast host run`.
 * The forged identity carries the best genesis the operator can get: a genuine attestation
 * document (same root as the enclave's NSM) from an image of its own that binds its keys, with
 * the logged release's real log proof. Expected: `kms-policy check` flags the policy; the enclave
 * refuses the blob (IDENTITY_GENESIS_INVALID) every round and never attests; `keycast verify
 * enclave` never exits 0; a blob with no genesis is IDENTITY_GENESIS_MISSING.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { EncryptCommand, GetKeyPolicyCommand, KMSClient, PutKeyPolicyCommand } from '@aws-sdk/client-kms';
import { LogClient, fetchProofBundle } from '#verifier';
import { formatIdentityBinding, fromHex, toBase64 } from '#verifier/build';
import { SimulatedNsm, generateIdentity, publicIdentity, sealIdentity } from '../../enclave/index.ts';
import { start, until, type Proc } from '../enclave-e2e-helpers.ts';
import { CREDS, KEYCAST, startStack } from '../enclave-stack.ts';

test('a host allowed kms:Encrypt plants an identity of its own: the enclave refuses it and never attests it', {
  timeout: 240_000,
}, async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'keycast-hostile-forge-'));
  const procs: Proc[] = [];
  t.after(() => {
    for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    rmSync(tmp, { recursive: true, force: true });
  });
  const run = async (args: string[], env?: Record<string, string>) => {
    const p = await start(args, env);
    procs.push(p);
    return p;
  };
  const { log, logVkey, witnessVkey, kms, admin, key, f, pcrs, pki, pair, publish } = await startStack(
    tmp,
    run,
    [],
    'hostile-forge',
  );

  // the bad policy: the enclave role may also Encrypt; the linter must say so
  const policy = JSON.parse(
    (await admin.send(new GetKeyPolicyCommand({ KeyId: key, PolicyName: 'default' }))).Policy!,
  ) as { Statement: object[] };
  policy.Statement.push({
    Sid: 'Oops',
    Effect: 'Allow',
    Principal: { AWS: CREDS[1]!.principal },
    Action: 'kms:Encrypt',
    Resource: '*',
  });
  await admin.send(new PutKeyPolicyCommand({ KeyId: key, PolicyName: 'default', Policy: JSON.stringify(policy) }));
  writeFileSync(join(tmp, 'bad-policy.json'), JSON.stringify(policy));
  const check = spawnSync(process.execPath, [KEYCAST, 'kms-policy', 'check', join(tmp, 'bad-policy.json'), '--json'], {
    encoding: 'utf8',
  });
  assert.equal(check.status, 1, check.stdout + check.stderr);
  assert.ok(
    (JSON.parse(check.stdout).findings as Array<{ code: string }>).some((x) => x.code === 'UNATTESTED_ENCRYPT'),
  );

  // the operator, with the enclave role's credentials: its own data key, wrapped by the real KMS
  const asEnclaveRole = new KMSClient({
    region: 'us-east-1',
    endpoint: kms.url,
    maxAttempts: 1,
    credentials: { accessKeyId: CREDS[1]!.accessKeyId, secretAccessKey: CREDS[1]!.secretAccessKey },
  });
  const dataKey = new Uint8Array(randomBytes(32));
  const wrapped = await asEnclaveRole.send(new EncryptCommand({ KeyId: key, Plaintext: dataKey }));
  const ciphertextBlob = wrapped.CiphertextBlob!;
  // its own keys, with the best genesis it can get: a genuine NSM document from an image of its
  // own (same root as the enclave's) binding them, and the logged release's real proof
  const index = await publish();
  const mine = generateIdentity();
  const pub = publicIdentity(mine);
  const ownImage = new SimulatedNsm({ pki, pcrs: { ...pcrs, pcr0: 'ab'.repeat(48) } });
  const document = await ownImage.attestation({ publicKey: pub.hpkeX25519, userData: formatIdentityBinding(pub) });
  const client = new LogClient({ url: log.url, logKey: logVkey, fetch: globalThis.fetch });
  const bundle = (await fetchProofBundle(client, fromHex(f.pcr0), null))!;
  const sealed = sealIdentity(mine, { document, entry: bundle.entry, proof: bundle.proof }, dataKey, key);
  mkdirSync(join(tmp, 'store'), { recursive: true });
  writeFileSync(
    join(tmp, 'store', 'identity.json'),
    `${JSON.stringify({ sealed: toBase64(sealed), ciphertextBlob: toBase64(ciphertextBlob) })}\n`,
  );

  // the enclave and its host boot on that store
  const a = await pair('store');
  const refused = await a.when(
    'the planted identity to be refused',
    (s) => s.body.host.lastRefresh?.code === 'IDENTITY_GENESIS_INVALID',
    60_000,
  );
  assert.equal(refused.body.enclave.gate.open, true, 'the gate is open: only the identity is refused');
  assert.equal(refused.body.enclave.gate.release?.index, index);
  assert.equal(refused.body.enclave.identity.ready, false);
  assert.equal(refused.body.enclave.identity.hpkeX25519, undefined);

  // the studio's check, several times while the host keeps retrying: never OK
  writeFileSync(join(tmp, 'witness.vkey'), witnessVkey);
  for (let i = 0; i < 3; i++) {
    const v = spawnSync(
      process.execPath,
      [
        KEYCAST,
        'verify',
        'enclave',
        a.host.url,
        '--log',
        log.url,
        '--log-key',
        logVkey,
        '--witness',
        witnessVkey,
        '--publisher',
        join(tmp, 'signer.pem'),
        '--trust-root',
        join(tmp, 'root.pem'),
        '--json',
      ],
      { encoding: 'utf8' },
    );
    assert.notEqual(v.status, 0, `verify enclave must not say OK: ${v.stdout}${v.stderr}`);
    assert.ok(!v.stdout.includes(toBase64(pub.hpkeX25519)), 'the operator’s key is never shown as the enclave’s');
    await new Promise((r) => setTimeout(r, 1000));
  }
  const att = await fetch(`${a.host.url}/v1/attestation?nonce=${'5a'.repeat(16)}`);
  assert.equal(att.status, 503);
  assert.equal(((await att.json()) as { code: string }).code, 'IDENTITY_NOT_READY');
  const still = await a.status();
  assert.equal(still.body.host.lastRefresh?.code, 'IDENTITY_GENESIS_INVALID');
  await a.stop();

  // without any genesis (a blob in the old format, or one that simply omits it): refused too
  const old = new Uint8Array(sealed);
  old[4] = 1;
  mkdirSync(join(tmp, 'store2'), { recursive: true });
  writeFileSync(
    join(tmp, 'store2', 'identity.json'),
    `${JSON.stringify({ sealed: toBase64(old), ciphertextBlob: toBase64(ciphertextBlob) })}\n`,
  );
  const b = await pair('store2');
  await until(
    'the genesis-less identity to be refused',
    async () => ((await b.status()).body.host.lastRefresh?.code === 'IDENTITY_GENESIS_MISSING' ? true : undefined),
    60_000,
  );
  assert.equal((await b.status()).body.enclave.identity.ready, false);
  await b.stop();
});
