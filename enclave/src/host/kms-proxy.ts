/**
 * The host's KMS proxy for local runs: a plain TCP relay from a loopback address the enclave
 * can reach to the KMS endpoint (dev-kms locally), byte for byte — the same role vsock-proxy
 * plays on AWS (vsock port → kms.<region>.amazonaws.com:443), where TLS runs end to end from
 * the enclave and the host sees only ciphertext. It understands nothing it relays.
 */
import { createConnection, createServer, type Server } from 'node:net';

export function startTcpRelay(
  listen: { host: string; port: number },
  target: { host: string; port: number },
): Promise<{ server: Server; address: string }> {
  const server = createServer((inbound) => {
    const outbound = createConnection(target);
    inbound.pipe(outbound).pipe(inbound);
    const end = () => {
      inbound.destroy();
      outbound.destroy();
    };
    inbound.on('error', end);
    outbound.on('error', end);
    inbound.setTimeout(120_000, end);
  });
  server.maxConnections = 256;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      const a = server.address();
      resolve({ server, address: typeof a === 'object' && a ? `${a.address}:${a.port}` : String(a) });
    });
  });
}
