/**
 * An ObjectStore on S3 (or any S3-compatible server) with @aws-sdk/client-s3, so a log's
 * c2sp.org/tlog-tiles layout can be read from a bucket or a CDN in front of it.
 *
 * Caching follows tlog-tiles: tiles and entry bundles are immutable
 * (`Cache-Control: public, max-age=31536000, immutable`); the checkpoint is mutable
 * (`no-cache`, so caches revalidate every time). Credentials, region and endpoint come from
 * the SDK's default provider chain (AWS_* environment, ~/.aws, instance roles) unless given.
 * Retries: the SDK's standard retry strategy (`maxAttempts`, default 5) with backoff.
 * Durability: put resolves once S3 answered 200 (S3 stores durably before answering).
 */
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { S3ClientConfig } from '@aws-sdk/client-s3';
import type { ObjectStore } from '../ports.ts';

export const IMMUTABLE_CACHE_CONTROL = 'public, max-age=31536000, immutable';
export const MUTABLE_CACHE_CONTROL = 'no-cache';

export interface S3ObjectStoreOptions {
  bucket: string;
  /** Key prefix inside the bucket (e.g. "keycast/"); a trailing "/" is added if missing. */
  prefix?: string | undefined;
  /** e.g. http://127.0.0.1:4568 for an S3-compatible server; default: AWS. */
  endpoint?: string | undefined;
  /** Default: the SDK's chain (AWS_REGION, profile), or us-east-1 when nothing is configured. */
  region?: string | undefined;
  /** Path-style URLs (needed by most S3-compatible servers); default true when an endpoint is given. */
  forcePathStyle?: boolean | undefined;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined;
  maxAttempts?: number | undefined;
}

export class S3ObjectStore implements ObjectStore {
  readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;

  constructor(o: S3ObjectStoreOptions) {
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(o.bucket))
      throw new TypeError(`invalid S3 bucket name ${JSON.stringify(o.bucket)}`);
    this.bucket = o.bucket;
    this.prefix = o.prefix ? o.prefix.replace(/^\/+/, '').replace(/\/*$/, '/') : '';
    const config: S3ClientConfig = {
      maxAttempts: o.maxAttempts ?? 5,
      forcePathStyle: o.forcePathStyle ?? o.endpoint !== undefined,
    };
    if (o.endpoint) config.endpoint = o.endpoint;
    const region = o.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
    config.region = region ?? 'us-east-1';
    if (o.credentials) config.credentials = o.credentials;
    this.client = new S3Client(config);
  }

  async put(key: string, body: Uint8Array, opts: { contentType: string; immutable: boolean }): Promise<void> {
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: this.prefix + key,
        Body: body,
        ContentLength: body.length,
        ContentType: opts.contentType,
        CacheControl: opts.immutable ? IMMUTABLE_CACHE_CONTROL : MUTABLE_CACHE_CONTROL,
      }),
    );
  }

  async get(key: string): Promise<Uint8Array | null> {
    try {
      const r = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }));
      if (!r.Body) return new Uint8Array(0);
      return await r.Body.transformToByteArray();
    } catch (e) {
      const err = e as { name?: string; $metadata?: { httpStatusCode?: number } };
      if (err.name === 'NoSuchKey' || err.$metadata?.httpStatusCode === 404) return null;
      throw e;
    }
  }

  /** Releases the client's sockets. */
  close(): void {
    this.client.destroy();
  }
}
