/**
 * Test helpers: a log in a temp dir served on loopback, and a raw-leaf admission policy (the
 * bundle is `{ "leaf": base64, "kind", "pcr0"?, "eif"?, "commit"?, "revokes"? }`) so the log's
 * mechanics are tested independently of the release schema.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromBase64 } from '#verifier/build';
import { LogError } from '../src/errors.ts';
import type { AdmissionContext, AdmittedEntry, EntryPolicy, ObjectStore, Witnesses } from '../src/ports.ts';
import { createLog, openLog } from '../src/log.ts';
import type { Log } from '../src/log.ts';
import { buildApp } from '../src/http/app.ts';

export const rawLeafPolicy: { admit(bundleJson: string, ctx?: AdmissionContext): AdmittedEntry } = {
  admit(bundleJson: string): AdmittedEntry {
    let b: Record<string, unknown>;
    try {
      b = JSON.parse(bundleJson);
    } catch {
      throw new LogError('MALFORMED_REQUEST', 'not JSON', {});
    }
    if (typeof b.leaf !== 'string') throw new LogError('ENTRY_REJECTED', 'no leaf', {});
    const e: AdmittedEntry = { leaf: fromBase64(b.leaf), kind: (b.kind as AdmittedEntry['kind']) ?? 'release' };
    if (typeof b.pcr0 === 'string') e.pcr0 = b.pcr0;
    if (typeof b.eif === 'string') e.eifSha256 = b.eif;
    if (typeof b.commit === 'string') e.commit = b.commit;
    if (b.revokes) e.revokes = b.revokes as { index: number; pcr0: string };
    return e;
  },
};

export function leafBundle(text: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ leaf: Buffer.from(text).toString('base64'), ...extra });
}

export interface TestLog {
  dir: string;
  url: string;
  log: Log;
  vkey: string;
  close(): Promise<void>;
}

export const ORIGIN = 'log.keycast.test/t1';

export async function startTestLog(
  opts: { policy?: EntryPolicy; objectStore?: ObjectStore; witnesses?: Witnesses; dir?: string; poolMax?: number } = {},
): Promise<TestLog> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'keycast-log-'));
  const vkey = opts.dir ? '' : createLog(dir, ORIGIN).vkey;
  const log = await openLog(dir, {
    policy: opts.policy ?? rawLeafPolicy,
    objectStore: opts.objectStore ?? null,
    witnesses: opts.witnesses ?? null,
    poolMax: opts.poolMax ?? 16384,
  });
  const app = await buildApp({ log });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    dir,
    url,
    log,
    vkey: vkey || log.key.vkey,
    async close() {
      await app.close();
      await log.close();
      if (!opts.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function post(
  url: string,
  body: string,
  type = 'application/json',
): Promise<{ status: number; json: any; headers: Headers }> {
  const r = await fetch(`${url}/add-entry`, { method: 'POST', headers: { 'content-type': type }, body });
  return { status: r.status, json: await r.json(), headers: r.headers };
}
