/**
 * The limits every Keycast HTTP server runs with (log, witness, and the enclave's host, enclave
 * and dev-kms services): how long a peer may take to send a request, how long an idle
 * connection is kept, how many requests one connection may carry, and how many connections are
 * open at once. Without them node/fastify wait forever for a body trickled in a byte at a time
 * (fastify's requestTimeout is 0), and enough such peers exhaust the file descriptors the log
 * also needs to reach its witnesses and its database.
 *
 * Pure data: this module imports nothing and does no I/O, so every folder can use it through
 * `#verifier` (folders may not import each other). A server applies it in two steps:
 *
 *   const limits = serverLimits(overrides);             // validated numbers (flags → overrides)
 *   const app = Fastify({ ...serverOptions(limits), logger, bodyLimit, … });
 *   limitConnections(app.server, limits);              // node's maxConnections (no fastify option)
 *
 * The defaults and why:
 * - headersTimeoutMs 10 s: a client sends its request line and headers at once; 10 s tolerates
 *   a slow link (node's default is 60 s, which lets a slowloris hold a socket a minute per try).
 * - requestTimeoutMs 30 s: the whole request, body included. Keycast bodies are small (a log
 *   bundle ≤ 256 KiB, a witness request ≤ 64 KiB): 30 s is under 10 KB/s for the largest.
 *   Node checks both at every `checkIntervalMs`, so a peer is cut between the timeout and the
 *   timeout plus one interval.
 * - keepAliveTimeoutMs 10 s: an idle keep-alive connection is closed after 10 s (fastify's 72 s
 *   suits servers behind a load balancer; Keycast's clients reconnect cheaply).
 * - socketTimeoutMs 60 s: a connection with no traffic in either direction (a peer that stopped
 *   reading its answer) is destroyed.
 * - maxRequestsPerSocket 10,000: a keep-alive connection is closed (Connection: close on the
 *   last answer) after that many requests, so one connection cannot pipeline without end;
 *   high enough that a busy client reconnects about once a few seconds at full speed.
 * - maxConnections 512: beyond it, new connections are closed on accept. Below the usual
 *   1,024 file-descriptor soft limit with room for the log's own files, worker threads and
 *   outgoing witness and S3 connections; operators with a raised `ulimit -n` raise it by flag.
 */

export interface ServerLimits {
  /** Time allowed for a request's line and headers (node `headersTimeout`). */
  headersTimeoutMs: number;
  /** Time allowed for the whole request, body included (node `requestTimeout`). */
  requestTimeoutMs: number;
  /** Idle time after which a keep-alive connection is closed (node `keepAliveTimeout`). */
  keepAliveTimeoutMs: number;
  /** Inactivity after which any socket is destroyed (node `server.setTimeout`, fastify `connectionTimeout`). */
  socketTimeoutMs: number;
  /** Requests one connection may carry before the server closes it (node `maxRequestsPerSocket`). */
  maxRequestsPerSocket: number;
  /** Open connections at once; more are closed on accept (node `server.maxConnections`). */
  maxConnections: number;
  /** How often node sweeps connections for the two request timeouts (node `connectionsCheckingInterval`). */
  checkIntervalMs: number;
}

export const SERVER_LIMITS: Readonly<ServerLimits> = Object.freeze({
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 10_000,
  socketTimeoutMs: 60_000,
  maxRequestsPerSocket: 10_000,
  maxConnections: 512,
  checkIntervalMs: 1_000,
});

const KEYS = Object.keys(SERVER_LIMITS) as Array<keyof ServerLimits>;

/**
 * The defaults with `overrides` applied, validated: every value a positive safe integer (no
 * "0 = unlimited": a limit is never switched off), headers no later than the whole request,
 * and the sweep no coarser than the shorter timeout. Throws TypeError naming the bad field.
 */
