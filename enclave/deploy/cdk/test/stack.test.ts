/**
 * The synthesized stacks (one synth for the file, the example context of cdk.json in eu-west-1):
 * what an AWS operator must be able to rely on, asserted on the templates — private subnets with
 * KMS and S3 endpoints, Nitro Enclaves on and IMDSv2 only, ≥ 2 instances behind HTTPS, the
 * units of enclave/deploy installed verbatim with the allowlist for the stack's region, the EIF
 * fetched and checked against the release's digest, private TLS-only buckets, the key policy as
 * given, and IAM without wildcards or KMS grants around the attestation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { buildApp } from '../lib/app.ts';
import { HOST_DIR, UNITS } from '../lib/render.ts';
import { exampleContext, filesOf, userDataOf } from './helpers.ts';

const ctx = exampleContext();
const built = buildApp({ context: ctx, outdir: mkdtempSync(join(tmpdir(), 'kc-cdk-')) });
const service = Template.fromStack(built.service!);
const keys = Template.fromStack(built.keys);
const svc = service.toJSON() as { Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }> };
const resources = (type: string) => Object.values(svc.Resources).filter((r) => r.Type === type);
const userData = userDataOf(svc);
const files = filesOf(userData);
const host = (name: string) => readFileSync(join(HOST_DIR, name), 'utf8');

test('the VPC has private subnets that reach KMS through an interface endpoint and S3 through a gateway', () => {
  service.resourceCountIs('AWS::EC2::VPC', 1);
  const subnets = resources('AWS::EC2::Subnet');
  assert.equal(subnets.filter((s) => s.Properties!.MapPublicIpOnLaunch === false).length, 2);
  assert.deepEqual([...new Set(subnets.map((s) => s.Properties!.AvailabilityZone))].sort(), [
    'eu-west-1a',
    'eu-west-1b',
  ]);
  service.hasResourceProperties('AWS::EC2::VPCEndpoint', {
    ServiceName: 'com.amazonaws.eu-west-1.kms',
    VpcEndpointType: 'Interface',
    PrivateDnsEnabled: true,
    // only the parent role, only the two attested calls, only this key
    PolicyDocument: {
      Statement: [
        Match.objectLike({
          Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
          Effect: 'Allow',
          Resource: Match.anyValue(),
        }),
      ],
    },
  });
  service.hasResourceProperties('AWS::EC2::VPCEndpoint', {
    ServiceName: Match.objectLike({ 'Fn::Join': ['', Match.arrayWith(['.s3'])] }),
    VpcEndpointType: 'Gateway',
  });
  // the KMS endpoint is not open to the whole VPC: 443 from the parent instances' group only
  const kmsSg = resources('AWS::EC2::SecurityGroup').find((g) =>
    String(g.Properties!.GroupDescription).includes('KmsEndpoint'),
  )!;
  assert.equal(kmsSg.Properties!.SecurityGroupIngress, undefined);
  service.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
    IpProtocol: 'tcp',
    FromPort: 443,
    ToPort: 443,
    SourceSecurityGroupId: Match.anyValue(),
  });
});

test('the launch template enables Nitro Enclaves and requires IMDSv2 with one hop', () => {
  service.hasResourceProperties('AWS::EC2::LaunchTemplate', {
    LaunchTemplateData: Match.objectLike({
      EnclaveOptions: { Enabled: true },
      InstanceType: 'm6i.xlarge',
      MetadataOptions: Match.objectLike({ HttpTokens: 'required', HttpPutResponseHopLimit: 1 }),
      BlockDeviceMappings: [Match.objectLike({ Ebs: Match.objectLike({ Encrypted: true }) })],
    }),
  });
});

test('at least two parent instances in private subnets, rolled one at a time, each signalling a ready enclave', () => {
  const [asg] = Object.values(svc.Resources).filter(
    (r) => r.Type === 'AWS::AutoScaling::AutoScalingGroup',
  ) as unknown as {
    Properties: Record<string, unknown>;
    CreationPolicy: { ResourceSignal: { Count: number } };
    UpdatePolicy: { AutoScalingRollingUpdate: Record<string, unknown> };
  }[];
  assert.ok(Number(asg!.Properties.MinSize) >= 2);
  assert.ok(Number(asg!.Properties.MaxSize) > Number(asg!.Properties.MinSize), 'room to add before removing');
  assert.equal(asg!.CreationPolicy.ResourceSignal.Count, 2);
  assert.equal(asg!.UpdatePolicy.AutoScalingRollingUpdate.WaitOnResourceSignals, true);
  assert.equal(asg!.UpdatePolicy.AutoScalingRollingUpdate.MaxBatchSize, 1);
  assert.equal(asg!.UpdatePolicy.AutoScalingRollingUpdate.MinInstancesInService, 2);
  assert.equal(asg!.Properties.HealthCheckType, 'EC2');
  // the signal names this group, and says ready only for an open gate and a ready identity
  assert.match(
    userData,
    /cfn-signal -e "\$1" --stack 'KeycastService' --resource 'ParentsASG[0-9A-F]+' --region 'eu-west-1'/,
  );
  const id = /--resource '([^']+)'/.exec(userData)![1]!;
  assert.equal(svc.Resources[id]!.Type, 'AWS::AutoScaling::AutoScalingGroup');
  assert.match(userData, /r\.status === 200 && j\.enclave\?\.identity\?\.ready === true/);
  assert.match(userData, /\nsignal 0$/);
});

test('TLS for the public API at the load balancer, with the given certificate, to the hosts on 8080', () => {
  service.resourceCountIs('AWS::ElasticLoadBalancingV2::Listener', 1);
  service.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
    Port: 443,
    Protocol: 'HTTPS',
    Certificates: [{ CertificateArn: ctx.certificateArn }],
    SslPolicy: Match.stringLikeRegexp('^ELBSecurityPolicy-TLS13'),
  });
  service.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', {
    Scheme: 'internet-facing',
    LoadBalancerAttributes: Match.arrayWith([
      { Key: 'routing.http.drop_invalid_header_fields.enabled', Value: 'true' },
    ]),
  });
  // /metrics answers at the load balancer with 404: scraped inside the VPC only
  service.hasResourceProperties('AWS::ElasticLoadBalancingV2::ListenerRule', {
    Conditions: [{ Field: 'path-pattern', PathPatternConfig: { Values: ['/metrics', '/metrics/*'] } }],
    Actions: [
      Match.objectLike({ Type: 'fixed-response', FixedResponseConfig: Match.objectLike({ StatusCode: '404' }) }),
    ],
  });
  service.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
    Port: 8080,
    Protocol: 'HTTP',
    HealthCheckPath: '/v1/status',
    Matcher: { HttpCode: '200' },
  });
  // the host's port is reachable from the load balancer's group only
  const ingress = resources('AWS::EC2::SecurityGroupIngress').filter((i) => i.Properties!.FromPort === 8080);
  assert.equal(ingress.length, 1);
  assert.ok(ingress[0]!.Properties!.SourceSecurityGroupId);
  assert.match(host('keycast-host.service'), /--listen 0\.0\.0\.0:8080 /);
});

test('the user data installs the units of enclave/deploy verbatim and renders the rest for this stack', () => {
  for (const u of UNITS) assert.equal(files.get(`/etc/systemd/system/${u}`), host(u), u);
  assert.equal(files.get('/opt/keycast/keycast-enclave-watch.sh'), host('keycast-enclave-watch.sh'));
  assert.match(userData, /chmod 0755 '\/opt\/keycast\/keycast-enclave-watch\.sh'/);
  assert.match(userData, new RegExp(`systemctl enable --now ${UNITS.join(' ')}`));
  // the allowlist: KMS of the stack's region, and nothing else
  const allow = files.get('/etc/keycast/vsock-proxy.yaml')!;
  assert.deepEqual(
    allow.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#')),
    ['allowlist:', '  - address: kms.eu-west-1.amazonaws.com', '    port: 443'],
  );
  assert.doesNotMatch(userData, /us-east-1/);
  assert.doesNotMatch(allow, /\$\{/);
  const env = files.get('/etc/keycast/keycast.env')!;
  assert.match(env, /^KEYCAST_REGION=eu-west-1$/m);
  assert.match(env, /^AWS_REGION=eu-west-1$/m);
  assert.match(env, /^KEYCAST_LOG=https:\/\/log\.example\.com\/keycast$/m);
  assert.match(env, /^KEYCAST_STORE=s3:\/\/«Ref:StoreBucket[0-9A-F]+»\/enclave$/m);
  assert.match(env, /^KEYCAST_ENCLAVE_CPUS=2$/m);
  assert.match(env, /^KEYCAST_ENCLAVE_MEMORY=4096$/m);
  assert.equal(files.get('/etc/keycast/log.vkey'), `${ctx.logKey}\n`);
  // the units read what this file sets
  assert.match(host('keycast-vsock-proxy.service'), /vsock-proxy 8000 kms\.\$\{KEYCAST_REGION\}\.amazonaws\.com 443/);
  assert.match(host('keycast-host.service'), /--log \$\{KEYCAST_LOG\} --log-key \$\{KEYCAST_LOG_KEY\}/);
  // the allocator reserves what the enclave unit asks nitro-cli run-enclave for
  assert.equal(
    files.get('/etc/nitro_enclaves/allocator.yaml'),
    '---\n# rendered by the Keycast CDK app: reserved for the enclave at boot\nmemory_mib: 4096\ncpu_count: 2\n',
  );
  assert.match(
    host('keycast-enclave-watch.sh'),
    /--cpu-count "\$\{KEYCAST_ENCLAVE_CPUS:-2\}" --memory "\$\{KEYCAST_ENCLAVE_MEMORY:-2048\}"/,
  );
  assert.match(host('keycast-enclave.service'), /^EnvironmentFile=-\/etc\/keycast\/keycast\.env$/m);
  assert.ok(
    Buffer.byteLength(userData) < 16 * 1024,
    `user data is ${Buffer.byteLength(userData)} bytes (EC2 allows 16 KiB)`,
  );
});

test('the EIF and the host bundle are fetched by URI and kept only with the release’s SHA-256, before the units start', () => {
  const eif = `fetch_verified '${ctx.eifUri}' '${ctx.eifSha256}' /opt/keycast/enclave.eif`;
  const bundle = `fetch_verified '${ctx.hostBundleUri}' '${ctx.hostBundleSha256}' /opt/keycast/host-bundle.tar.gz`;
  assert.ok(userData.includes(eif) && userData.includes(bundle));
  assert.ok(userData.indexOf(eif) < userData.indexOf('systemctl enable --now keycast-'));
  assert.match(files.get('/etc/keycast/keycast.env')!, /^KEYCAST_EIF=\/opt\/keycast\/enclave\.eif$/m);
});

test('fetch_verified (run with bash against a stand-in curl) refuses a swapped file and keeps nothing of it', (t) => {
  if (spawnSync('bash', ['--version']).status !== 0) return t.skip('bash not installed');
  const dir = mkdtempSync(join(tmpdir(), 'kc-fetch-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const fn = /^fetch_verified\(\) \{\n[\s\S]*?\n\}$/m.exec(userData)![0];
  // a curl that serves whatever bytes the test put in "served"
  writeFileSync(join(dir, 'curl'), `#!/bin/sh\nwhile [ "$1" != "-o" ]; do shift; done\ncp '${dir}/served' "$2"\n`);
  chmodSync(join(dir, 'curl'), 0o755);
  const run = (want: string) =>
    spawnSync(
      'bash',
      ['-c', `${fn}\nfetch_verified 'https://releases.example/enclave.eif' '${want}' '${dir}/enclave.eif'`],
      {
        encoding: 'utf8',
        env: { PATH: `${dir}:${process.env.PATH}` },
      },
    );
  writeFileSync(join(dir, 'served'), 'the real image');
  const realSha = spawnSync('sha256sum', [join(dir, 'served')], { encoding: 'utf8' }).stdout.split(' ')[0]!;
  writeFileSync(join(dir, 'served'), 'an image the host swapped in');
  const bad = run(realSha);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /the release says [0-9a-f]{64}: refused/);
  assert.ok(!existsSync(join(dir, 'enclave.eif')) && !existsSync(join(dir, 'enclave.eif.part')));
  writeFileSync(join(dir, 'served'), 'the real image');
  assert.equal(run(realSha).status, 0);
  assert.equal(readFileSync(join(dir, 'enclave.eif'), 'utf8'), 'the real image');
  const other = spawnSync('bash', ['-c', `${fn}\nfetch_verified 'file:///etc/passwd' '${realSha}' '${dir}/x'`], {
    encoding: 'utf8',
  });
  assert.equal(other.status, 1);
  assert.match(other.stderr, /only s3:\/\/ and https:\/\//);
});

test('buckets for tiles and the host store: versioned, encrypted, no public access, TLS only, retained', () => {
  const buckets = Object.entries(svc.Resources).filter(([, r]) => r.Type === 'AWS::S3::Bucket') as [
    string,
    { Properties: Record<string, unknown>; DeletionPolicy?: string },
  ][];
  assert.deepEqual(buckets.map(([id]) => id.replace(/[0-9A-F]{8}$/, '')).sort(), ['StoreBucket', 'TilesBucket']);
  for (const [id, b] of buckets) {
    assert.deepEqual(b.Properties.VersioningConfiguration, { Status: 'Enabled' }, id);
    assert.ok(b.Properties.BucketEncryption, id);
    assert.deepEqual(
      b.Properties.PublicAccessBlockConfiguration,
      { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      id,
    );
    assert.equal(b.DeletionPolicy, 'Retain', id);
    service.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: id },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  }
  // no log database unless the log runs on AWS
  service.resourceCountIs('AWS::RDS::DBCluster', 0);
});

test('the key policy is the one given, verbatim, on a retained key that waits for its role', () => {
  const given = JSON.parse(readFileSync(ctx.keyPolicyFile as string, 'utf8'));
  const [key] = Object.values(keys.findResources('AWS::KMS::Key')) as {
    Properties: Record<string, unknown>;
    DependsOn: string[];
    DeletionPolicy: string;
  }[];
  assert.deepEqual(key!.Properties.KeyPolicy, given);
  assert.equal(key!.Properties.BypassPolicyLockoutSafetyCheck, false, 'the example names policy admins');
  assert.equal(key!.DeletionPolicy, 'Retain');
  const [roleId] = Object.keys(keys.findResources('AWS::IAM::Role'));
  assert.ok(key!.DependsOn.includes(roleId!));
  keys.hasResourceProperties('AWS::IAM::Role', { RoleName: 'keycast-parent', Path: '/' });
});

test('IAM least privilege: no wildcard action or resource, no KMS outside the key policy, S3 on its own prefix', () => {
  const all = { ...svc.Resources, ...(keys.toJSON() as typeof svc).Resources };
  const roles = Object.values(all).filter((r) => r.Type === 'AWS::IAM::Role');
  for (const r of roles) {
    assert.equal(r.Properties!.ManagedPolicyArns, undefined);
    assert.equal(r.Properties!.Policies, undefined);
  }
  const statements = Object.values(all)
    .filter((r) => r.Type === 'AWS::IAM::Policy')
    .flatMap((p) => (p.Properties!.PolicyDocument as { Statement: Record<string, unknown>[] }).Statement);
  assert.ok(statements.length >= 4);
  const list = (v: unknown) => (Array.isArray(v) ? v : [v]);
  for (const s of statements) {
    assert.equal(s.Effect, 'Allow');
    for (const a of list(s.Action)) {
      assert.ok(!String(a).includes('*'), `wildcard action ${a}`);
      assert.ok(!String(a).startsWith('kms:'), `KMS ${a} in an IAM policy: only the key policy grants KMS`);
    }
    for (const r of list(s.Resource)) assert.notEqual(r, '*', `statement ${s.Sid} on every resource`);
  }
  const bySid = (sid: string) => statements.find((s) => s.Sid === sid)!;
  assert.deepEqual(bySid('HostStoreObjects').Action, ['s3:GetObject', 's3:PutObject']);
  assert.match(JSON.stringify(bySid('HostStoreObjects').Resource), /"\/enclave\/\*"/);
  assert.deepEqual(bySid('HostStoreList').Condition, { StringLike: { 's3:prefix': ['enclave/*'] } });
  assert.deepEqual(bySid('ReleaseFiles').Resource, [
    'arn:aws:s3:::keycast-releases-111122223333/v1/enclave.eif',
    'arn:aws:s3:::keycast-releases-111122223333/v1/keycast-host.tar.gz',
  ]);
  assert.deepEqual(bySid('SignalRollout').Action, 'cloudformation:SignalResource');
  // the role the instances run as is the key policy's enclave role
  service.hasResourceProperties('AWS::IAM::InstanceProfile', {
    Roles: [Match.objectLike({ 'Fn::ImportValue': Match.anyValue() })],
  });
});
