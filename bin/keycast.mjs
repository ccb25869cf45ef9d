#!/usr/bin/env node
// The `keycast` command. TypeScript sources run through tsx's loader; no build step.
import { register } from 'tsx/esm/api';

// The AWS SDK warns once per process, on Node < 22, that its releases after January 2027 will need
// Node 22: every enclave, host and log log would carry it. The README states the supported Node
// versions once; the SDK's own switch turns off exactly that warning (set it to anything but "true"
// to see it again), and every other warning still prints.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
register();
const { main } = await import('../cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