export function serverLimits(overrides: Partial<ServerLimits> = {}): ServerLimits {
  const out = { ...SERVER_LIMITS };
  for (const [k, v] of Object.entries(overrides)) {
    if (!(KEYS as string[]).includes(k)) throw new TypeError(`unknown server limit ${k}`);
    if (v === undefined) continue;
    if (!Number.isSafeInteger(v) || (v as number) <= 0)
      throw new TypeError(`server limit ${k} must be a positive integer, got ${String(v)}`);
    out[k as keyof ServerLimits] = v as number;
  }
  if (out.headersTimeoutMs > out.requestTimeoutMs)
    throw new TypeError('headersTimeoutMs must not exceed requestTimeoutMs');
  if (overrides.checkIntervalMs === undefined)
    out.checkIntervalMs = Math.min(SERVER_LIMITS.checkIntervalMs, Math.ceil(out.headersTimeoutMs / 4));
  return out;
}

/** The fastify server options for `limits` (spread into `Fastify({...})`). */
export function serverOptions(limits: ServerLimits = serverLimits()): {
  requestTimeout: number;
  connectionTimeout: number;
  keepAliveTimeout: number;
  maxRequestsPerSocket: number;
  http: {
    headersTimeout: number;
    requestTimeout: number;
    keepAliveTimeout: number;
    connectionsCheckingInterval: number;
  };
} {
  return {
    requestTimeout: limits.requestTimeoutMs,
    connectionTimeout: limits.socketTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    maxRequestsPerSocket: limits.maxRequestsPerSocket,
    http: {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      connectionsCheckingInterval: limits.checkIntervalMs,
    },
  };
}

/** Applies the connection cap to a node server (fastify's `app.server`); fastify has no option for it. */
export function limitConnections(server: { maxConnections: number }, limits: ServerLimits = serverLimits()): void {
  server.maxConnections = limits.maxConnections;
}

/** The flags an operator sets limits with (values in milliseconds for the timeouts), by limit. */
export const SERVER_LIMIT_FLAGS = Object.freeze({
  'max-connections': 'maxConnections',
  'request-timeout': 'requestTimeoutMs',
  'headers-timeout': 'headersTimeoutMs',
  'keep-alive-timeout': 'keepAliveTimeoutMs',
} as const satisfies Record<string, keyof ServerLimits>);

/** The parseArgs option specs for SERVER_LIMIT_FLAGS (spread into a command's flag options). */
export function serverLimitFlagOptions(): Record<keyof typeof SERVER_LIMIT_FLAGS, { type: 'string' }> {
  return {
    'max-connections': { type: 'string' },
    'request-timeout': { type: 'string' },
    'headers-timeout': { type: 'string' },
    'keep-alive-timeout': { type: 'string' },
  };
}

/** Help text lines for SERVER_LIMIT_FLAGS, with the defaults. */
export const SERVER_LIMIT_FLAGS_HELP = `--max-connections N       open connections at once (default ${SERVER_LIMITS.maxConnections})
--request-timeout MS      time allowed for a whole request, body included (default ${SERVER_LIMITS.requestTimeoutMs})
--headers-timeout MS      time allowed for a request's headers (default ${SERVER_LIMITS.headersTimeoutMs})
--keep-alive-timeout MS   idle keep-alive connections closed after (default ${SERVER_LIMITS.keepAliveTimeoutMs})`;

/**
 * Limits from parsed flag values (SERVER_LIMIT_FLAGS; absent flags keep the defaults): each a
 * positive decimal integer. Throws TypeError naming the flag (the CLI maps it to a usage error).
 */
export function serverLimitsFromFlags(values: Readonly<Record<string, unknown>>): ServerLimits {
  const overrides: Partial<ServerLimits> = {};
  for (const [flag, key] of Object.entries(SERVER_LIMIT_FLAGS)) {
    const v = Object.hasOwn(values, flag) ? values[flag] : undefined;
    if (v === undefined) continue;
    if (typeof v !== 'string' || !/^[1-9][0-9]{0,9}$/.test(v))
      throw new TypeError(`--${flag} must be a positive integer`);
    overrides[key] = Number(v);
  }
  return serverLimits(overrides);
}
