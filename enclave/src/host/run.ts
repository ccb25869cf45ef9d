/**
 * `keycast host run`: the process on the parent instance. Wires the enclave client (the
 * enclave's address: loopback locally, the socat VSOCK-CONNECT bridge on AWS), the log proof
 * source, the artefact store and optionally the local KMS relay; runs a first refresh, then one
 * every --refresh seconds; serves the public API; prints "listening <url>"; stops on SIGTERM
 * promptly: requests in flight to the log and the enclave are aborted, the relay's connections
 * cut, idle keep-alive sockets closed.
 */
import type { ServerLimits } from '#verifier';
import { EnclaveClient } from './enclave-client.ts';
import { Host } from './host.ts';
import { LogProofSource } from './proof-source.ts';
import { openStore } from './store.ts';
import { buildHostApp } from './server.ts';
import { startTcpRelay } from './kms-proxy.ts';
import { HostMetrics } from './metrics.ts';

export interface HostRunOptions {
  enclaveUrl: string;
  logUrl: string;
  /** The log's note verifier key: the host then checks signatures before forwarding too. */
  logKey?: string;
  host: string;
  port: number;
  store: string;
  s3?: Record<string, unknown>;
  refreshSeconds: number;
  kmsRelay?: { listen: { host: string; port: number }; target: { host: string; port: number } };
  limits?: ServerLimits;
}

export async function runHost(o: HostRunOptions): Promise<number> {
  const say = (m: string) => process.stderr.write(`host: ${m}\n`);
  const shutdown = new AbortController();
  const stopped = new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  }).then(() => shutdown.abort());
  const store = openStore(o.store, o.s3 ?? {});
  const enclave = new EnclaveClient(o.enclaveUrl, abortable(fetch, shutdown.signal));
  const relay = o.kmsRelay ? await startTcpRelay(o.kmsRelay.listen, o.kmsRelay.target) : null;
  if (relay) say(`KMS relay ${relay.address} → ${o.kmsRelay!.target.host}:${o.kmsRelay!.target.port}`);
  const metrics = new HostMetrics();
  const host = new Host({
    enclave,
    source: new LogProofSource({
      logUrl: o.logUrl,
      ...(o.logKey === undefined ? {} : { logKey: o.logKey }),
      fetch: metrics.timedFetch(abortable(fetch, shutdown.signal)),
      log: say,
    }),
    store,
    log: say,
    onRound: (code) => metrics.refreshed(code),
  });
  const app = buildHostApp({
    host,
    enclave,
    logUrl: o.logUrl,
    storeWhere: store.where,
    store,
    metrics,
    log: say,
    ...(o.limits ? { limits: o.limits } : {}),
  });
  const address = await app.listen({ host: o.host, port: o.port });
  await Promise.race([host.refresh(), stopped]);
  if (!shutdown.signal.aborted) {
    host.schedule(o.refreshSeconds * 1000);
    process.stdout.write(`listening ${address}\n`);
  }
  await stopped;
  host.stop();
  await Promise.all([app.close(), relay?.close()]);
  return 0;
}

/** `f` with every request also aborted by `signal` (the host's shutdown). */
function abortable(f: typeof fetch, signal: AbortSignal): typeof fetch {
  return ((input: Parameters<typeof fetch>[0], init?: RequestInit) =>
    f(input, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, signal]) : signal })) as typeof fetch;
}
