/**
 * AWS credentials for the enclave, the way the AWS SDK's container-credentials provider reads
 * them (what ECS and EKS Pod Identity serve), so the enclave's unchanged `@aws-sdk/client-kms`
 * picks them up from its default chain and asks again before they expire:
 *
 *   in the enclave (its entrypoint):  AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:8002/v1/aws-credentials
 *                                     (loopback: the SDK accepts only loopback or https)
 *   enclave 127.0.0.1:8002 ─socat→ vsock 3:8002 ─socat (host unit)→ this server on the host's loopback
 *   GET /v1/aws-credentials, Authorization: <token>
 *     → 200 { AccessKeyId, SecretAccessKey, Token, Expiration }   (the instance role's, from IMDSv2)
 *     → 401 CREDENTIALS_TOKEN_REFUSED without the token; 502 CREDENTIALS_UNAVAILABLE when IMDS fails
 *
 * The token keeps the endpoint from being an IMDS bypass for other processes on the parent
 * instance (an instance that restricts IMDS to root must not leak the role to any local user
 * through this port): it is 256 random bits made at host start, held in memory only, and
 * handed to the enclave over the enclave API (`POST /v1/aws-credentials-token`, before every
 * refresh round), which only the host's bridge reaches and whose answers never echo it. A local
 * process can push a wrong token into the enclave (the enclave is then refused credentials until
 * the next round — the denial of service the host can always do), never read the right one.
 *
 * Nothing here logs or returns a credential, the token, or an IMDS body: log lines name the
 * outcome and the credentials' expiry only.
 */
import { randomBytes, createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { EnclaveError } from '../common/errors.ts';
import { toHttpError } from '../common/http/errors.ts';
import { CREDENTIALS_TOKEN_ROUTE } from '../common/credentials-token-route.ts';
import type { CredentialSource } from './credentials-imds.ts';

export const CREDENTIALS_PATH = '/v1/aws-credentials';

export interface CredentialsServer {
  /** host:port it listens on */
  address: string;
  /** Hands the token to the enclave (POST /v1/aws-credentials-token); never throws, says failures. */
  pushToken(): Promise<void>;
  close(): Promise<void>;
}

export interface CredentialsServerOptions {
  listen: { host: string; port: number };
  source: CredentialSource;
  /** the enclave API's base URL (the host's bridge), where the token is pushed */
  enclaveUrl: string;
  log?: (line: string) => void;
  /** for tests: a fixed token instead of 256 random bits */
  token?: string;
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

function send(res: ServerResponse, status: number, body: unknown): void {
  const bytes = Buffer.from(JSON.stringify(body));
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': bytes.length,
    'cache-control': 'no-store',
  });
  res.end(bytes);
}

function refuse(res: ServerResponse, e: EnclaveError): void {
  const h = toHttpError(e);
  send(res, h.status, h.body);
}

export async function startCredentialsServer(o: CredentialsServerOptions): Promise<CredentialsServer> {
  const token = o.token ?? randomBytes(32).toString('base64url');
  const want = digest(token);
  let lastOutcome = '';
  const say = (outcome: string) => {
    // one line per change of outcome, not per request: the enclave asks every few minutes at most
    if (outcome !== lastOutcome) o.log?.(`AWS credentials for the enclave: ${outcome}`);
    lastOutcome = outcome;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '').split('?')[0];
    if (req.method !== 'GET' || path !== CREDENTIALS_PATH)
      return refuse(res, new EnclaveError('NOT_FOUND', 'no such route', { path: CREDENTIALS_PATH }));
    const given = req.headers.authorization;
    if (typeof given !== 'string' || !timingSafeEqual(digest(given), want)) {
      say('refused a request without the token');
      return refuse(
        res,
        new EnclaveError(
          'CREDENTIALS_TOKEN_REFUSED',
          'the Authorization header is not the token the host gave its enclave',
        ),
      );
    }
    try {
      const c = await o.source.get();
      say(`served (expiring ${c.expiration})`);
      send(res, 200, {
        AccessKeyId: c.accessKeyId,
        SecretAccessKey: c.secretAccessKey,
        Token: c.sessionToken,
        Expiration: c.expiration,
      });
    } catch (e) {
      const err =
        e instanceof EnclaveError ? e : new EnclaveError('CREDENTIALS_UNAVAILABLE', 'instance metadata failed');
      say(`unavailable (${err.code}${typeof err.evidence.step === 'string' ? `, ${err.evidence.step}` : ''})`);
      refuse(res, err);
    }
  };

  const server: Server = createServer((req, res) => {
    req.resume(); // GET only: any body is drained, never read
    handle(req, res).catch(() => {
      if (!res.headersSent)
        send(res, 500, { error: 'Internal', code: 'INTERNAL', message: 'internal error', evidence: {} });
    });
  });
  server.headersTimeout = 5_000;
  server.requestTimeout = 10_000;
  server.maxHeadersCount = 32;
  server.maxConnections = 64;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.listen.port, o.listen.host, () => resolve());
  });
  const a = server.address();
  const address = typeof a === 'object' && a ? `${a.address}:${a.port}` : String(a);
  const base = o.enclaveUrl.replace(/\/+$/, '');
  let lastPush = '';

  return {
    address,
    async pushToken() {
      let outcome: string;
      try {
        const r = await fetch(base + CREDENTIALS_TOKEN_ROUTE, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ token }),
          signal: AbortSignal.timeout(5_000),
        });
        await r.body?.cancel();
        outcome = r.status === 200 ? 'ok' : `HTTP ${r.status}`;
      } catch (e) {
        outcome = `unreachable (${(e as Error).name})`;
      }
      if (outcome !== lastPush) o.log?.(`credentials token to the enclave: ${outcome}`);
      lastPush = outcome;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
