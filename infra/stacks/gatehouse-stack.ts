import { readFileSync } from 'node:fs';
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as deploy from 'aws-cdk-lib/aws-s3-deployment';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as ses from 'aws-cdk-lib/aws-ses';
import type { Construct } from 'constructs';
import { ApprovalWorkflow } from '../approvals/approval-workflow';
import { configPath, type DeploymentConfig } from '../config/deployment-config';
import { EvidenceStore } from '../evidence/evidence-store';
import { EvidenceExport } from '../evidence-export/evidence-export';
import { GatewayService } from '../gateway/gateway-service';
import { GatewayMonitoring } from '../monitoring/gateway-monitoring';
import { GatewayNetwork } from '../network/gateway-network';
import { PolicyStore } from '../policy/policy-store';
import { allowLogsToUseKey } from '../shared/logs-key-access';
import { acknowledgeStackFindings } from './stack-nag';

export interface GatehouseStackProps extends StackProps {
  readonly config: DeploymentConfig;
}

/** The upstream CA bundle's key, beside the policy (the gateway reads it once at start). */
const CA_BUNDLE_KEY = 'upstream-ca.pem';

/** Retention days as CloudWatch Logs accepts them: the nearest allowed value at or above the request. */
function retentionOf(days: number): logs.RetentionDays {
  const allowed = Object.values(logs.RetentionDays)
    .filter((value): value is number => typeof value === 'number' && value > 0)
    .sort((a, b) => a - b);
  return (allowed.find((value) => value >= days) ?? allowed.at(-1)!) as logs.RetentionDays;
}

/**
 * The whole gateway in one stack: only wiring. Each subsystem is its own construct in `infra/`
 * (network, gateway service, evidence store, policy store, approvals, monitoring); this stack passes
 * the outputs of one to the inputs of the next, from the validated deployment configuration.
 */
export class GatehouseStack extends Stack {
  constructor(scope: Construct, id: string, props: GatehouseStackProps) {
    super(scope, id, props);
    const { config } = props;
    const logRetention = retentionOf(config.retention.logDays);

    const evidence = new EvidenceStore(this, 'Evidence', {
      objectLockMode: config.retention.objectLockMode,
      retentionDays: config.retention.auditDays,
      auditLogRetention: logRetention,
    });
    const vpc = this.vpc(config, evidence.dataKey, logRetention);
    const policy = new PolicyStore(this, 'Policy', {
      dataKey: evidence.dataKey,
      policyFile: configPath(config, config.policy.file),
      accessLogBucket: evidence.accessLogBucket,
    });
    const caBundle = config.upstream.caBundleFile && configPath(config, config.upstream.caBundleFile);
    if (caBundle) {
      new deploy.BucketDeployment(this, 'UpstreamCaBundle', {
        destinationBucket: policy.bucket,
        sources: [deploy.Source.data(CA_BUNDLE_KEY, readFileSync(caBundle, 'utf8'))],
        prune: false,
        retainOnDelete: true,
      });
    }

    // The NIST evidence package (daily, and on demand), from the store into its exports/ prefix.
    new EvidenceExport(this, 'EvidenceExport', {
      evidence,
      policy: { bucket: policy.bucket, key: policy.key },
      issuers: Object.fromEntries(
        config.issuers.map((issuer) => [String(issuer.name), String(issuer.issuer)]),
      ),
      logRetention,
    });

    const approvals = config.approvals && this.approvals(config.approvals, evidence, logRetention);

    const network = new GatewayNetwork(this, 'Network', {
      vpc,
      port: 5432,
      allowedPrincipals: config.privateLink.allowedPrincipals.map((arn) => new iam.ArnPrincipal(arn)),
      clientCidrs: [...config.privateLink.clientCidrs],
    });

    const secret = (id: string, arn: string) => secretsmanager.Secret.fromSecretCompleteArn(this, id, arn);
    const upstreamSecurityGroup =
      config.upstream.securityGroupId &&
      ec2.SecurityGroup.fromSecurityGroupId(this, 'UpstreamSecurityGroup', config.upstream.securityGroupId, {
        mutable: true,
      });
    const gateway = new GatewayService(this, 'Gateway', {
      vpc,
      loadBalancing: network,
      gatewayConfig: {
        upstream: {
          host: config.upstream.host,
          port: config.upstream.port,
          tls: config.upstream.tls,
          ...(caBundle
            ? { caS3: { bucket: policy.bucket.bucketName, key: CA_BUNDLE_KEY, region: this.region } }
            : {}),
        },
        // Validated by the gateway's own schema when the service builds its configuration.
        issuers: config.issuers as never,
        audit: { ship: { s3: { retentionDays: config.retention.auditDays } } },
      },
      dataKey: evidence.dataKey,
      audit: { bucket: evidence.bucket, prefix: evidence.auditPrefix },
      table: evidence.table,
      signingKey: evidence.signingKey,
      auditLogGroup: evidence.auditLogGroup,
      upstreamCredentials: secret('UpstreamCredentials', config.upstream.credentialsSecretArn),
      tlsCertificate: secret('TlsCertificate', config.tls.certificateSecretArn),
      policy: { bucket: policy.bucket, key: policy.key },
      ...(approvals ? { approvals } : {}),
      ...(upstreamSecurityGroup ? { upstreamSecurityGroup } : {}),
      cpu: config.sizing.cpu,
      memoryLimitMiB: config.sizing.memoryMiB,
      minTasks: config.sizing.minTasks,
      maxTasks: config.sizing.maxTasks,
      ephemeralStorageGiB: config.sizing.ephemeralStorageGiB,
      logRetention,
    });
    if (caBundle) {
      // GetObject on the one object (its bucket key is granted with the policy object's).
      iam.Grant.addToPrincipal({
        grantee: gateway.taskRole,
        actions: ['s3:GetObject'],
        resourceArns: [policy.bucket.arnForObjects(CA_BUNDLE_KEY)],
      });
    }

    new GatewayMonitoring(this, 'Monitoring', {
      targetGroup: network.targetGroup,
      ecsService: gateway.service,
      ...(approvals ? { approvalStateMachine: approvals.stateMachine } : {}),
      createAlarmTopic: {
        masterKey: evidence.dataKey,
        ...(config.alarmEmail ? { emailAddresses: [config.alarmEmail] } : {}),
      },
    });
    // What an operator needs after a deploy (README, "Deploying on AWS").
    new CfnOutput(this, 'PolicyBucketName', {
      value: policy.bucket.bucketName,
      description: `Upload new policy versions: aws s3 cp policy.yaml s3://<this>/${policy.key} --metadata changed-by=NAME`,
    });
    new CfnOutput(this, 'EvidenceBucketName', {
      value: evidence.bucket.bucketName,
      description: 'Audit chunks, digests and recordings (gatehouse verify --s3 <this>/audit)',
    });
    new CfnOutput(this, 'GatewayTableName', {
      value: evidence.table.tableName,
      description: 'gatehouse verify --table',
    });
    if (approvals) {
      new CfnOutput(this, 'ApprovalDecideUrl', {
        value: approvals.decideUrl,
        description: 'The Slack app interactivity Request URL is this URL followed by slack',
      });
    }
    acknowledgeStackFindings(this, {
      ...(config.vpc.kind === 'new' ? { vpc } : {}),
      networkSecurityGroup: network.securityGroup,
      policyBucket: policy.bucket,
    });
  }

