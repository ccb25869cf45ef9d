/**
 * The sigstore-js packages (CommonJS), loaded on first use: they cost ~0.5 s and ~10 MB at
 * startup, and most importers of #verifier (the enclave, the log's hot path) never call them.
 */
import { createRequire } from 'node:module';
import type * as SigstoreBundle from '@sigstore/bundle';
import type * as ProtobufSpecs from '@sigstore/protobuf-specs';
import type * as SigstoreVerify from '@sigstore/verify';

export interface SigstoreLibs {
  bundle: typeof SigstoreBundle;
  specs: typeof ProtobufSpecs;
  verify: typeof SigstoreVerify;
}

let cached: SigstoreLibs | undefined;

export function sigstoreLibs(): SigstoreLibs {
  if (!cached) {
    const req = createRequire(import.meta.url);
    cached = {
      bundle: req('@sigstore/bundle'),
      specs: req('@sigstore/protobuf-specs'),
      verify: req('@sigstore/verify'),
    };
  }
  return cached;
}
