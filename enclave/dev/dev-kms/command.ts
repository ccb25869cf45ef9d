/** `keycast dev-kms`: the local KMS (see app.ts and sigv4.ts for the protocol and what is checked). */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostPort, parseFlags, requireFlag, usageError, type Command } from '#flag-kit';
import { SERVER_LIMIT_FLAGS_HELP, serverLimitFlagOptions, serverLimitsFromFlags } from '#verifier/build';
import { serveDevKms } from './serve.ts';
import type { Credential } from './sigv4.ts';

const MAX_FILE = 1024 * 1024;

function readSmall(file: string, flag: string): Buffer {
  const b = readFileSync(file);
  if (b.length > MAX_FILE) throw usageError(`--${flag} ${file} is larger than 1 MiB`);
  return b;
}

function readRoots(files: string[]): Uint8Array[] {
  return files.map((f) => {
    try {
      return new Uint8Array(new X509Certificate(readSmall(f, 'trust-root')).raw);
    } catch (e) {
      if ((e as { name?: string }).name === 'UsageError' || (e as NodeJS.ErrnoException).code?.startsWith('E')) throw e;
      throw usageError(`--trust-root ${f}: not a PEM or DER certificate`);
    }
  });
}

function readCredentials(file: string): Credential[] {
  let j: unknown;
  try {
    j = JSON.parse(readSmall(file, 'credentials').toString('utf8'));
  } catch (e) {
    if (e instanceof SyntaxError) throw usageError(`--credentials ${file} is not JSON`);
    throw e;
  }
  const ok = (c: unknown): c is Credential => {
    const x = c as Record<string, unknown>;
    return (
      x !== null &&
      typeof x === 'object' &&
      typeof x.accessKeyId === 'string' &&
      /^[A-Za-z0-9]{1,128}$/.test(x.accessKeyId) &&
      typeof x.secretAccessKey === 'string' &&
      x.secretAccessKey.length > 0 &&
      typeof x.principal === 'string' &&
      /^arn:aws[a-z-]*:(iam|sts)::\d{12}:/.test(x.principal) &&
      (x.sessionToken === undefined || typeof x.sessionToken === 'string')
    );
  };
  if (!Array.isArray(j) || j.length === 0 || !j.every(ok))
    throw usageError(
      `--credentials ${file} must be a JSON list of {accessKeyId, secretAccessKey, principal, sessionToken?}`,
    );
  return j;
}

export const devKmsCommand: Command = {
  path: ['dev-kms'],
  summary: 'A local KMS speaking the real KMS JSON 1.1 protocol, enforcing RecipientAttestation policies',
  help: `Usage: keycast dev-kms --data DIR --listen HOST:PORT [--trust-root PEM ...] [--credentials FILE | --caller ARN]
                       [--region R] [--account ID] [server limits] [--json]

Serves CreateKey, GenerateDataKey, Encrypt, Decrypt (with and without Recipient), GetKeyPolicy and
PutKeyPolicy at POST / (X-Amz-Target: TrentService.<Op>, Content-Type: application/x-amz-json-1.1),
so the real @aws-sdk/client-kms (or the aws CLI with --endpoint-url) talks to it unchanged.

Key policies are enforced: kms:RecipientAttestation:ImageSha384 / PCR<n> conditions hold only for a
Recipient attestation document that verifies (chain, signature, age ≤ 5 min); CiphertextForRecipient
is CMS EnvelopedData exactly as KMS writes it. Keys persist in DIR/keys (files 0600).

  --data DIR            key store (created 0700); DIR/dev-kms.json pins the region and account
  --listen HOST:PORT    e.g. 127.0.0.1:4600 (port 0 picks one)
  --trust-root FILE     PEM/DER root trusted for attestation documents INSTEAD of the AWS Nitro root
                        (repeatable; e.g. the NSM simulator's test root). Default: AWS root only.
  --credentials FILE    JSON [{"accessKeyId","secretAccessKey","sessionToken"?,"principal":"arn:aws:iam::…"}]:
                        SigV4 signatures are VERIFIED and each key acts as its principal.
  --caller ARN          without --credentials: signatures are NOT verified (any well-formed SigV4
                        header within ±5 minutes passes) and every caller acts as ARN
                        (default arn:aws:iam::<account>:role/dev-kms-caller); PutKeyPolicy is then
                        refused for everyone (no caller is known to be the administrator).
                        Local development only.
  --region R            default us-east-1 (or what DIR was created with)
  --account ID          twelve digits; default 111122223333 (or what DIR was created with)
${SERVER_LIMIT_FLAGS_HELP.replace(/^/gm, '  ')}

Every request prints one line (operation, principal, status, error code) — never a body or key.`,
  async run(args) {
    const { values: v } = parseFlags(args, {
      data: { type: 'string' },
      listen: { type: 'string' },
      'trust-root': { type: 'string', multiple: true },
      credentials: { type: 'string' },
      caller: { type: 'string' },
      region: { type: 'string' },
      account: { type: 'string' },
      ...serverLimitFlagOptions(),
    });
    const dataDir = requireFlag(v, 'data');
    const { host, port } = hostPort(requireFlag(v, 'listen'));
    if (v.credentials !== undefined && v.caller !== undefined)
      throw usageError('--caller applies only without --credentials');
    if (typeof v.account === 'string' && !/^\d{12}$/.test(v.account))
      throw usageError('--account must be twelve digits');
    if (typeof v.region === 'string' && !/^[a-z]{2}(-[a-z]+)+-\d$/.test(v.region))
      throw usageError('--region must look like us-east-1');
    if (typeof v.caller === 'string' && !/^arn:aws[a-z-]*:(iam|sts)::\d{12}:[\x21-\x7e]+$/.test(v.caller))
      throw usageError('--caller must be an IAM ARN');
    let limits: ReturnType<typeof serverLimitsFromFlags>;
    try {
      limits = serverLimitsFromFlags(v);
    } catch (e) {
      throw usageError((e as Error).message);
    }
    const roots = readRoots((v['trust-root'] as string[] | undefined) ?? []);
    const credentials = typeof v.credentials === 'string' ? readCredentials(v.credentials) : undefined;
    const json = v.json === true;
    const server = await serveDevKms({
      dataDir,
      host,
      port,
      limits,
      ...(typeof v.region === 'string' ? { region: v.region } : {}),
      ...(typeof v.account === 'string' ? { accountId: v.account } : {}),
      ...(roots.length > 0 ? { trustedRoots: roots } : {}),
      ...(credentials ? { credentials } : {}),
      ...(typeof v.caller === 'string' ? { unverifiedPrincipal: v.caller } : {}),
      onRequestDone: (e) =>
        console.log(
          json
            ? JSON.stringify({ event: 'request', ...e })
            : `${e.operation ?? '-'} ${e.principal ?? '-'} ${e.status}${e.code ? ` ${e.code}` : ''}`,
        ),
    });
    const info = {
      url: server.url,
      region: server.core.region,
      account: server.core.accountId,
      signatures: credentials ? 'verified' : 'NOT verified',
      attestationRoots: roots.length > 0 ? `${roots.length} root(s) from --trust-root` : 'AWS Nitro Enclaves Root G1',
    };
    console.log(
      json
        ? JSON.stringify({ event: 'listening', ...info })
        : `dev-kms listening on ${info.url} (${info.region}, account ${info.account}); signatures ${info.signatures}; attestation root: ${info.attestationRoots}`,
    );
    await new Promise<void>((resolve) => {
      const stop = () => void server.close().then(resolve);
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    return 0;
  },
};
