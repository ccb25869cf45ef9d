/**
 * `keycast build --enclave-config`: the enclave's pinned configuration lands at
 * rootfs/etc/keycast/enclave.json in the customer ramdisk, is pinned in the lock (a changed
 * file is refused on rebuild), is checked before building, and changing it changes PCR0.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EnclaveConfig } from '#verifier';
import {
  ENCLAVE_CONFIG_PATH,
  formatEnclaveConfig,
  generateNoteKey,
  cosignatureVerifierKey,
  parseEif,
  readCpio,
} from '#verifier/build';
import { generateKeyPairSync } from 'node:crypto';
import { build } from '../src/build.ts';
import { parseLock, type BuildLock } from '../src/lock.ts';
import { isBuilderError } from '../src/errors.ts';

function config(maxAge: number): EnclaveConfig {
  const pub = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    .publicKey.export({ format: 'pem', type: 'spki' })
    .toString();
  return {
    version: 1,
    log: { origin: 'log.example/k', vkey: generateNoteKey('log.example/k').vkey },
    witnesses: { vkeys: [cosignatureVerifierKey(generateNoteKey('w.example').skey)], threshold: 1 },
    maxCheckpointAgeSeconds: maxAge,
    publishers: [pub],
    kms: { keyArn: 'arn:aws:kms:us-east-1:111122223333:key/k', region: 'us-east-1' },
  };
}

function inputs(dir: string, cfg: string | null): BuildLock {
  writeFileSync(join(dir, 'kernel'), Buffer.alloc(4096, 1));
  writeFileSync(join(dir, 'init'), Buffer.alloc(512, 2));
  mkdirSync(join(dir, 'root', 'app'), { recursive: true });
  writeFileSync(join(dir, 'root', 'app', 'main.js'), 'console.log(1)\n');
  if (cfg !== null) writeFileSync(join(dir, 'enclave.json'), cfg);
  const z = '0'.repeat(64);
  return parseLock(
    JSON.stringify({
      version: 1,
      arch: 'x86_64',
      format: 'linuxkit',
      inputs: {
        kernel: { path: join(dir, 'kernel'), sha256: z },
        init: { path: join(dir, 'init'), sha256: z },
        rootfs: { path: join(dir, 'root'), sha256: z, type: 'dir' },
        ...(cfg !== null ? { enclaveConfig: { path: join(dir, 'enclave.json'), sha256: z } } : {}),
      },
      cmdline: 'console=ttyS0',
      argv: ['/usr/bin/node', '/app/main.js'],
      env: [],
      image: { name: 't', version: '1' },
    }),
  );
}

test('the config is placed at its fixed path, pinned, and part of PCR0', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kc-enclave-config-'));
  try {
    const a = formatEnclaveConfig(config(600));
    const r1 = await build({ lock: inputs(dir, a), lockDir: dir, outDir: join(dir, 'o1'), verify: false });
    const files = new Map(readCpio(parseEif(readFileSync(r1.eifPath)).ramdisks[1]!).entries.map((e) => [e.name, e]));
    assert.equal(Buffer.from(files.get(`rootfs/${ENCLAVE_CONFIG_PATH}`)!.data).toString(), a);
    assert.ok(files.has('rootfs/etc') && files.has('rootfs/etc/keycast'));
    assert.ok(r1.lock.inputs.enclaveConfig && r1.lock.inputs.enclaveConfig.sha256 !== '0'.repeat(64));

    // the same inputs rebuild to the same PCR0; the lock refuses a changed config
    const again = await build({ lock: r1.lock, lockDir: dir, outDir: join(dir, 'o2'), verify: true });
    assert.equal(again.pcr0, r1.pcr0);
    writeFileSync(join(dir, 'enclave.json'), formatEnclaveConfig(config(300)));
    await assert.rejects(build({ lock: r1.lock, lockDir: dir, outDir: join(dir, 'o3'), verify: true }), (e) =>
      isBuilderError(e, 'INPUT_DIGEST_MISMATCH'),
    );
    const r3 = await build({
      lock: inputs(dir, formatEnclaveConfig(config(300))),
      lockDir: dir,
      outDir: join(dir, 'o4'),
      verify: false,
    });
    assert.notEqual(r3.pcr0, r1.pcr0, 'a different config is a different PCR0');
    assert.notEqual(r3.pcr2, r1.pcr2);
    assert.equal(r3.pcr1, r1.pcr1);

    // an invalid config is refused before anything is built
    await assert.rejects(
      build({ lock: inputs(dir, '{"version":1}'), lockDir: dir, outDir: join(dir, 'o5'), verify: false }),
      (e) => isBuilderError(e, 'INPUT_UNREADABLE'),
    );
    // a rootfs that already carries a config is refused
    mkdirSync(join(dir, 'root', 'etc', 'keycast'), { recursive: true });
    writeFileSync(join(dir, 'root', ENCLAVE_CONFIG_PATH), a);
    await assert.rejects(build({ lock: inputs(dir, a), lockDir: dir, outDir: join(dir, 'o6'), verify: false }), (e) =>
      isBuilderError(e, 'ROOTFS_MALFORMED'),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
