/**
 * AWS Signature Version 4 on dev-kms's side (AWS General Reference, "Create a signed AWS API
 * request"): parse the Authorization header, check the credential scope (this region, service
 * `kms`, the X-Amz-Date day), the clock window (±5 minutes) and, when the server holds the
 * caller's secret, the signature itself over the canonical request (method, path, query,
 * signed headers, body SHA-256). `host`, `x-amz-date` and `x-amz-target` must be signed, so a
 * captured signature cannot be moved to another operation. Exact replays inside the window are
 * refused (ReplayGuard): the SDK re-signs every attempt, so only a copied request repeats one.
 *
 * Without credentials (`verify: false`) any well-formed header passes and every caller is the
 * configured principal — for local development only, and dev-kms says so when it starts.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { EnclaveError } from '../../common/errors.ts';

export interface Credential {
  accessKeyId: string;
  secretAccessKey: string;
  /** required when the credentials are temporary */
  sessionToken?: string;
  /** the IAM principal ARN these credentials act as */
  principal: string;
}

export interface SigV4Options {
  region: string;
  /** access key id → credential; absent: signatures are not verified */
  credentials?: ReadonlyMap<string, Credential>;
  /** the principal of every caller when signatures are not verified */
  unverifiedPrincipal: string;
  now: () => number;
}

export interface SignedRequest {
  method: string;
  path: string;
  /** lower-case header names → values (as node gives them) */
  headers: Record<string, string | string[] | undefined>;
  body: Uint8Array;
}

export const CLOCK_SKEW_MS = 5 * 60_000;
const AUTH_RE =
  /^AWS4-HMAC-SHA256 Credential=([A-Za-z0-9]{1,128})\/(\d{8})\/([a-z0-9-]{1,32})\/([a-z0-9-]{1,32})\/aws4_request, ?SignedHeaders=([a-z0-9;-]{1,1024}), ?Signature=([0-9a-f]{64})$/;
const DATE_RE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;
const MUST_SIGN = ['host', 'x-amz-date', 'x-amz-target'];

const refuse = (
  code: 'KMS_MISSING_AUTHENTICATION' | 'KMS_INVALID_SIGNATURE' | 'KMS_UNRECOGNIZED_CLIENT' | 'KMS_REPLAYED',
  message: string,
): EnclaveError => new EnclaveError(code, message);

function header(h: SignedRequest['headers'], name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v.join(',') : v;
}

const hmac = (key: Buffer | string, data: string): Buffer => createHmac('sha256', key).update(data).digest();
const sha256hex = (data: Uint8Array | string): string => createHash('sha256').update(data).digest('hex');

function canonicalRequest(r: SignedRequest, signed: string[], bodyHash: string): string {
  const [path = '/', query = ''] = r.path.split('?', 2);
  const q = query === '' ? '' : query.split('&').sort().join('&');
  const headers = signed.map((n) => `${n}:${(header(r.headers, n) ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
  return [r.method, path, q, headers, signed.join(';'), bodyHash].join('\n');
}

/** Checks a request's SigV4 authentication; returns the caller's principal ARN. */
export function authenticate(
  r: SignedRequest,
  o: SigV4Options,
  replay: ReplayGuard,
): { principal: string; accessKeyId: string; verified: boolean } {
  const auth = header(r.headers, 'authorization');
  if (auth === undefined)
    throw refuse('KMS_MISSING_AUTHENTICATION', 'the request is not signed (no Authorization header)');
  const m = AUTH_RE.exec(auth);
  if (!m)
    throw refuse(
      'KMS_INVALID_SIGNATURE',
      'the Authorization header is not AWS4-HMAC-SHA256 with Credential, SignedHeaders and Signature',
    );
  const [, accessKeyId, day, region, service, signedList, signature] = m as unknown as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  if (region !== o.region || service !== 'kms')
    throw refuse('KMS_INVALID_SIGNATURE', `the credential scope names ${region}/${service}, this is ${o.region}/kms`);
  const signed = signedList.split(';');
  if (signed.some((n, i) => n === '' || (i > 0 && signed[i - 1]! >= n)))
    throw refuse('KMS_INVALID_SIGNATURE', 'SignedHeaders must be sorted, lower-case and unique');
  const missing = MUST_SIGN.filter((n) => !signed.includes(n));
  if (missing.length > 0) throw refuse('KMS_INVALID_SIGNATURE', `these headers must be signed: ${missing.join(', ')}`);
  if (signed.some((n) => header(r.headers, n) === undefined))
    throw refuse('KMS_INVALID_SIGNATURE', 'a signed header is missing from the request');
  const amzDate = header(r.headers, 'x-amz-date') ?? '';
  const d = DATE_RE.exec(amzDate);
  const when = d ? Date.UTC(+d[1]!, +d[2]! - 1, +d[3]!, +d[4]!, +d[5]!, +d[6]!) : NaN;
  if (!d || !amzDate.startsWith(day) || Number.isNaN(when))
    throw refuse('KMS_INVALID_SIGNATURE', 'X-Amz-Date is not a basic ISO 8601 UTC time on the credential day');
  if (Math.abs(o.now() - when) > CLOCK_SKEW_MS)
    throw refuse('KMS_INVALID_SIGNATURE', 'Signature expired: X-Amz-Date is more than 5 minutes from the server clock');
  let principal = o.unverifiedPrincipal;
  if (o.credentials) {
    const cred = o.credentials.get(accessKeyId);
    if (!cred)
      throw refuse(
        'KMS_UNRECOGNIZED_CLIENT',
        'the security token included in the request is invalid (unknown access key)',
      );
    if (
      (cred.sessionToken ?? undefined) !== header(r.headers, 'x-amz-security-token') ||
      (cred.sessionToken !== undefined && !signed.includes('x-amz-security-token'))
    ) {
      throw refuse('KMS_UNRECOGNIZED_CLIENT', 'the security token included in the request is invalid');
    }
    const bodyHash = sha256hex(r.body);
    const claimed = header(r.headers, 'x-amz-content-sha256');
    if (claimed !== undefined && claimed !== bodyHash)
      throw refuse('KMS_INVALID_SIGNATURE', 'X-Amz-Content-Sha256 does not match the body');
    const scope = `${day}/${region}/kms/aws4_request`;
    const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256hex(canonicalRequest(r, signed, bodyHash))].join('\n');
    const key = hmac(hmac(hmac(hmac(`AWS4${cred.secretAccessKey}`, day), region), 'kms'), 'aws4_request');
    const want = hmac(key, toSign);
    if (!timingSafeEqual(want, Buffer.from(signature, 'hex')))
      throw refuse(
        'KMS_INVALID_SIGNATURE',
        'the request signature we calculated does not match the signature you provided',
      );
    principal = cred.principal;
  }
  replay.check(signature, when + CLOCK_SKEW_MS);
  return { principal, accessKeyId, verified: o.credentials !== undefined };
}

/** Remembers signatures until their request can no longer pass the clock window. */
export class ReplayGuard {
  private readonly seen = new Map<string, number>();
  constructor(
    private readonly now: () => number,
    private readonly max = 100_000,
  ) {}

  check(signature: string, expires: number): void {
    const now = this.now();
    if (this.seen.has(signature)) throw refuse('KMS_REPLAYED', 'this signed request was already received (replay)');
    if (this.seen.size >= this.max) {
      for (const [s, exp] of this.seen) if (exp < now) this.seen.delete(s);
      if (this.seen.size >= this.max)
        throw new EnclaveError('KMS_UNAVAILABLE', 'too many signed requests in the clock window; try again shortly');
    }
    this.seen.set(signature, expires);
  }
}
