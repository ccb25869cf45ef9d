/**
 * `npm run synth [-- -c key=value ...] [--output DIR]`: synthesizes the cloud assembly (default
 * cdk.out/) from cdk.json's context and the given values, offline. Also the CDK CLI's app
 * (cdk.json "app"), which passes context itself. A refused setting exits 2 saying which and why.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../lib/config.ts';
import { buildApp } from '../lib/app.ts';

const here = join(import.meta.dirname, '..');
const context: Record<string, unknown> = {};
let outdir: string | undefined;
// outside the CDK CLI, read cdk.json's context ourselves (the CLI passes it as CDK_CONTEXT_JSON)
if (process.env.CDK_CONTEXT_JSON === undefined)
  Object.assign(context, (JSON.parse(readFileSync(join(here, 'cdk.json'), 'utf8')) as { context?: object }).context);
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  const a = args[i]!;
  if ((a === '-c' || a === '--context') && args[i + 1]?.includes('=')) {
    const kv = args[++i]!;
    const eq = kv.indexOf('=');
    context[kv.slice(0, eq)] = kv.slice(eq + 1);
  } else if ((a === '-o' || a === '--output') && args[i + 1]) outdir = args[++i];
  else {
    console.error(`synth: unknown argument ${a} (use -c key=value, --output DIR)`);
    process.exit(2);
  }
}
try {
  const { app, config } = buildApp({
    context,
    outdir: outdir ?? process.env.CDK_OUTDIR ?? join(here, 'cdk.out'),
  });
  const assembly = app.synth();
  console.log(`synth: ${assembly.stacks.map((s) => s.stackName).join(', ')} → ${assembly.directory}`);
  if (!config.service) console.log('synth: no eifUri: the key stack only (first deployment, before a release)');
} catch (e) {
  if (e instanceof ConfigError) {
    console.error(`synth: ${e.message}`);
    process.exit(2);
  }
  throw e;
}
