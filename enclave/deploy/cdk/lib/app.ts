/**
 * The Keycast CDK app: the key stack always, the service stack once a release is named (`eifUri`).
 * Context comes from cdk.json, from `-c key=value` (the CDK CLI passes them as CDK_CONTEXT_JSON)
 * and from the caller; nothing is looked up in an AWS account, so synth runs offline.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { App } from 'aws-cdk-lib';
import { readConfig, type KeycastConfig } from './config.ts';
import { KeycastKeyStack } from './key-stack.ts';
import { KeycastServiceStack } from './service-stack.ts';

export interface KeycastApp {
  app: App;
  config: KeycastConfig;
  keys: KeycastKeyStack;
  service?: KeycastServiceStack;
}

/** `context` overrides what the App already has; relative policy paths are resolved from `cwd`. */
export function buildApp(opts: { context?: Record<string, unknown>; outdir?: string; cwd?: string } = {}): KeycastApp {
  const app = new App({ ...(opts.outdir ? { outdir: opts.outdir } : {}), context: opts.context ?? {} });
  const cwd = opts.cwd ?? process.cwd();
  const config = readConfig(
    (k) => app.node.tryGetContext(k),
    (p) => readFileSync(resolve(cwd, p), 'utf8'),
  );
  const keys = new KeycastKeyStack(app, 'KeycastKey', config);
  const service = config.service ? new KeycastServiceStack(app, 'KeycastService', config, keys) : undefined;
  return { app, config, keys, ...(service ? { service } : {}) };
}
