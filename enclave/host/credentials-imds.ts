/**
 * The parent instance's role credentials, read the IMDSv2 way (what the AWS SDK's
 * fromInstanceMetadata does, written out so the host can hand the result on to the enclave):
 *
 *   PUT  /latest/api/token                                  X-aws-ec2-metadata-token-ttl-seconds: 21600
 *   GET  /latest/meta-data/iam/security-credentials/        X-aws-ec2-metadata-token → the role name
 *   GET  /latest/meta-data/iam/security-credentials/<role>  → { Code: "Success", AccessKeyId,
 *                                                              SecretAccessKey, Token, Expiration, … }
 *
 * Credentials are cached and re-read once they are within `refreshBeforeMs` (default 15 min) of
 * their Expiration — IMDS publishes the next set well before the current one expires, so the
 * enclave's SDK, which asks again five minutes before expiry, always gets a fresh set. A session
 * token the metadata service refuses (401) is renewed once. Every answer is size-capped and
 * checked; anything unexpected is CREDENTIALS_UNAVAILABLE, whose message and evidence name the
 * step and the HTTP status only — never a credential, the session token or a response body.
 */
import { EnclaveError } from '../common/errors.ts';

export interface RoleCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  /** RFC 3339, as IMDS wrote it */
  expiration: string;
}

/** Where the host gets the role credentials it serves (one implementation: ImdsCredentials). */
export interface CredentialSource {
  /** Current credentials, valid for a while yet; throws CREDENTIALS_UNAVAILABLE. */
  get(): Promise<RoleCredentials>;
}

export interface ImdsOptions {
  /** default http://169.254.169.254 (IMDS's IPv4 address); a loopback stand-in in tests */
  endpoint?: string;
  /** default 2 s per request */
  timeoutMs?: number;
  /** re-read credentials this long before they expire (default 15 min) */
  refreshBeforeMs?: number;
  /** IMDSv2 session token lifetime asked for (default 21600 s, the maximum) */
  tokenTtlSeconds?: number;
  now?: () => number;
  fetch?: typeof fetch;
}

const MAX_ANSWER_BYTES = 64 * 1024;
const ROLE_NAME = /^[\w+=,.@-]{1,128}$/;
// What IMDS puts in each field; anything else is refused before it reaches the enclave.
const ACCESS_KEY_ID = /^[A-Z0-9]{16,128}$/;
const SECRET = /^[A-Za-z0-9/+=]{16,256}$/;
const SESSION_TOKEN = /^[A-Za-z0-9/+=]{16,8192}$/;

type Step = 'token' | 'role' | 'credentials';

function unavailable(step: Step, why: string, evidence: Record<string, unknown> = {}): EnclaveError {
  return new EnclaveError('CREDENTIALS_UNAVAILABLE', `instance metadata (${step}): ${why}`, { step, ...evidence });
}

export class ImdsCredentials implements CredentialSource {
  private readonly base: string;
  private token: { value: string; until: number } | null = null;
  private cached: { creds: RoleCredentials; expires: number } | null = null;
  private pending: Promise<RoleCredentials> | null = null;

  constructor(private readonly o: ImdsOptions = {}) {
    this.base = (o.endpoint ?? 'http://169.254.169.254').replace(/\/+$/, '');
  }

  private now(): number {
    return (this.o.now ?? Date.now)();
  }

  get(): Promise<RoleCredentials> {
    const c = this.cached;
    if (c && c.expires - this.now() > (this.o.refreshBeforeMs ?? 15 * 60_000)) return Promise.resolve(c.creds);
    this.pending ??= this.read().finally(() => (this.pending = null));
    return this.pending;
  }

  private async read(): Promise<RoleCredentials> {
    try {
      return await this.readOnce();
    } catch (e) {
      // a session token IMDS no longer accepts: get a new one and try once more
      if (!(e instanceof EnclaveError) || e.evidence.status !== 401) throw e;
      this.token = null;
      return this.readOnce();
    }
  }

  private async readOnce(): Promise<RoleCredentials> {
    const token = await this.sessionToken();
    const path = '/latest/meta-data/iam/security-credentials/';
    const roles = (await this.text('role', path, { headers: { 'x-aws-ec2-metadata-token': token } })).split('\n');
    const role = roles[0]?.trim() ?? '';
    if (!ROLE_NAME.test(role)) throw unavailable('role', 'no instance role is attached (or its name is malformed)');
    const body = await this.text('credentials', path + role, { headers: { 'x-aws-ec2-metadata-token': token } });
    const creds = parseRoleCredentials(body);
    this.cached = { creds, expires: Date.parse(creds.expiration) };
    return creds;
  }

  private async sessionToken(): Promise<string> {
    if (this.token && this.token.until > this.now()) return this.token.value;
    const ttl = this.o.tokenTtlSeconds ?? 21_600;
    const value = await this.text('token', '/latest/api/token', {
      method: 'PUT',
      headers: { 'x-aws-ec2-metadata-token-ttl-seconds': String(ttl) },
    });
    if (!/^[\x21-\x7e]{1,512}$/.test(value)) throw unavailable('token', 'the session token is malformed');
    // renew a minute early so a request never carries a token that expires on the way
    this.token = { value, until: this.now() + Math.max(0, ttl - 60) * 1000 };
    return value;
  }

  private async text(step: Step, path: string, init: RequestInit): Promise<string> {
    let r: Response;
    try {
      r = await (this.o.fetch ?? fetch)(this.base + path, {
        ...init,
        redirect: 'error',
        signal: AbortSignal.timeout(this.o.timeoutMs ?? 2_000),
      });
    } catch (e) {
      throw unavailable(step, 'unreachable', { reason: (e as Error).name });
    }
    if (r.status !== 200) {
      await r.body?.cancel();
      throw unavailable(step, `HTTP ${r.status}`, { status: r.status });
    }
    // read at most MAX_ANSWER_BYTES: a metadata answer is a few KiB
    const chunks: Uint8Array[] = [];
    let size = 0;
    const reader = r.body?.getReader();
    for (;;) {
      const c = reader ? await reader.read() : { done: true as const, value: undefined };
      if (c.done) break;
      size += c.value.length;
      if (size > MAX_ANSWER_BYTES) {
        await reader!.cancel();
        throw unavailable(step, 'the answer is too large', { size });
      }
      chunks.push(c.value);
    }
    return Buffer.concat(chunks).toString('utf8');
  }
}

/** IMDS's credentials document → RoleCredentials, or CREDENTIALS_UNAVAILABLE naming the field (never its value). */
export function parseRoleCredentials(body: string): RoleCredentials {
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(body) as Record<string, unknown>;
  } catch {
    throw unavailable('credentials', 'the answer is not JSON');
  }
  if (j === null || typeof j !== 'object') throw unavailable('credentials', 'the answer is not a JSON object');
  if (j.Code !== 'Success') throw unavailable('credentials', 'the answer is not Code "Success"');
  const field = (name: string, re: RegExp): string => {
    const v = j[name];
    if (typeof v !== 'string' || !re.test(v))
      throw unavailable('credentials', `${name} is missing or malformed`, { field: name });
    return v;
  };
  const expiration = field('Expiration', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/);
  if (!Number.isFinite(Date.parse(expiration)))
    throw unavailable('credentials', 'Expiration is not a date', { field: 'Expiration' });
  return {
    accessKeyId: field('AccessKeyId', ACCESS_KEY_ID),
    secretAccessKey: field('SecretAccessKey', SECRET),
    sessionToken: field('Token', SESSION_TOKEN),
    expiration,
  };
}
