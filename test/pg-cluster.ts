/**
 * The one test helper for PostgreSQL: a private cluster in a temporary directory (Debian's
 * initdb + pg_ctl, run as an unprivileged user because PostgreSQL refuses to run as root), on a
 * free loopback port, stopped and removed after the test. No mock database: tests that need
 * PostgreSQL and cannot find it skip with the reason `pgUnavailable()` gives.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface PgCluster {
  /** `postgres://…` of a fresh database in this cluster (each call creates another). */
  database(name: string): Promise<string>;
  stop(): void;
}

const NOBODY = 65534;

/** The directory holding initdb and pg_ctl, or null. */
function binDir(): string | null {
  const fromConfig = spawnSync('pg_config', ['--bindir'], { encoding: 'utf8' });
  if (fromConfig.status === 0 && existsSync(join(fromConfig.stdout.trim(), 'initdb'))) return fromConfig.stdout.trim();
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return null;
  const versions = readdirSync(base)
    .filter((v) => existsSync(join(base, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length > 0 ? join(base, versions[0]!, 'bin') : null;
}

/** Why PostgreSQL tests cannot run here, or null when they can. */
export function pgUnavailable(): string | null {
  if (!binDir()) return 'PostgreSQL is not installed (Debian package postgresql: initdb and pg_ctl not found)';
  const root = process.getuid?.() === 0;
  if (root && spawnSync('setpriv', ['--version']).status !== 0)
    return 'running as root without setpriv, so PostgreSQL cannot be started as an unprivileged user';
  return null;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** Starts a private cluster; register `stop` with t.after. */
export async function startPgCluster(): Promise<PgCluster> {
  const bin = binDir();
  if (!bin) throw new Error(pgUnavailable() ?? 'no PostgreSQL');
  const dir = mkdtempSync(join(tmpdir(), 'keycast-pg-'));
  const asUser = process.getuid?.() === 0;
  if (asUser) chownSync(dir, NOBODY, NOBODY);
  const run = (cmd: string, args: string[]) =>
    asUser
      ? execFileSync(
          'setpriv',
          ['--reuid', String(NOBODY), '--regid', String(NOBODY), '--clear-groups', join(bin, cmd), ...args],
          {
            stdio: 'pipe',
          },
        )
      : execFileSync(join(bin, cmd), args, { stdio: 'pipe' });
  const data = join(dir, 'data');
  run('initdb', ['-D', data, '-U', 'keycast', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  const port = await freePort();
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=200 -c shared_buffers=32MB`;
  run('pg_ctl', ['-D', data, '-l', join(dir, 'log'), '-o', opts, '-w', '-t', '30', 'start']);
  let stopped = false;
  const admin = `postgres://keycast@127.0.0.1:${port}/postgres`;
  return {
    async database(name: string) {
      const { default: pg } = await import('pg');
      const c = new pg.Client({ connectionString: admin });
      await c.connect();
      try {
        await c.query(`CREATE DATABASE "${name.replace(/[^a-z0-9_]/g, '_')}"`);
      } finally {
        await c.end();
      }
      return `postgres://keycast@127.0.0.1:${port}/${name.replace(/[^a-z0-9_]/g, '_')}`;
    },
    stop() {
      if (stopped) return;
      stopped = true;
      try {
        run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
