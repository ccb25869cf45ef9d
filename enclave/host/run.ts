/**
 * `keycast host run`: the process on the parent instance. Wires the enclave client (the
 * enclave's address: loopback locally, the socat VSOCK-CONNECT bridge on AWS), the log proof
 * source, the artefact store, optionally the local KMS relay and the enclave's AWS credentials
 * endpoint (credentials-server.ts); runs a first refresh, then one every --refresh seconds; serves
 * the public API; prints "listening <url>"; stops on SIGTERM promptly: requests in flight to the log
 * and the enclave are aborted, the relay's connections cut, idle keep-alive sockets closed.
 */
import type { ServerLimits } from '#verifier/build';
import { EnclaveClient } from './enclave-client.ts';
import { Host } from './host.ts';
import { LogProofSource } from './proof-source.ts';
import { openStore } from './store.ts';
import { buildHostApp } from './server.ts';
import { startTcpRelay } from './kms-proxy.ts';
import { ImdsCredentials } from './credentials-imds.ts';
import { startCredentialsServer } from './credentials-server.ts';
import { HostMetrics } from './metrics.ts';
import { DeliveryLog } from './deliveries.ts';

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
  /** serve the instance role's credentials (IMDSv2) to the enclave: credentials-server.ts */
  credentials?: { listen: { host: string; port: number }; imdsEndpoint?: string };
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
  const credentials = o.credentials
    ? await startCredentialsServer({
        listen: o.credentials.listen,
        source: new ImdsCredentials(o.credentials.imdsEndpoint ? { endpoint: o.credentials.imdsEndpoint } : {}),
        enclaveUrl: o.enclaveUrl,
        log: say,
      })
    : null;
  if (credentials) say(`AWS credentials for the enclave on ${credentials.address} (instance role, IMDSv2)`);
  const metrics = new HostMetrics();
  // used only for an enclave whose pinned config requires logged deliveries (issue 19)
  const deliveries = new DeliveryLog({
    logUrl: o.logUrl,
    fetch: metrics.timedFetch(abortable(fetch, shutdown.signal)),
    log: say,
    onRoundTrip: (step, outcome, seconds) => metrics.deliveryLogged(step, outcome, seconds),
  });
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
    ...(credentials ? { beforeRound: () => credentials.pushToken() } : {}),
    onRound: (code) => metrics.refreshed(code),
    deliveries,
  });
  const app = buildHostApp({
    host,
    enclave,
    logUrl: o.logUrl,
    storeWhere: store.where,
    store,
    metrics,
    log: say,
    deliveries,
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
  await Promise.all([app.close(), relay?.close(), credentials?.close()]);
  return 0;
}

/** `f` with every request also aborted by `signal` (the host's shutdown). */
function abortable(f: typeof fetch, signal: AbortSignal): typeof fetch {
  return ((input: Parameters<typeof fetch>[0], init?: RequestInit) =>
    f(input, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, signal]) : signal })) as typeof fetch;
}
