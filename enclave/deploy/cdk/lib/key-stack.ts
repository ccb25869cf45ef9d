/**
 * The long-lived half: the parent instances' role (the "enclave role" of the key policy — the host
 * holds its credentials and serves them to the enclave) and the KMS key whose policy is, verbatim,
 * what `keycast kms-policy` derived from the log. Deployed first (its key ARN goes into the
 * enclave's pinned configuration, before the image is built) and kept across releases: the identity
 * is sealed under this key, so replacing it means a new identity.
 */
import { CfnOutput, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';
import type { KeycastConfig } from './config.ts';

export class KeycastKeyStack extends Stack {
  readonly role: iam.Role;
  readonly key: kms.CfnKey;

  constructor(scope: Construct, id: string, config: KeycastConfig, props: StackProps = {}) {
    super(scope, id, { ...props, env: { account: config.account, region: config.region } });
    // No inline or managed policy grants KMS: the key policy alone lets this role Decrypt and
    // GenerateDataKey, and only with the attestation condition. S3 comes from the service stack.
    this.role = new iam.Role(this, 'ParentRole', {
      roleName: config.enclaveRole.name,
      path: config.enclaveRole.path,
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description: 'Keycast parent instances: the host, and through it the enclave (KMS only by attestation)',
    });
    this.key = new kms.CfnKey(this, 'IdentityKey', {
      description: 'Keycast enclave identity: data keys only for logged, active releases (keycast kms-policy)',
      keySpec: 'SYMMETRIC_DEFAULT',
      keyUsage: 'ENCRYPT_DECRYPT',
      enableKeyRotation: true,
      pendingWindowInDays: 30,
      // the policy exactly as `keycast kms-policy` printed it: nothing added, nothing merged
      keyPolicy: config.keyPolicy,
      // a frozen policy (no --policy-admin) locks the deployer out by design
      bypassPolicyLockoutSafetyCheck: config.policyFrozen,
    });
    // KMS refuses a policy naming a principal that does not exist yet
    this.key.node.addDependency(this.role);
    this.key.applyRemovalPolicy(RemovalPolicy.RETAIN);
    new CfnOutput(this, 'KeyArn', {
      value: this.key.attrArn,
      description: 'kms.keyArn of the enclave configuration',
    });
    new CfnOutput(this, 'EnclaveRoleArn', {
      value: this.role.roleArn,
      description: 'keycast kms-policy --enclave-role',
    });
  }
}
