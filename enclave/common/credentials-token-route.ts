/**
 * POST /v1/aws-credentials-token on the enclave: the host hands over the authorization token of
 * its container-credentials endpoint (host/credentials-server.ts), and the enclave puts it where
 * the AWS SDK's container-credentials provider reads it, `AWS_CONTAINER_AUTHORIZATION_TOKEN`.
 * The endpoint's URL itself (`AWS_CONTAINER_CREDENTIALS_FULL_URI`, loopback: the in-enclave end
 * of the vsock bridge) comes from the image's entrypoint, so it is measured and the host cannot
 * move it. The SDK reads both whenever it asks for credentials, so a new token (a restarted
 * host) is used from the next request on.
 *
 *   body { token: 32..128 base64url characters } → 200 { credentialsUri: <is the URI set?> }
 *
 * The token is not a secret of the enclave's (the host made it and can always withhold
 * credentials); it is never echoed, logged or put in an error. Accepted whatever the gate's
 * state: KMS is still called only behind the open gate.
 */
import type { FastifyInstance } from 'fastify';
import { EnclaveError } from './errors.ts';
import { jsonBody } from './http/app.ts';

export const CREDENTIALS_TOKEN_ROUTE = '/v1/aws-credentials-token';

export function credentialsTokenRoute(
  app: FastifyInstance,
  env: Record<string, string | undefined> = process.env,
): void {
  app.post(CREDENTIALS_TOKEN_ROUTE, { bodyLimit: 1024 }, async (req) => {
    const body = jsonBody(req.body);
    if (Object.keys(body).length !== 1 || typeof body.token !== 'string' || !/^[A-Za-z0-9_-]{32,128}$/.test(body.token))
      throw new EnclaveError('REQUEST_MALFORMED', 'the body must be exactly { token: 32..128 base64url characters }');
    env.AWS_CONTAINER_AUTHORIZATION_TOKEN = body.token;
    return { credentialsUri: typeof env.AWS_CONTAINER_CREDENTIALS_FULL_URI === 'string' };
  });
}
