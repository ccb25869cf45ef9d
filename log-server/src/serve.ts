/**
 * `keycast log serve`: the only place that reads flags' consequences into I/O — opens the log
 * (fail closed), wires the admission policy, the optional S3 mirror and witnesses, builds the
 * fastify app and listens. SIGTERM/SIGINT stop accepting, drain the pool, close the database.
 */
import type { KeylessPublishers, ServerLimits } from '#verifier';
import { openLog, openPgLog } from './log.ts';
import type { ObjectStore, Witnesses } from './ports.ts';
import { buildApp } from './http/app.ts';
import { releasePolicy } from './admission.ts';
import { consistencyProof } from './proofs.ts';
import { WitnessClient } from './witness/client.ts';
import { DEFAULT_WITNESS_REFRESH_SECONDS, startWitnessRefresh } from './witness/refresh.ts';
import { explorerPlugin } from './explorer/plugin.ts';

export interface ServeOptions {
  /** The SQLite log's directory, or… */
  dir?: string;
  /** …a shared PostgreSQL store (`postgres://…`) with the log key in `keyFile`. */
  store?: { url: string; keyFile: string };
  host: string;
  port: number;
  /** PEM public keys or certificates allowed to publish. */
  allowedSigners: string[];
  /** PEM public keys allowed to log rebuild endorsements (keycast endorse); none by default. */
  allowedRebuilders?: string[];
  /** Publishers pinned by keyless identity (--trust-identity) and their Sigstore trust root. */
  allowedIdentities?: KeylessPublishers;
  witnesses: Array<{ vkey: string; url: string }>;
  /** Seconds between re-cosignings of an unchanged checkpoint (default DEFAULT_WITNESS_REFRESH_SECONDS). */
  witnessRefreshSeconds?: number;
  s3?: { bucket: string; endpoint?: string | undefined; region?: string | undefined; prefix?: string | undefined };
  batchMax: number;
  poolMax: number;
  /** Worker threads verifying submissions (0: on the main thread). */
  admissionWorkers: number;
  /** Timeouts and connection caps (default SERVER_LIMITS). */
  limits?: ServerLimits;
  /** DER roots enclave identity attestations must chain to (--trust-root; default the AWS Nitro root). */
  trustRoots?: Uint8Array[];
}

export async function serve(o: ServeOptions): Promise<number> {
  const say = (m: string) => process.stderr.write(`${m}\n`);
  const objectStore: ObjectStore | null = o.s3 ? new (await import('./objectstore/s3.ts')).S3ObjectStore(o.s3) : null;
  const witnesses = new LateWitnesses();
  const logOpts = {
    policy: releasePolicy({
      allowedSigners: o.allowedSigners,
      allowedRebuilders: o.allowedRebuilders ?? [],
      workers: o.admissionWorkers,
      ...(o.allowedIdentities ? { allowedIdentities: o.allowedIdentities } : {}),
    }),
    objectStore,
    witnesses,
    batchMax: o.batchMax,
    poolMax: o.poolMax,
    log: say,
    ...(o.trustRoots ? { trustRoots: o.trustRoots } : {}),
  };
  const log = o.store ? await openPgLog(o.store.url, o.store.keyFile, logOpts) : await openLog(o.dir!, logOpts);
  if (o.witnesses.length > 0) {
    witnesses.target = new WitnessClient({
      witnesses: o.witnesses,
      prove: (a, b) => consistencyProof(a, b, log.hashes.read),
      log: say,
    });
  }
  const refresh =
    o.witnesses.length > 0
      ? startWitnessRefresh(log.sequencer, o.witnessRefreshSeconds ?? DEFAULT_WITNESS_REFRESH_SECONDS)
      : null;
  await log.policy.ready?.(); // 'listening' means the admission workers are loaded
  const app = await buildApp({
    log,
    ...(o.limits ? { limits: o.limits } : {}),
    plugins: [
      {
        plugin: explorerPlugin,
        opts: { vkey: log.key.vkey, publishers: o.allowedSigners, witnesses: o.witnesses.map((w) => w.vkey) },
      },
    ],
  });
  const address = await app.listen({ host: o.host, port: o.port });
  say(`log ${log.key.origin} at size ${log.sequencer.current.size}; vkey ${log.key.vkey}`);
  process.stdout.write(`listening ${address}\n`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  say('log: shutting down');
  refresh?.stop();
  await app.close();
  await log.close();
  return 0;
}

/** Witnesses bound after the log opens (the witness client needs the log to prove consistency on 409). */
class LateWitnesses implements Witnesses {
  target: Witnesses | null = null;
  cosign(note: string, oldSize: number, proof: Uint8Array[]): Promise<string[]> {
    return this.target ? this.target.cosign(note, oldSize, proof) : Promise.resolve([]);
  }
}
