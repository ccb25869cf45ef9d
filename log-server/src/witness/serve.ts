/**
 * `keycast witness serve`: opens (or creates) the witness key and state in DIR, builds the
 * witness app and listens until SIGTERM/SIGINT.
 */
import { noteVerifier } from '#verifier';
import type { ServerLimits } from '#verifier/build';
import { loadOrCreateWitnessKey } from './keys.ts';
import { FileWitnessState } from './state.ts';
import { buildWitnessApp } from './server.ts';

export interface WitnessServeOptions {
  dir: string;
  host: string;
  port: number;
  /** Ed25519 verifier keys of the logs to witness; each key's name is its log's origin. */
  logVkeys: string[];
  name: string;
  json: boolean;
  limits?: ServerLimits;
}

export async function serveWitness(o: WitnessServeOptions): Promise<number> {
  const say = (m: string) => process.stderr.write(m + '\n');
  const logs = o.logVkeys.map((vkey) => ({ origin: noteVerifier(vkey).name, vkey }));
  const key = loadOrCreateWitnessKey(o.dir, o.name);
  say(`${key.created ? 'created' : 'loaded'} witness key; vkey ${key.vkey}`);
  const state = new FileWitnessState(o.dir);
  const app = await buildWitnessApp({
    state,
    signer: key.signer,
    logs,
    log: say,
    ...(o.limits ? { limits: o.limits } : {}),
  });
  const address = await app.listen({ host: o.host, port: o.port });
  for (const l of logs) say(`witnessing ${l.origin} (cosigned size ${state.latest(l.origin)?.size ?? 'none'})`);
  process.stdout.write(
    o.json ? JSON.stringify({ listening: address, vkey: key.vkey }) + '\n' : `listening ${address}\n`,
  );
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  say('witness: shutting down');
  await app.close();
  return 0;
}