  /**
   * A new VPC (two or more zones, private subnets with egress, the default security group closed,
   * flow logs encrypted with the data key), or an existing one by attributes (no look-up).
   */
  private vpc(config: DeploymentConfig, dataKey: kms.Key, retention: logs.RetentionDays): ec2.IVpc {
    const { vpc } = config;
    if (vpc.kind === 'existing') {
      return ec2.Vpc.fromVpcAttributes(this, 'Vpc', {
        vpcId: vpc.vpcId,
        vpcCidrBlock: vpc.cidr,
        availabilityZones: vpc.availabilityZones,
        privateSubnetIds: vpc.privateSubnetIds,
      });
    }
    const created = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr(vpc.cidr),
      maxAzs: vpc.maxAzs,
      restrictDefaultSecurityGroup: true,
      subnetConfiguration: [
        // Public subnets hold the NAT gateways only; every task runs in the private ones.
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24, mapPublicIpOnLaunch: false },
        { name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 22 },
      ],
    });
    const logGroupName = `/gatehouse/${this.stackName}/vpc-flow-logs`;
    allowLogsToUseKey(dataKey, this, { sid: 'GatehouseVpcFlowLogs', logGroupName });
    const logGroup = new logs.LogGroup(this, 'FlowLogGroup', {
      logGroupName,
      retention,
      encryptionKey: dataKey,
    });
    created.addFlowLog('FlowLogs', { destination: ec2.FlowLogDestination.toCloudWatchLogs(logGroup) });
    return created;
  }

  private approvals(
    settings: NonNullable<DeploymentConfig['approvals']>,
    evidence: EvidenceStore,
    logRetention: logs.RetentionDays,
  ): ApprovalWorkflow {
    return new ApprovalWorkflow(this, 'Approvals', {
      dataKey: evidence.dataKey,
      logRetention,
      ...(settings.slack
        ? {
            slack: {
              secret: secretsmanager.Secret.fromSecretCompleteArn(
                this,
                'SlackSecret',
                settings.slack.secretArn,
              ),
              ...(settings.slack.channel ? { channel: settings.slack.channel } : {}),
            },
          }
        : {}),
      ...(settings.email
        ? {
            email: {
              sender: settings.email.sender,
              identity: ses.EmailIdentity.fromEmailIdentityName(
                this,
                'SesIdentity',
                settings.email.identityArn.split('/').at(-1)!,
              ),
            },
          }
        : {}),
    });
  }
}
