/** Which folder answers which first word. Each folder adds its line when its CLI lands. */
import { group } from './registry.ts';

group(['log'], () => import('../log-server/cli.ts'));
group(['witness'], () => import('../log-server/cli.ts'));
group(['build', 'describe-eif', 'diff-eif', 'release'], () => import('../builder/cli.ts'));
group(['verify', 'rules', 'seal', 'kdm', 'receipt'], () => import('../verifier/cli.ts'));
group(['nsm', 'enclave', 'host', 'dev-kms', 'kms-policy', 'dev'], () => import('../enclave/cli.ts'));
group(['demo'], () => import('./demo.ts'));
