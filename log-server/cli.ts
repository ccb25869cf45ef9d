/**
 * `keycast log …` commands: init, vkey, serve. Matches cli/command.ts structurally.
 */
import { checkUrl, hostPort, parseFlags, requireFlag, urlOption, usageError, type Command } from '#flag-kit';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import { createLog, createPgLog, migrateToPg, DB_FILE } from './src/log.ts';
import { isPgUrl } from './src/storage/pg-url.ts';
import { openSqliteStorage } from './src/storage/sqlite.ts';
import type { ServeOptions } from './src/serve.ts';
import { witnessCommands, limitsFlags } from './src/witness/cli.ts';
import { DEFAULT_WITNESS_REFRESH_SECONDS } from './src/witness/refresh.ts';
import {
  keylessPublishers,
  parseIdentityPolicy,
  parseTrustedRoot,
  publicGoodTrustedRoot,
  type KeylessPublishers,
} from '#verifier';
import { parseCertificate, pemCertificates } from '#verifier/build';
import { SERVER_LIMIT_FLAGS_HELP, serverLimitFlagOptions } from '#verifier/build';

const init: Command = {
  path: ['log', 'init'],
  summary: 'create a log database and its Ed25519 checkpoint key',
  help: `keycast log init --data DIR --origin ORIGIN [--json]
       keycast log init --store postgres://USER@HOST:PORT/DB --origin ORIGIN --key-out FILE [--json]

Creates DIR/log.db (SQLite) and DIR/log.key (mode 0600; the checkpoint signing key, named ORIGIN),
signs the empty checkpoint, and prints the log's verifier key (vkey). ORIGIN is the log's
scheme-less URL prefix, e.g. log.example.com/keycast. Refuses to overwrite an existing log.
With --store, the log's tables go into that (empty) PostgreSQL database, shared by any number of
\`keycast log serve --store\` processes, and the key into FILE (mode 0600, never overwritten).`,
  async run(args) {
    const v = parseFlags(args, {
      data: { type: 'string' },
      store: { type: 'string' },
      'key-out': { type: 'string' },
      origin: { type: 'string' },
    }).values;
    const origin = requireFlag(v, 'origin');
    const { vkey } =
      typeof v.store === 'string'
        ? await createPgLog(pgUrl(v.store), origin, requireFlag(v, 'key-out'))
        : createLog(requireFlag(v, 'data'), origin);
    console.log(v.json ? JSON.stringify({ vkey, origin: v.origin }) : vkey);
    return 0;
  },
};

const vkey: Command = {
  path: ['log', 'vkey'],
  summary: "print the log's verifier key",
  help: `keycast log vkey (--data DIR | --store postgres://…) [--json]

Prints the C2SP verifier key (name+keyid+base64) recorded in DIR/log.db or in the database.`,
  async run(args) {
    const v = parseFlags(args, { data: { type: 'string' }, store: { type: 'string' } }).values;
    let meta: { vkey: string; origin: string };
    if (typeof v.store === 'string') {
      const { PgLogStore } = await import('./src/storage/postgres.ts');
      const store = await PgLogStore.open(pgUrl(v.store));
      meta = { vkey: store.vkey, origin: store.origin };
      await store.close();
    } else {
      const storage = openSqliteStorage(join(requireFlag(v, 'data'), DB_FILE));
      meta = { vkey: storage.vkey, origin: storage.origin };
      storage.close();
    }
    console.log(v.json ? JSON.stringify(meta) : meta.vkey);
    return 0;
  },
};

const migrate: Command = {
  path: ['log', 'migrate'],
  summary: 'move a SQLite log into an empty PostgreSQL database, byte for byte',
  help: `keycast log migrate --from DIR --to postgres://USER@HOST:PORT/DB [--json]

Checks the SQLite log in DIR as \`log serve\` would, copies every entry, stored hash and the latest
checkpoint (with its cosignatures) into the empty database in one transaction, then opens the
database as a server does (every hash re-derived, the checkpoint verified). The tree is unchanged:
the same checkpoint, tiles and proofs. Serve it with \`keycast log serve --store URL --key DIR/log.key\`.
Stop the SQLite server first: entries it takes after the copy began are not moved.`,
  async run(args) {
    const v = parseFlags(args, { from: { type: 'string' }, to: { type: 'string' } }).values;
    const r = await migrateToPg(requireFlag(v, 'from'), pgUrl(requireFlag(v, 'to')));
    console.log(v.json ? JSON.stringify(r) : `migrated ${r.size} entries; vkey ${r.vkey}`);
    return 0;
  },
};

