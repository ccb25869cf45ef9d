/** The directory key store: 0600 files written atomically, read back across instances, corrupt files refused. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { DirectoryKeyStore } from '../dev/kms/directory-store.ts';
import { EnclaveError } from '../common/errors.ts';

test('keys persist as 0600 files, replace atomically and survive a new store instance', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'keycast-kms-store-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const s = new DirectoryKeyStore(dir);
  const keyId = randomUUID();
  const key = {
    keyId,
    arn: `arn:aws:kms:us-east-1:111122223333:key/${keyId}`,
    creationDate: 1,
    description: 'd',
    material: new Uint8Array(32).fill(7),
    policy: '{}',
  };
  assert.equal(await s.get(keyId), undefined);
  await s.put(key);
  await s.put({ ...key, policy: '{"v":2}' });
  const again = new DirectoryKeyStore(dir);
  assert.deepEqual(await again.get(keyId), { ...key, policy: '{"v":2}' });
  assert.deepEqual(await again.list(), [keyId]);
  assert.deepEqual(readdirSync(join(dir, 'keys')), [`${keyId}.json`], 'no temporary files left');
  assert.equal(statSync(join(dir, 'keys', `${keyId}.json`)).mode & 0o777, 0o600);
  assert.equal(statSync(join(dir, 'keys')).mode & 0o077, 0);
  writeFileSync(join(dir, 'keys', `${keyId}.json`), '{"format":"other"}');
  await assert.rejects(
    again.get(keyId),
    (e) => e instanceof EnclaveError && e.code === 'KMS_KEY_STORE' && !e.message.includes('BwcH'),
  );
  await assert.rejects(again.get('../../etc/passwd'), RangeError);
});
