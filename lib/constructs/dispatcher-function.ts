import { join } from 'node:path';
import { checkOptions, type PolicyOptions, policyDefinition, policyNames } from '@strata/policy-engine';
import { Duration } from 'aws-cdk-lib';
import type { ISecurityGroup, IVpc, SubnetSelection } from 'aws-cdk-lib/aws-ec2';
import { Architecture, type ILayerVersion, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { Construct } from 'constructs';
import { dispatcherEnvironment } from '../../common/settings';
import type { StateStoreEndpoint } from './cache-cluster';
import type { FunctionCodeBucket } from './function-code-bucket';
import { strataLogGroup } from './log-key';
import { acknowledgeVpcLambda } from './nag';
import { POLICY_ENGINE_PACKAGE } from './policy-layer';
import { oneOfProp, wholeProp } from './validate';

const ROOT = join(__dirname, '..', '..');

/** The dispatcher's handler source, and how it is bundled; `npm run bench:cold-start` bundles it the same way. */
export const DISPATCHER_ENTRY = join(ROOT, 'lambdas', 'dispatcher', 'handler.ts');
export const DISPATCHER_BUNDLING = {
  format: OutputFormat.CJS,
  target: 'node24',
  // Whitespace and syntax minified, names kept so that a stack trace still reads (about
  // 100 KB, from 1.3 MB with node-redis). No source map: Node.js's --enable-source-maps
  // parses it at load, some 40 ms of every cold start.
  minify: false,
  esbuildArgs: { '--minify-whitespace': true, '--minify-syntax': true },
  sourceMap: false,
  // The indexed rules' Lua, as strings, should the engine ever be bundled in (it comes from the layer).
  loader: { '.lua': 'text' },
  // The engine comes from the layer (/opt/nodejs/node_modules); the AWS SDK, if ever imported, from the runtime.
  externalModules: [POLICY_ENGINE_PACKAGE, '@aws-sdk/*'],
} as const;

export interface DispatcherFunctionProps {
  readonly vpc: IVpc;
  readonly subnets: SubnetSelection;
  readonly securityGroup: ISecurityGroup;
  /** The shared layer with the policy engine; the function's bundle leaves the engine out. */
  readonly policyLayer: ILayerVersion;
  readonly state: StateStoreEndpoint;
  /** Users' functions: the registry, read (never written) when its table is not cached in the state store. */
  readonly functionCode: FunctionCodeBucket;
  /** The first tier-1 strategy, a built-in or a plugin in the layer (`strata policy set` changes it later). */
  readonly strategy: string;
  /** Its options, checked at synth. @default the strategy's defaults */
  readonly strategyOptions?: PolicyOptions;
  /** @default 512 */
  readonly memoryMiB?: number;
  /** @default none: the account's unreserved pool */
  readonly reservedConcurrency?: number;
}

/**
 * The tier-1 dispatcher: a Node.js Lambda function bundled with esbuild, in the VPC's
 * private subnets, that takes its policies from the shared layer and its state from
 * ElastiCache (its own user's password read from Secrets Manager at cold start).
 */
export class DispatcherFunction extends Construct {
  readonly function: NodejsFunction;

  constructor(scope: Construct, id: string, props: DispatcherFunctionProps) {
    super(scope, id);
    oneOfProp(this, 'strategy', props.strategy, policyNames('invocation'));
    try {
      checkOptions(
        policyDefinition('invocation', props.strategy).options ?? {},
        props.strategyOptions ?? {},
        'strategyOptions',
      );
    } catch (error) {
      throw new Error(`${this.node.path}: ${(error as Error).message}`);
    }
    wholeProp(this, 'memoryMiB', props.memoryMiB, 128, 10_240);
    wholeProp(this, 'reservedConcurrency', props.reservedConcurrency, 1, 10_000);
    const logGroup = strataLogGroup(this, 'Logs');
    this.function = new NodejsFunction(this, 'Function', {
      description: 'Strata dispatcher: picks a compute node for each invocation and forwards it',
      entry: DISPATCHER_ENTRY,
      handler: 'handler',
      projectRoot: ROOT,
      depsLockFilePath: join(ROOT, 'package-lock.json'),
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memoryMiB ?? 512,
      timeout: Duration.seconds(29), // API Gateway's own limit
      reservedConcurrentExecutions: props.reservedConcurrency,
      vpc: props.vpc,
      vpcSubnets: props.subnets,
      securityGroups: [props.securityGroup],
      layers: [props.policyLayer],
      tracing: Tracing.ACTIVE,
      logGroup,
      environment: {
        ...dispatcherEnvironment({
          redisUrl: `rediss://${props.state.host}:${props.state.port}`,
          redisAuthSecretArn: props.state.secrets.dispatcher.secretArn,
          functionsBucket: props.functionCode.bucket.bucketName,
          strategy: props.strategy,
          strategyOptions: props.strategyOptions ?? {},
        }),
        POWERTOOLS_SERVICE_NAME: 'strata-dispatcher',
      },
      bundling: {
        ...DISPATCHER_BUNDLING,
        esbuildArgs: { ...DISPATCHER_BUNDLING.esbuildArgs },
        externalModules: [...DISPATCHER_BUNDLING.externalModules],
      },
    });
    props.state.secrets.dispatcher.grantRead(this.function); // its own user's secret, no other
    props.functionCode.grantRead(this.function);
    acknowledgeVpcLambda(this.function, 'test/lib/stacks.test.ts');
  }
}