const serveCmd: Command = {
  path: ['log', 'serve'],
  summary: 'serve the log over HTTP (add-entry, tiles, lookups, proofs)',
  help: `keycast log serve (--data DIR | --store postgres://… --key FILE) --listen HOST:PORT [--trust-signer PEM ...]
       [--trust-rebuilder PEM ...] [--trust-identity POLICY.json ... [--trusted-root FILE]] [--trust-root PEM]
       [--witness VKEY=URL ... [--witness-refresh SECONDS]]
       [--tiles s3://BUCKET[/PREFIX] | --s3-bucket B [--s3-prefix P]] [--s3-endpoint URL] [--s3-region R]
       [--batch-max N] [--pool-max N] [--admission-workers N]
       [--max-connections N] [--request-timeout MS] [--headers-timeout MS] [--keep-alive-timeout MS] [--json]

Opens the log in DIR (fails closed unless key, database and last checkpoint agree) and serves:
(with --store, the log in that PostgreSQL database: any number of servers may share it; each
verifies the whole tree on start and refuses to serve if the database's tree head disagrees with
its tiles or the --tiles bucket holds a checkpoint ahead of the database)
  POST /add-entry                      a Sigstore bundle → { index, leafHash, transparencyLogEntry };
                                       or {"kind":"identity","attestation":B64} (an enclave registers its
                                       receipt key) or {"kind":"delivery","envelope":{…},"manifest":B64}
                                       (a delivery entry signed by a registered receipt key, with its
                                       sealed manifest, stored before the answer)
  GET  /checkpoint, /tile/…            c2sp.org/tlog-tiles
  GET  /entry/<i>, /lookup/{pcr0,eif,commit}/<hex>, /proof/inclusion, /proof/consistency
  GET  /delivery-manifest/<sha256>     a sealed delivery manifest (only the studio's audit key opens it)
  GET  /identity/<sha256>              { index } of the identity entry registering that receipt key
--trust-signer   a PEM file with a public key (or certificate) allowed to publish; repeatable.
--trust-rebuilder  a PEM public key allowed to log rebuild endorsements (keycast endorse);
                 repeatable. Without it the log admits no endorsement (SIGNER_NOT_ALLOWED), so
                 keycast verify release --require-rebuilds can never pass against it.
--trust-identity a JSON file naming a keyless publisher as cosign's flags do:
                 {"identity" | "identityRegexp", "issuer", "githubWorkflowRepository", "githubWorkflowRef",
                  "githubWorkflowSha", "githubWorkflowTrigger", "githubWorkflowName"} (or a list of them);
                 its bundles must verify as keyless Sigstore bundles (Fulcio chain, SCT, a timestamp inside
                 the certificate's validity) under --trusted-root; repeatable.
--trusted-root   Sigstore trusted_root.json for --trust-identity (default: the public-good root).
--trust-root     PEM root certificate(s) enclave identity attestations must chain to (default: the
                 AWS Nitro Enclaves root G1). Identity entries are admitted only from attestations
                 under it whose PCR0 is an active release of this log; delivery entries only from
                 receipt keys such an entry registered. The NSM simulator's test root only for tests
                 and the demo.
--witness        a witness verifier key and its add-checkpoint URL prefix; repeatable.
--witness-refresh  seconds between asking the witnesses to cosign the unchanged checkpoint again, so
                 its cosignatures stay fresh without appends (default ${DEFAULT_WITNESS_REFRESH_SECONDS}; keep it well inside
                 the enclaves' maxCheckpointAgeSeconds).
--s3-bucket      mirror tiles and checkpoints to S3 (credentials from the usual AWS settings).
--tiles          the same, as one URL: s3://BUCKET[/PREFIX].
--admission-workers  threads verifying submitted bundles (default: cores - 1, at most 2; 0 = inline).
--pool-max       submissions waiting at most; beyond it 503 + Retry-After (default 16384).
${SERVER_LIMIT_FLAGS_HELP}
Prints "listening <url>" on stdout once ready; SIGTERM/SIGINT drain and stop.`,
  async run(args) {
    const v = parseFlags(args, {
      data: { type: 'string' },
      store: { type: 'string' },
      key: { type: 'string' },
      tiles: { type: 'string' },
      listen: { type: 'string' },
      'trust-signer': { type: 'string', multiple: true },
      'trust-rebuilder': { type: 'string', multiple: true },
      'trust-identity': { type: 'string', multiple: true },
      'trusted-root': { type: 'string' },
      'trust-root': { type: 'string' },
      witness: { type: 'string', multiple: true },
      'witness-refresh': { type: 'string' },
      's3-bucket': { type: 'string' },
      's3-endpoint': urlOption(),
      's3-region': { type: 'string' },
      's3-prefix': { type: 'string' },
      'batch-max': { type: 'string' },
      'pool-max': { type: 'string' },
      'admission-workers': { type: 'string' },
      ...serverLimitFlagOptions(),
    }).values;
    const opts: ServeOptions = {
      ...(typeof v.store === 'string'
        ? { store: { url: pgUrl(v.store), keyFile: requireFlag(v, 'key') } }
        : { dir: requireFlag(v, 'data') }),
      ...hostPort(requireFlag(v, 'listen')),
      allowedSigners: ((v['trust-signer'] as string[] | undefined) ?? []).map((f) => readFileSync(f, 'utf8')),
      allowedRebuilders: ((v['trust-rebuilder'] as string[] | undefined) ?? []).map((f) => readFileSync(f, 'utf8')),
      witnesses: ((v.witness as string[] | undefined) ?? []).map(witnessSpec),
      witnessRefreshSeconds: intFlag(v, 'witness-refresh', DEFAULT_WITNESS_REFRESH_SECONDS),
      batchMax: intFlag(v, 'batch-max', 4096),
      poolMax: intFlag(v, 'pool-max', 16384),
      admissionWorkers:
        v['admission-workers'] === '0'
          ? 0
          : intFlag(v, 'admission-workers', Math.min(2, Math.max(1, availableParallelism() - 1))),
      limits: limitsFlags(v),
    };
    if (typeof v['trust-root'] === 'string') opts.trustRoots = trustRoots(v['trust-root']);
    const identities = identityPublishers(v);
    if (identities) opts.allowedIdentities = identities;
    if (typeof v.tiles === 'string') {
      const m = /^s3:\/\/([^/]+)(?:\/(.*))?$/.exec(v.tiles);
      if (!m) throw usageError('--tiles must be s3://BUCKET[/PREFIX]');
      opts.s3 = {
        bucket: m[1]!,
        endpoint: v['s3-endpoint'] as string | undefined,
        region: v['s3-region'] as string | undefined,
        prefix: m[2] || undefined,
      };
    } else if (typeof v['s3-bucket'] === 'string') {
      opts.s3 = {
        bucket: v['s3-bucket'],
        endpoint: v['s3-endpoint'] as string | undefined,
        region: v['s3-region'] as string | undefined,
        prefix: v['s3-prefix'] as string | undefined,
      };
    }
    const { serve } = await import('./src/serve.ts'); // loads fastify, the policy and the AWS SDK only when serving
    return serve(opts);
  },
};

