/**
 * The settings the app refuses before synthesizing anything (pure: no synth in this file), each
 * naming its context key: a fleet of one, an odd enclave CPU count, an EIF without a real digest or
 * from an unfetchable URI, a key policy whose enclave role is another account's or not a role, two
 * enclave roles, `--json` output instead of the policy, a certificate from another region.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ConfigError, readConfig } from '../lib/config.ts';
import { renderAllowlist, renderEnvFile } from '../lib/render.ts';
import { exampleContext } from './helpers.ts';

const base = exampleContext();
const policyText = readFileSync(base.keyPolicyFile as string, 'utf8');
const policy = JSON.parse(policyText) as { Statement: { Sid: string; Principal: unknown }[] };

function config(over: Record<string, unknown>, text = policyText) {
  const ctx = { ...base, ...over };
  return readConfig(
    (k) => ctx[k],
    () => text,
  );
}
function refused(over: Record<string, unknown>, key: string, re: RegExp, text?: string) {
  assert.throws(
    () => config(over, text),
    (e) => e instanceof ConfigError && e.key === key && re.test(e.message),
    `${key} should be refused`,
  );
}
const withPolicy = (edit: (p: typeof policy) => void) => {
  const p = structuredClone(policy);
  edit(p);
  return JSON.stringify(p);
};

test('the example context is accepted, and the role comes from the policy', () => {
  const c = config({});
  assert.deepEqual(c.enclaveRole, {
    arn: 'arn:aws:iam::111122223333:role/keycast-parent',
    name: 'keycast-parent',
    path: '/',
  });
  assert.equal(c.policyFrozen, false);
  assert.equal(c.service!.minCapacity, 2);
  assert.equal(config({ eifUri: '' }).service, undefined, 'no release: the key stack only');
});

test('capacity, enclave size and instance settings are refused when they cannot work', () => {
  refused({ minCapacity: 1 }, 'minCapacity', /2\.\.100/);
  refused({ minCapacity: 3, maxCapacity: 3 }, 'maxCapacity', /4\.\./);
  refused({ enclaveCpus: 3 }, 'enclaveCpus', /even/);
  refused({ enclaveMemoryMiB: 512 }, 'enclaveMemoryMiB', /1024\.\./);
  refused({ amiId: 'ubuntu' }, 'amiId', /AMI id/);
  refused({ region: 'mars-1' }, 'region', /not an AWS region/);
  refused({ availabilityZones: ['eu-west-1a'] }, 'availabilityZones', /two zones/);
  refused({ availabilityZones: ['eu-west-1a', 'us-east-1b'] }, 'availabilityZones', /two zones of eu-west-1/);
  refused(
    { certificateArn: 'arn:aws:acm:us-east-1:111122223333:certificate/00000000-0000-4000-8000-000000000000' },
    'certificateArn',
    /in eu-west-1/,
  );
  refused({ logUrl: 'http://log.example.com' }, 'logUrl', /https/);
  refused({ logKey: 'not a key' }, 'logKey', /verifier key/);
});

test('release files need a fetchable URI and a real SHA-256, and nothing the shell would expand', () => {
  refused({ eifSha256: undefined }, 'eifSha256', /required/);
  refused({ eifSha256: 'abc' }, 'eifSha256', /64 hex/);
  refused({ eifUri: 'file:///tmp/enclave.eif' }, 'eifUri', /s3:\/\/bucket\/key or https/);
  refused({ eifUri: "https://x.example/e.eif';reboot;'" }, 'eifUri', /quotes/);
  refused({ hostBundleUri: 'https://x.example/$(id)' }, 'hostBundleUri', /quotes|\$/);
  assert.equal(config({ eifSha256: 'A'.repeat(64) }).service!.eif.sha256, 'a'.repeat(64));
});

test('a key policy that does not name one enclave role of this account is refused', () => {
  refused({ account: '444455556666' }, 'keyPolicyFile', /in account 111122223333, the stack deploys to 444455556666/);
  refused({}, 'keyPolicyFile', /not readable JSON/, '{');
  refused({}, 'keyPolicyFile', /--json/, JSON.stringify({ policy, pcr0s: [] }));
  refused(
    {},
    'keyPolicyFile',
    /KeycastDenyEnclaveRoleForgery/,
    withPolicy((p) => void p.Statement.splice(2, 1)),
  );
  refused(
    {},
    'keyPolicyFile',
    /one enclave role, names 2/,
    withPolicy((p) => {
      p.Statement[0]!.Principal = { AWS: 'arn:aws:iam::111122223333:role/other' };
    }),
  );
  refused(
    {},
    'keyPolicyFile',
    /not an IAM role ARN/,
    withPolicy((p) => {
      for (const s of p.Statement.slice(0, 3))
        if (s.Sid !== 'KeycastDenyUnattested') s.Principal = { AWS: 'arn:aws:iam::111122223333:user/bob' };
    }),
  );
  // no policy admin: frozen, so the key is created with the lockout check bypassed
  const frozen = withPolicy(
    (p) =>
      void p.Statement.splice(
        p.Statement.findIndex((s) => s.Sid === 'KeycastPolicyUpdates'),
        1,
      ),
  );
  assert.equal(config({}, frozen).policyFrozen, true);
});

test('the rendered files: the allowlist names only the region, keycast.env and the stack set the same variables', () => {
  assert.match(
    renderAllowlist('ap-southeast-2'),
    /^ {2}- address: kms\.ap-southeast-2\.amazonaws\.com\n {4}port: 443$/m,
  );
  assert.throws(() => renderAllowlist('eu-west-1 evil.example.com'));
  const all = {
    KEYCAST_REGION: 'eu-west-1',
    AWS_REGION: 'eu-west-1',
    KEYCAST_LOG: 'https://log.example.com',
    KEYCAST_LOG_KEY: '/etc/keycast/log.vkey',
    KEYCAST_STORE: 's3://b/enclave',
    KEYCAST_EIF: '/opt/keycast/enclave.eif',
    KEYCAST_ENCLAVE_CPUS: '2',
    KEYCAST_ENCLAVE_MEMORY: '4096',
  };
  assert.match(renderEnvFile(all), /^KEYCAST_STORE=s3:\/\/b\/enclave$/m);
  const { KEYCAST_LOG: _, ...missing } = all;
  assert.throws(() => renderEnvFile(missing), /KEYCAST_LOG, which the stack does not render/);
  assert.throws(() => renderEnvFile({ ...all, EXTRA: 'x' }), /keycast\.env has no EXTRA/);
  assert.throws(() => renderEnvFile({ ...all, KEYCAST_LOG: 'https://x $(reboot)' }), /refused/);
});
