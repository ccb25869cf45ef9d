/**
 * The service half, one release at a time: a VPC whose private subnets reach KMS and S3 through
 * endpoints, the parent instances (Nitro Enclaves on, IMDSv2 only) in an auto-scaling group of at
 * least two behind an HTTPS load balancer, the release's EIF run by the units of enclave/deploy,
 * the S3 buckets for the host's store and the log's tiles, and — when the log runs on AWS — the
 * log's Aurora PostgreSQL. A new release is a new launch template version: the rolling update
 * adds one instance at a time and waits for it to open its gate and unseal the same identity.
 */
import { ArnFormat, CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import type { KeycastConfig, ReleaseArtefact, ServiceConfig } from './config.ts';
import type { KeycastKeyStack } from './key-stack.ts';
import { userDataLines } from './render.ts';

/** The host's public API port on the instance (keycast-host.service --listen). */
export const HOST_PORT = 8080;

function privateBucket(scope: Construct, id: string): s3.Bucket {
  return new s3.Bucket(scope, id, {
    versioned: true,
    encryption: s3.BucketEncryption.S3_MANAGED,
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    enforceSSL: true,
    minimumTLSVersion: 1.2,
    removalPolicy: RemovalPolicy.RETAIN,
  });
}

/** s3://bucket/key → the object's ARN (the instance may read exactly that object). */
function objectArn(partition: string, a: ReleaseArtefact): string | undefined {
  const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(a.uri);
  return m ? `arn:${partition}:s3:::${m[1]}/${m[2]}` : undefined;
}

export class KeycastServiceStack extends Stack {
  readonly vpc: ec2.Vpc;
  readonly storeBucket: s3.Bucket;
  readonly tilesBucket: s3.Bucket;
  readonly group: autoscaling.AutoScalingGroup;
  readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  readonly logDatabase?: rds.DatabaseCluster;

  constructor(scope: Construct, id: string, config: KeycastConfig, keys: KeycastKeyStack, props: StackProps = {}) {
    super(scope, id, { ...props, env: { account: config.account, region: config.region } });
    const s: ServiceConfig = config.service!;

    // explicit zones: no account lookup at synth
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr('10.40.0.0/16'),
      availabilityZones: config.availabilityZones,
      natGateways: s.natGateways,
      restrictDefaultSecurityGroup: false,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        { name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
      ],
    });
    const privateSubnets = { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS };

    const instanceSg = new ec2.SecurityGroup(this, 'ParentSg', {
      vpc: this.vpc,
      description: 'Keycast parent instances: the host API from the load balancer only',
      // the log, its witnesses' cosignatures and package installs are outside the VPC; the enclave
      // itself reaches only what vsock-proxy's allowlist names
      allowAllOutbound: true,
    });

    // KMS through a private endpoint (vsock-proxy resolves kms.<region>.amazonaws.com to it), only
    // from the parent instances, and only Decrypt/GenerateDataKey on this key
    const kmsEndpoint = this.vpc.addInterfaceEndpoint('KmsEndpoint', {
      service: ec2.InterfaceVpcEndpointAwsService.KMS,
      privateDnsEnabled: true,
      open: false,
      subnets: privateSubnets,
    });
    kmsEndpoint.connections.allowFrom(instanceSg, ec2.Port.tcp(443), 'parent instances to KMS');
    kmsEndpoint.addToPolicy(
      new iam.PolicyStatement({
        principals: [new iam.ArnPrincipal(keys.role.roleArn)],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: [keys.key.attrArn],
      }),
    );
    this.vpc.addGatewayEndpoint('S3Endpoint', {
      service: ec2.GatewayVpcEndpointAwsService.S3,
      subnets: [privateSubnets],
    });

    this.storeBucket = privateBucket(this, 'StoreBucket');
    this.tilesBucket = privateBucket(this, 'TilesBucket');

    // the host's store: its own prefix, read and create; nothing else in S3 but the release's files
    const storeObjects = this.storeBucket.arnForObjects(`${s.storePrefix}/*`);
    const statements = [
      new iam.PolicyStatement({
        sid: 'HostStoreObjects',
        actions: ['s3:GetObject', 's3:PutObject'],
        resources: [storeObjects],
      }),
      new iam.PolicyStatement({
        sid: 'HostStoreList',
        // without it a missing object is 403, not 404, and the host cannot tell "first boot"
        actions: ['s3:ListBucket'],
        resources: [this.storeBucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': [`${s.storePrefix}/*`] } },
      }),
    ];
    const releaseObjects = [s.eif, s.hostBundle]
      .map((a) => objectArn(config.partition, a))
      .filter((a) => a !== undefined);
    if (releaseObjects.length > 0)
      statements.push(
        new iam.PolicyStatement({ sid: 'ReleaseFiles', actions: ['s3:GetObject'], resources: releaseObjects }),
      );
    statements.push(
      new iam.PolicyStatement({
        sid: 'SignalRollout',
        actions: ['cloudformation:SignalResource'],
        resources: [
          this.formatArn({ service: 'cloudformation', resource: 'stack', resourceName: `${this.stackName}/*` }),
        ],
      }),
    );
    new iam.Policy(this, 'ParentPolicy', { roles: [keys.role], statements });

    const userData = ec2.UserData.forLinux();
    const launchTemplate = new ec2.LaunchTemplate(this, 'ParentTemplate', {
      instanceType: new ec2.InstanceType(s.instanceType),
      machineImage: s.amiId
        ? ec2.MachineImage.genericLinux({ [config.region]: s.amiId })
        : ec2.MachineImage.latestAmazonLinux2023(),
      role: keys.role,
      securityGroup: instanceSg,
      userData,
      nitroEnclaveEnabled: true,
      requireImdsv2: true,
      httpTokens: ec2.LaunchTemplateHttpTokens.REQUIRED,
      // the host reads the role's credentials on the instance itself: one hop; the enclave never reaches IMDS
      httpPutResponseHopLimit: 1,
      instanceMetadataTags: false,
      blockDevices: [
        {
          deviceName: '/dev/xvda',
          volume: ec2.BlockDeviceVolume.ebs(30, { encrypted: true, volumeType: ec2.EbsDeviceVolumeType.GP3 }),
        },
      ],
    });

    this.group = new autoscaling.AutoScalingGroup(this, 'Parents', {
      vpc: this.vpc,
      vpcSubnets: privateSubnets,
      launchTemplate,
      minCapacity: s.minCapacity,
      maxCapacity: s.maxCapacity,
      // EC2 health: a shut gate (log outage, revoked release) takes an instance out of the load
      // balancer's rotation, not out of the fleet — replacing it would not reopen anything
      healthChecks: autoscaling.HealthChecks.ec2({ gracePeriod: Duration.minutes(s.readyTimeoutMinutes) }),
      signals: autoscaling.Signals.waitForMinCapacity({ timeout: Duration.minutes(s.readyTimeoutMinutes) }),
      updatePolicy: autoscaling.UpdatePolicy.rollingUpdate({
        maxBatchSize: 1,
        minInstancesInService: s.minCapacity,
        waitOnResourceSignals: true,
        pauseTime: Duration.minutes(s.readyTimeoutMinutes),
      }),
    });
    const asgLogicalId = this.getLogicalId(this.group.node.defaultChild as autoscaling.CfnAutoScalingGroup);
    userData.addCommands(
      ...userDataLines(config.region, s, this.storeBucket.bucketName, { stackName: this.stackName, asgLogicalId }),
    );

    this.loadBalancer = new elbv2.ApplicationLoadBalancer(this, 'Api', {
      vpc: this.vpc,
      internetFacing: true,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      dropInvalidHeaderFields: true,
      idleTimeout: Duration.seconds(300),
    });
    const https = this.loadBalancer.addListener('Https', {
      port: 443,
      protocol: elbv2.ApplicationProtocol.HTTPS,
      certificates: [elbv2.ListenerCertificate.fromArn(s.certificateArn)],
      sslPolicy: elbv2.SslPolicy.RECOMMENDED_TLS,
      open: true,
    });
    // the host's figures are for the operator's scraper inside the VPC, not for the Internet
    https.addAction('NoPublicMetrics', {
      priority: 10,
      conditions: [elbv2.ListenerCondition.pathPatterns(['/metrics', '/metrics/*'])],
      action: elbv2.ListenerAction.fixedResponse(404, { contentType: 'text/plain', messageBody: 'not here' }),
    });
    https.addTargets('Hosts', {
      port: HOST_PORT,
      protocol: elbv2.ApplicationProtocol.HTTP,
      targets: [this.group],
      deregistrationDelay: Duration.seconds(60),
      healthCheck: {
        // 200 only while the enclave's gate is open
        path: '/v1/status',
        healthyHttpCodes: '200',
        interval: Duration.seconds(15),
        healthyThresholdCount: 2,
        unhealthyThresholdCount: 2,
      },
    });

    if (s.logOnAws) {
      const logSg = new ec2.SecurityGroup(this, 'LogSg', {
        vpc: this.vpc,
        description: 'Keycast log server: reaches its database',
        allowAllOutbound: true,
      });
      const db = new rds.DatabaseCluster(this, 'LogDatabase', {
        engine: rds.DatabaseClusterEngine.auroraPostgres({ version: rds.AuroraPostgresEngineVersion.VER_16_9 }),
        writer: rds.ClusterInstance.serverlessV2('writer'),
        readers: [rds.ClusterInstance.serverlessV2('reader', { scaleWithWriter: true })],
        serverlessV2MinCapacity: 0.5,
        serverlessV2MaxCapacity: 8,
        vpc: this.vpc,
        vpcSubnets: privateSubnets,
        credentials: rds.Credentials.fromGeneratedSecret('keycast'),
        defaultDatabaseName: 'keycast_log',
        storageEncrypted: true,
        iamAuthentication: true,
        deletionProtection: true,
        backup: { retention: Duration.days(14) },
        removalPolicy: RemovalPolicy.SNAPSHOT,
      });
      db.connections.allowDefaultPortFrom(logSg, 'the log server');
      this.logDatabase = db;
      const logRole = new iam.Role(this, 'LogRole', {
        assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
        description: 'Keycast log server: its database and the tiles it mirrors to S3',
      });
      new iam.Policy(this, 'LogPolicy', {
        roles: [logRole],
        statements: [
          new iam.PolicyStatement({
            sid: 'Tiles',
            actions: ['s3:GetObject', 's3:PutObject'],
            resources: [this.tilesBucket.arnForObjects(`${s.tilesPrefix}/*`)],
          }),
          new iam.PolicyStatement({
            sid: 'TilesList',
            actions: ['s3:ListBucket'],
            resources: [this.tilesBucket.bucketArn],
            conditions: { StringLike: { 's3:prefix': [`${s.tilesPrefix}/*`] } },
          }),
          new iam.PolicyStatement({
            sid: 'Database',
            actions: ['rds-db:connect'],
            resources: [
              this.formatArn({
                service: 'rds-db',
                resource: 'dbuser',
                resourceName: `${db.clusterResourceIdentifier}/keycast_log`,
                arnFormat: ArnFormat.COLON_RESOURCE_NAME,
              }),
            ],
          }),
        ],
      });
      new CfnOutput(this, 'LogDatabaseEndpoint', { value: db.clusterEndpoint.socketAddress });
      new CfnOutput(this, 'LogSecurityGroup', { value: logSg.securityGroupId });
      new CfnOutput(this, 'LogRoleArn', { value: logRole.roleArn });
    }

    new CfnOutput(this, 'ApiDnsName', {
      value: this.loadBalancer.loadBalancerDnsName,
      description: 'point the API name (the certificate’s) here',
    });
    new CfnOutput(this, 'StoreBucketName', { value: this.storeBucket.bucketName });
    new CfnOutput(this, 'TilesBucketName', { value: this.tilesBucket.bucketName });
  }
}