/** --trust-identity FILE… (JSON identity policies) and their --trusted-root; usage errors name the file. */
function identityPublishers(v: Record<string, unknown>): KeylessPublishers | undefined {
  const files = (v['trust-identity'] as string[] | undefined) ?? [];
  if (files.length === 0) {
    if (v['trusted-root'] !== undefined) throw usageError('--trusted-root needs --trust-identity');
    return undefined;
  }
  const policies = files.flatMap((f) => {
    try {
      const j = JSON.parse(readFileSync(f, 'utf8')) as unknown;
      return (Array.isArray(j) ? j : [j]).map((p) => parseIdentityPolicy(p));
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT' || (e as { code?: string }).code === 'EACCES') throw e;
      throw usageError(`--trust-identity ${f}: ${(e as Error).message}`);
    }
  });
  const rootFile = v['trusted-root'];
  const root = typeof rootFile === 'string' ? parseTrustedRoot(readFileSync(rootFile)) : publicGoodTrustedRoot();
  return keylessPublishers(policies, root);
}

/** --trust-root FILE: PEM certificates, each a well-formed X.509 certificate (usage error otherwise). */
function trustRoots(file: string): Uint8Array[] {
  const text = readFileSync(file, 'utf8');
  try {
    const ders = pemCertificates(text);
    for (const d of ders) parseCertificate(d);
    return ders;
  } catch (e) {
    throw usageError(`--trust-root ${file}: not PEM certificates (${(e as Error).message})`);
  }
}

function pgUrl(s: string): string {
  if (!isPgUrl(s)) throw usageError('--store/--to must be a postgres:// (or postgresql://) URL');
  return s;
}

function witnessSpec(s: string): { vkey: string; url: string } {
  const i = s.indexOf('=');
  if (i <= 0) throw usageError('--witness must be VKEY=URL');
  checkUrl(s.slice(i + 1), 'witness');
  return { vkey: s.slice(0, i), url: s.slice(i + 1) };
}

function intFlag(v: Record<string, unknown>, name: string, dflt: number): number {
  const s = v[name];
  if (s === undefined) return dflt;
  if (typeof s !== 'string' || !/^[1-9][0-9]{0,6}$/.test(s)) throw usageError(`--${name} must be a positive integer`);
  return Number(s);
}

export const commands: Command[] = [init, vkey, serveCmd, migrate, ...witnessCommands];
