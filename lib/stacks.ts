import { CfnOutput, Fn, Lazy, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { StrataConfig } from './config';
import {
  Alerts,
  CacheCluster,
  CephCluster,
  ComputeFleet,
  DispatchApi,
  DispatcherFunction,
  FunctionCodeBucket,
  FunctionsApiFunction,
  Network,
  NodeBundle,
  Observability,
  PORTS,
  PolicyLayer,
  PolicySettingStore,
  strataLogGroup,
} from './constructs';

interface StrataStackProps extends StackProps {
  readonly config: StrataConfig;
}

/** The VPC, the security groups between tiers, and the alert topic every tier reports to. */
export class NetworkStack extends Stack {
  readonly network: Network;
  readonly alerts: Alerts;

  private readonly azCount: number;
  private readonly zoneIds: readonly string[] | undefined;
  private zones: string[] | undefined;

  constructor(scope: Construct, id: string, props: StrataStackProps) {
    super(scope, id, props);
    this.azCount = props.config.network.maxAzs;
    this.zoneIds = props.config.network.availabilityZones;
    this.network = new Network(this, 'Network', props.config.network);
    this.alerts = new Alerts(this, 'Alerts', { email: props.config.alarmEmail });
    new CfnOutput(this, 'AlertTopicArn', { value: this.alerts.topic.topicArn });
  }

  /**
   * An environment-agnostic stack sees only 2 AZs; this one takes as many as the
   * config asks for, picked at deploy time from the region's list. With AZ ids, each
   * name is the one EC2 gives the subnet it made in that zone (the subnets are placed
   * by id). One list, so that every construct compares the same strings.
   */
  override get availabilityZones(): string[] {
    this.zones ??= this.zoneIds
      ? this.zoneIds.map((_, i) => Lazy.string({ produce: () => this.network.zoneName(i) }))
      : Array.from({ length: this.azCount ?? 2 }, (_, i) => Fn.select(i, Fn.getAzs()));
    return this.zones;
  }
}

/** The shared state: ElastiCache (Valkey), and the function code bucket (users' functions, durable). */
export class StateStack extends Stack {
  readonly cache: CacheCluster;
  readonly functionCode: FunctionCodeBucket;

  constructor(scope: Construct, id: string, props: StrataStackProps & { readonly network: Network }) {
    super(scope, id, props);
    const { network } = props;
    this.cache = new CacheCluster(this, 'Cache', {
      vpc: network.vpc,
      subnets: network.dataSubnets,
      securityGroup: network.cacheSecurityGroup,
      port: PORTS.cache,
      nodeType: props.config.state.nodeType,
      replicas: props.config.state.replicas,
      cells: props.config.state.cells,
      shards: props.config.state.shards,
    });
    new CfnOutput(this, 'ReplicationGroupId', { value: this.cache.replicationGroup.ref });
    new CfnOutput(this, 'StateEndpoint', { value: `${this.cache.host}:${this.cache.port}` });
    this.functionCode = new FunctionCodeBucket(this, 'FunctionCode');
    new CfnOutput(this, 'FunctionCodeBucket', {
      value: this.functionCode.bucket.bucketName,
      description: "Users' functions (docs/functions.md); retained when the stack is destroyed",
    });
  }
}

/** The storage tier: Ceph on EC2 with RGW and the storage agents. */
export class StorageStack extends Stack {
  readonly ceph: CephCluster;
  readonly bundle: NodeBundle;

  constructor(
    scope: Construct,
    id: string,
    props: StrataStackProps & {
      readonly network: Network;
      readonly alerts: Alerts;
      readonly cache: CacheCluster;
      readonly functionCode: FunctionCodeBucket;
    },
  ) {
    super(scope, id, props);
    const { config, network, cache } = props;
    this.bundle = new NodeBundle(this, 'NodeBundle', { plugins: config.plugins });
    this.ceph = new CephCluster(this, 'Ceph', {
      vpc: network.vpc,
      subnets: network.workloadSubnets,
      securityGroup: network.storageSecurityGroup,
      bundle: this.bundle.asset,
      logGroup: strataLogGroup(this, 'NodeLogs'), // the nodes' metrics (EMF), invocation logs and output
      alerts: props.alerts.topic,
      state: cache,
      functionCode: props.functionCode,
      agentPort: PORTS.storageAgent,
      computePort: PORTS.computeNode,
      rgwPort: PORTS.rgw,
      thresholds: config.offloadThresholds,
      offloadByLocality: config.offloadByLocality,
      ...config.storage,
    });
    new CfnOutput(this, 'RgwEndpoint', { value: this.ceph.rgwEndpoint });
    new CfnOutput(this, 'ObjectStoreSecretArn', { value: this.ceph.objectsSecret.secretArn });
  }
}

/** The compute tier: the Auto Scaling group of compute nodes. */
export class ComputeStack extends Stack {
  readonly fleet: ComputeFleet;

  constructor(
    scope: Construct,
    id: string,
    props: StrataStackProps & {
      readonly network: Network;
      readonly alerts: Alerts;
      readonly cache: CacheCluster;
      readonly functionCode: FunctionCodeBucket;
      readonly storage: StorageStack;
    },
  ) {
    super(scope, id, props);
    const { config, network, cache, storage } = props;
    this.fleet = new ComputeFleet(this, 'Fleet', {
      vpc: network.vpc,
      subnets: network.workloadSubnets,
      securityGroup: network.computeSecurityGroup,
      bundle: storage.bundle.asset,
      logGroup: strataLogGroup(this, 'NodeLogs'), // the nodes' metrics (EMF), invocation logs and output
      alerts: props.alerts.topic,
      port: PORTS.computeNode,
      storagePort: PORTS.storageAgent,
      state: cache,
      functionCode: props.functionCode,
      // The compute nodes only read: the read-only user's keys.
      objects: {
        endpoint: storage.ceph.rgwEndpoint,
        bucket: storage.ceph.bucket,
        secret: storage.ceph.objectsReadSecret,
      },
      nodePolicy: config.policies.node.name,
      nodePolicyOptions: config.policies.node.options,
      offloadPolicy: config.policies.offload.name,
      offloadPolicyOptions: config.policies.offload.options,
      offloadThresholds: config.offloadThresholds,
      offloadByLocality: config.offloadByLocality,
      ...config.compute,
    });
    new CfnOutput(this, 'AutoScalingGroupName', { value: this.fleet.autoScalingGroup.autoScalingGroupName });
    if (this.fleet.predictivePolicies.length > 0) {
      new CfnOutput(this, 'PredictiveScalingPolicies', {
        value: Fn.join(
          ',',
          this.fleet.predictivePolicies.map((policy) => policy.attrPolicyName),
        ),
        description: 'Their forecasts are on the dashboard',
      });
    }
  }
}

/** Tier 1: the shared policy layer, the dispatcher Lambda, the functions API Lambda and the API in front of both. */
export class DispatchStack extends Stack {
  readonly policyLayer: PolicyLayer;
  readonly dispatcher: DispatcherFunction;
  readonly functionsApi: FunctionsApiFunction;
  readonly api: DispatchApi;

  constructor(
    scope: Construct,
    id: string,
    props: StrataStackProps & {
      readonly network: Network;
      readonly cache: CacheCluster;
      readonly functionCode: FunctionCodeBucket;
    },
  ) {
    super(scope, id, props);
    const { config, network, cache } = props;
    this.policyLayer = new PolicyLayer(this, 'PolicyLayer', { plugins: config.plugins });
    this.dispatcher = new DispatcherFunction(this, 'Dispatcher', {
      vpc: network.vpc,
      subnets: network.workloadSubnets,
      securityGroup: network.dispatcherSecurityGroup,
      policyLayer: this.policyLayer.layer,
      state: cache,
      functionCode: props.functionCode,
      strategy: config.policies.invocation.name,
      strategyOptions: config.policies.invocation.options,
      ...config.dispatch,
    });
    // Which policy each tier runs, switched while the system runs (strata policy set); cdk.json gives the first.
    const setting = new PolicySettingStore(this, 'PolicySetting', { first: config.policies });
    setting.grantRead(this.dispatcher.function);
    this.dispatcher.function.addEnvironment('STRATA_POLICY_PARAMETER', setting.parameter.parameterName);
    new CfnOutput(this, 'PolicyParameterName', { value: setting.parameter.parameterName });
    new CfnOutput(this, 'PolicyAuditLogGroup', { value: setting.auditLog.logGroupName });
    // After the dispatcher: tools that look for the stack's first function (the rehearsal) find the dispatcher.
    this.functionsApi = new FunctionsApiFunction(this, 'FunctionsApi', {
      vpc: network.vpc,
      subnets: network.workloadSubnets,
      securityGroup: network.functionsApiSecurityGroup,
      policyLayer: this.policyLayer.layer,
      state: cache,
      code: props.functionCode,
    });
    this.api = new DispatchApi(this, 'Api', {
      dispatcher: this.dispatcher.function,
      functionsApi: this.functionsApi.function,
      ...config.dispatch,
    });
    new CfnOutput(this, 'ApiUrl', {
      value: this.api.api.url,
      description: 'POST {ApiUrl}invoke/{function} and {ApiUrl}functions (docs/functions.md), signed with SigV4',
    });
    new CfnOutput(this, 'FunctionsApiFunctionName', { value: this.functionsApi.function.functionName });
    new CfnOutput(this, 'DispatcherFunctionName', { value: this.dispatcher.function.functionName });
    new CfnOutput(this, 'PolicyLayerArn', { value: this.policyLayer.layer.layerVersionArn });
    new CfnOutput(this, 'Policies', {
      description: 'The policy chosen for each tier',
      value: `${config.invocationStrategy} / ${config.nodePolicy} / ${config.offloadPolicy}`,
    });
  }
}

/** The CloudWatch dashboard and alarms over every tier. */
export class ObservabilityStack extends Stack {
  readonly observability: Observability;

  constructor(
    scope: Construct,
    id: string,
    props: StackProps & {
      readonly alerts: Alerts;
      readonly cache: CacheCluster;
      readonly compute: ComputeFleet;
      readonly dispatch: DispatchStack;
    },
  ) {
    super(scope, id, props);
    this.observability = new Observability(this, 'Observability', {
      api: props.dispatch.api.api,
      dispatcher: props.dispatch.dispatcher.function,
      computeGroup: props.compute.autoScalingGroup,
      predictivePolicies: props.compute.predictivePolicies.map((policy) => policy.attrPolicyName),
      cacheMembers: props.cache.memberIds(),
      alerts: props.alerts.topic,
    });
    new CfnOutput(this, 'DashboardName', { value: this.observability.dashboard.dashboardName });
  }
}
