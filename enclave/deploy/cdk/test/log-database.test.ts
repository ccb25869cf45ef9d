/**
 * When the log runs on AWS (`-c logOnAws=true`, one synth for the file): its Aurora PostgreSQL in
 * the private subnets, encrypted, IAM authentication on, kept on delete, reachable from the log's
 * security group only; the log's role mirrors tiles under its own prefix and connects as its user.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { buildApp } from '../lib/app.ts';
import { exampleContext } from './helpers.ts';

const built = buildApp({
  context: exampleContext({ logOnAws: 'true' }),
  outdir: mkdtempSync(join(tmpdir(), 'kc-cdk-')),
});
const t = Template.fromStack(built.service!);

test('Aurora PostgreSQL for the log: private, encrypted, IAM auth, deletion-protected, snapshot on delete', () => {
  t.hasResource('AWS::RDS::DBCluster', {
    Properties: Match.objectLike({
      Engine: 'aurora-postgresql',
      StorageEncrypted: true,
      EnableIAMDatabaseAuthentication: true,
      DeletionProtection: true,
      DatabaseName: 'keycast_log',
    }),
    DeletionPolicy: 'Snapshot',
  });
  t.resourceCountIs('AWS::RDS::DBInstance', 2);
  t.hasResourceProperties('AWS::RDS::DBInstance', { PubliclyAccessible: false });
  // 5432 from the log's security group, and from nothing else
  const ingress = Object.values(t.findResources('AWS::EC2::SecurityGroupIngress')).filter(
    (r) =>
      (r as { Properties: { FromPort: unknown } }).Properties.FromPort !== 443 &&
      (r as { Properties: { FromPort: unknown } }).Properties.FromPort !== 8080,
  ) as { Properties: { SourceSecurityGroupId?: { 'Fn::GetAtt': string[] }; CidrIp?: string } }[];
  assert.equal(ingress.length, 1);
  assert.match(ingress[0]!.Properties.SourceSecurityGroupId!['Fn::GetAtt'][0]!, /^LogSg/);
  assert.equal(ingress[0]!.Properties.CidrIp, undefined);
});

test('the log’s role: tiles under its prefix, its database user, nothing else', () => {
  const policies = Object.entries(t.findResources('AWS::IAM::Policy')).filter(([id]) => id.startsWith('LogPolicy'));
  assert.equal(policies.length, 1);
  const statements = (policies[0]![1] as { Properties: { PolicyDocument: { Statement: Record<string, unknown>[] } } })
    .Properties.PolicyDocument.Statement;
  assert.deepEqual(
    statements.map((s) => s.Sid),
    ['Tiles', 'TilesList', 'Database'],
  );
  assert.match(JSON.stringify(statements[0]!.Resource), /"\/tiles\/\*"/);
  assert.deepEqual(statements[1]!.Condition, { StringLike: { 's3:prefix': ['tiles/*'] } });
  assert.deepEqual(statements[2]!.Action, 'rds-db:connect');
  assert.match(JSON.stringify(statements[2]!.Resource), /:dbuser:.*\/keycast_log"/);
  for (const s of statements) assert.ok(!JSON.stringify(s.Action).includes('*'));
});
