import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Peer, Port, SecurityGroup, SubnetType, Vpc } from 'aws-cdk-lib/aws-ec2';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { Asset } from 'aws-cdk-lib/aws-s3-assets';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { FunctionCodeBucket } from '../../../lib/constructs';

const ROOT = join(__dirname, '..', '..', '..');

/**
 * A bare stack for one construct: in a region (so that a VPC gets three AZs), with
 * bundling skipped (the construct tests read templates, not bundles).
 */
export function bareStack(): Stack {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  return new Stack(app, 'Test', { env: { account: '111111111111', region: 'eu-west-1' } });
}

/** What the EC2 constructs are given, made plainly in the stack (not by Strata's own constructs). */
export function ec2Dependencies(stack: Stack) {
  const vpc = new Vpc(stack, 'Vpc', {
    maxAzs: 3,
    natGateways: 1,
    subnetConfiguration: [
      { name: 'public', subnetType: SubnetType.PUBLIC },
      { name: 'workload', subnetType: SubnetType.PRIVATE_WITH_EGRESS },
    ],
  });
  const securityGroup = new SecurityGroup(stack, 'Group', { vpc });
  securityGroup.addIngressRule(Peer.ipv4(vpc.vpcCidrBlock), Port.tcp(8080));
  return {
    vpc,
    subnets: { subnetType: SubnetType.PRIVATE_WITH_EGRESS },
    securityGroup,
    bundle: new Asset(stack, 'Bundle', { path: join(ROOT, 'nodes', 'node-setup') }),
    logGroup: new LogGroup(stack, 'Logs'),
    alerts: new Topic(stack, 'Alerts'),
    state: {
      host: 'cache.internal',
      port: 6380,
      secrets: {
        dispatcher: new Secret(stack, 'CacheDispatcher'),
        compute: new Secret(stack, 'CacheCompute'),
        storage: new Secret(stack, 'CacheStorage'),
        'functions-api': new Secret(stack, 'CacheFunctionsApi'),
      },
    },
    functionCode: new FunctionCodeBucket(stack, 'FunctionCode'),
  };
}
