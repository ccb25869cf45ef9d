#!/usr/bin/env node
// The Sigstore conformance suite's client entrypoint: `verify-bundle …` → `keycast verify bundle …`.
import { register } from 'tsx/esm/api';

register();
const { conformanceMain } = await import('../cli/sigstore-conformance.ts');
process.exitCode = await conformanceMain(process.argv.slice(2));
