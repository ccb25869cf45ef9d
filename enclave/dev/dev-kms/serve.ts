/**
 * Starting dev-kms over a data directory: keys in DIR/keys (DirectoryKeyStore), the region and
 * account the key ARNs were made for in DIR/dev-kms.json — written on first start, and a later
 * start with another region or account is refused rather than silently orphaning every key.
 */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { ServerLimits } from '#verifier/build';
import { EnclaveError } from '../../common/errors.ts';
import { KmsCore } from '../kms/core.ts';
import { DirectoryKeyStore } from '../kms/directory-store.ts';
import { buildDevKmsApp, type DevKmsAppOptions } from './app.ts';
import type { Credential } from './sigv4.ts';

export interface ServeDevKmsOptions {
  dataDir: string;
  host: string;
  port: number;
  region?: string;
  accountId?: string;
  trustedRoots?: readonly Uint8Array[];
  credentials?: readonly Credential[];
  unverifiedPrincipal?: string;
  limits?: ServerLimits;
  onRequestDone?: DevKmsAppOptions['onRequestDone'];
}

function pinIdentity(
  dataDir: string,
  region: string | undefined,
  accountId: string | undefined,
): { region: string; accountId: string } {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = join(dataDir, 'dev-kms.json');
  let saved: { region?: unknown; accountId?: unknown } | null = null;
  try {
    saved = JSON.parse(readFileSync(file, 'utf8')) as { region?: unknown; accountId?: unknown };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
      throw new EnclaveError('KMS_KEY_STORE', `${file} is unreadable or not JSON`, { file });
  }
  if (saved) {
    if (typeof saved.region !== 'string' || typeof saved.accountId !== 'string')
      throw new EnclaveError('KMS_KEY_STORE', `${file} is not a dev-kms identity`, { file });
    if ((region && region !== saved.region) || (accountId && accountId !== saved.accountId)) {
      throw new EnclaveError(
        'KMS_KEY_STORE',
        `this data directory holds keys of ${saved.region}/${saved.accountId}; refusing to serve it as ${region ?? saved.region}/${accountId ?? saved.accountId}`,
        { file },
      );
    }
    return { region: saved.region, accountId: saved.accountId };
  }
  const id = { region: region ?? 'us-east-1', accountId: accountId ?? '111122223333' };
  writeFileSync(file, `${JSON.stringify(id)}\n`, { mode: 0o600 });
  return id;
}

export async function serveDevKms(
  o: ServeDevKmsOptions,
): Promise<{ app: FastifyInstance; url: string; core: KmsCore; close(): Promise<void> }> {
  const { region, accountId } = pinIdentity(o.dataDir, o.region, o.accountId);
  const core = new KmsCore({
    store: new DirectoryKeyStore(o.dataDir),
    region,
    accountId,
    ...(o.trustedRoots ? { trustedRoots: o.trustedRoots } : {}),
  });
  const app = await buildDevKmsApp({
    core,
    ...(o.credentials ? { credentials: o.credentials } : {}),
    ...(o.unverifiedPrincipal ? { unverifiedPrincipal: o.unverifiedPrincipal } : {}),
    ...(o.limits ? { limits: o.limits } : {}),
    ...(o.onRequestDone ? { onRequestDone: o.onRequestDone } : {}),
  });
  await app.listen({ host: o.host, port: o.port });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : o.port;
  const host = o.host.includes(':') ? `[${o.host}]` : o.host;
  return { app, core, url: `http://${host}:${port}`, close: () => app.close() };
}
