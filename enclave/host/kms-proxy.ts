/**
 * The host's KMS proxy for local runs: a plain TCP relay from a loopback address the enclave
 * can reach to the KMS endpoint (dev-kms locally), byte for byte — the same role vsock-proxy
 * plays on AWS (vsock port → kms.<region>.amazonaws.com:443), where TLS runs end to end from
 * the enclave and the host sees only ciphertext. It understands nothing it relays.
 *
 * `close()` stops listening and cuts every relayed connection at once: the SDK's keep-alive
 * sockets would otherwise hold a stopping host for their 120-second idle timeout.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export interface TcpRelay {
  server: Server;
  address: string;
  /** Stops listening and destroys every open connection; resolves once the server closed. */
  close(): Promise<void>;
}

export function startTcpRelay(
  listen: { host: string; port: number },
  target: { host: string; port: number },
): Promise<TcpRelay> {
  const open = new Set<Socket>();
  const server = createServer((inbound) => {
    const outbound = createConnection(target);
    open.add(inbound).add(outbound);
    inbound.pipe(outbound).pipe(inbound);
    const end = () => {
      inbound.destroy();
      outbound.destroy();
      open.delete(inbound);
      open.delete(outbound);
    };
    inbound.on('error', end);
    outbound.on('error', end);
    inbound.on('close', end);
    outbound.on('close', end);
    inbound.setTimeout(120_000, end);
  });
  const close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of open) s.destroy();
      open.clear();
    });
  server.maxConnections = 256;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      const a = server.address();
      resolve({ server, close, address: typeof a === 'object' && a ? `${a.address}:${a.port}` : String(a) });
    });
  });
}
