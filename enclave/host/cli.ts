/** `keycast host run`: the parent-instance host (enclave/deploy/host/keycast-host.service runs it). */
import { hostPort, urlOption, usageError as usage, type Command } from '#flag-kit';
import { SERVER_LIMIT_FLAGS_HELP, serverLimitFlagOptions } from '#verifier/build';
import { limitsFrom, parse, seconds, vkeyArg } from '../common/cli-flags.ts';
import { runHost } from './run.ts';

export const hostRun: Command = {
  path: ['host', 'run'],
  summary: 'Run the parent-instance host: proofs from the log, sealed-artefact store, public API',
  help: `Usage: keycast host run --enclave HOST:PORT|URL --log URL [--log-key VKEY|FILE] --listen HOST:PORT [--store DIR|s3://bucket/prefix] [--refresh S] [--kms-listen HOST:PORT --kms-target HOST:PORT] [--credentials-listen HOST:PORT [--imds-endpoint URL]]

Runs on the parent instance. Every --refresh seconds: asks the enclave which PCR0 it measures and
which tree it holds, fetches the newest proof bundle for it from the log (lookup, the log's signed
status at the proven tree size, a consistency proof from the held tree) and hands it to the
enclave's gate; once the gate is open, passes the stored sealed identity back (or stores the one
a first boot hands out). The log re-cosigns its checkpoint on a timer, so each refresh brings
fresh cosignatures even when nothing was published. Serves GET /v1/status (with
freshSecondsLeft: seconds until the enclave's proof goes stale), GET /metrics (Prometheus text,
the enclave's figures relayed) and GET /v1/attestation?nonce=HEX. Prints "listening <url>" once
ready; SIGTERM/SIGINT stop it at once (requests aborted, KMS relay connections cut).

  --enclave ADDR     the enclave API (HOST:PORT or http URL; on AWS the socat VSOCK-CONNECT bridge)
  --log URL          the Keycast log (read through the verifying log client; retries are said on stderr)
  --log-key VKEY|FILE  the log's note verifier key: the host then also checks the checkpoint's and
                     the status's signatures before forwarding (the enclave checks them regardless)
  --listen HOST:PORT the public API
  --store DIR|s3://bucket/prefix   where sealed artefacts go (default ./keycast-host-store)
  --s3-endpoint URL, --s3-region R  for an S3 store (credentials from the usual AWS chain)
  --refresh S        seconds between proof refreshes (default 30; keep refresh + the log's
                     --witness-refresh well inside the image's maxCheckpointAgeSeconds)
  --kms-listen HOST:PORT --kms-target HOST:PORT   relay TCP to KMS (dev-kms locally; vsock-proxy on AWS)
  --credentials-listen HOST:PORT  serve the instance role's credentials (read through IMDSv2) to the
                     enclave as the AWS SDK's container-credentials endpoint (GET /v1/aws-credentials,
                     token-protected; the token goes to the enclave before every refresh round). On
                     AWS: 127.0.0.1:8002, bridged from vsock port 8002 (enclave/deploy)
  --imds-endpoint URL  the instance metadata service (default http://169.254.169.254)
${SERVER_LIMIT_FLAGS_HELP}`,
  async run(args) {
    const v = parse(args, {
      'credentials-listen': { type: 'string' },
      'imds-endpoint': { type: 'string' },
      enclave: { type: 'string' },
      log: urlOption(),
      'log-key': { type: 'string' },
      listen: { type: 'string' },
      store: { type: 'string' },
      's3-endpoint': urlOption(),
      's3-region': { type: 'string' },
      refresh: { type: 'string' },
      'kms-listen': { type: 'string' },
      'kms-target': { type: 'string' },
      ...serverLimitFlagOptions(),
    });
    for (const f of ['enclave', 'log', 'listen']) if (typeof v[f] !== 'string') throw usage(`--${f} is required`);
    const enclave = v.enclave as string;
    const enclaveUrl = /^https?:\/\//.test(enclave)
      ? enclave
      : (() => {
          const a = hostPort(enclave, 'enclave');
          return `http://${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
        })();
    if (!/^https?:\/\//.test(v.log as string)) throw usage('--log must be an http(s) URL');
    const { host, port } = hostPort(v.listen as string);
    if ((v['kms-listen'] === undefined) !== (v['kms-target'] === undefined))
      throw usage('--kms-listen and --kms-target go together');
    if (v['imds-endpoint'] !== undefined && v['credentials-listen'] === undefined)
      throw usage('--imds-endpoint applies only with --credentials-listen');
    const imds = v['imds-endpoint'];
    if (typeof imds === 'string' && !/^https?:\/\//.test(imds)) throw usage('--imds-endpoint must be an http(s) URL');
    const s3: Record<string, unknown> = {};
    if (typeof v['s3-endpoint'] === 'string') Object.assign(s3, { endpoint: v['s3-endpoint'], forcePathStyle: true });
    if (typeof v['s3-region'] === 'string') s3.region = v['s3-region'];
    return runHost({
      enclaveUrl,
      logUrl: v.log as string,
      ...(typeof v['log-key'] === 'string' ? { logKey: vkeyArg(v['log-key']) } : {}),
      host,
      port,
      store: typeof v.store === 'string' ? v.store : 'keycast-host-store',
      s3,
      refreshSeconds: seconds(v.refresh, 'refresh', 30),
      limits: limitsFrom(v),
      ...(typeof v['credentials-listen'] === 'string'
        ? {
            credentials: {
              listen: hostPort(v['credentials-listen'], 'credentials-listen'),
              ...(typeof imds === 'string' ? { imdsEndpoint: imds } : {}),
            },
          }
        : {}),
      ...(typeof v['kms-listen'] === 'string'
        ? {
            kmsRelay: {
              listen: hostPort(v['kms-listen'], 'kms-listen'),
              target: hostPort(v['kms-target'] as string, 'kms-target'),
            },
          }
        : {}),
    });
  },
};

export const commands: Command[] = [hostRun];
