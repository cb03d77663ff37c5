import { join } from 'node:path';
import { Duration } from 'aws-cdk-lib';
import type { ISecurityGroup, IVpc, SubnetSelection } from 'aws-cdk-lib/aws-ec2';
import { Architecture, type ILayerVersion, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { Construct } from 'constructs';
import type { StateStoreEndpoint } from './cache-cluster';
import { DISPATCHER_BUNDLING } from './dispatcher-function';
import type { FunctionCodeBucket } from './function-code-bucket';
import { strataLogGroup } from './log-key';
import { acknowledgeVpcLambda } from './nag';

const ROOT = join(__dirname, '..', '..');

/** The functions API's handler source (lambdas/functions-api/handler.ts reads the environment this construct writes). */
export const FUNCTIONS_API_ENTRY = join(ROOT, 'lambdas', 'functions-api', 'handler.ts');

export interface FunctionsApiFunctionProps {
  readonly vpc: IVpc;
  readonly subnets: SubnetSelection;
  /** Out to the state store, Secrets Manager's endpoint and S3's gateway endpoint (Network.functionsApiSecurityGroup). */
  readonly securityGroup: ISecurityGroup;
  /** The shared layer with the policy engine (the state store client imports it); the bundle leaves the engine out. */
  readonly policyLayer: ILayerVersion;
  readonly state: StateStoreEndpoint;
  readonly code: FunctionCodeBucket;
  /**
   * Enough to decode and check a 4 MiB module (base64 body, bytes, WebAssembly compile);
   * at least 256. @default 512
   */
  readonly memoryMiB?: number;
}

/**
 * The functions API (docs/functions.md): deploy, list, versions, alias, remove, behind the
 * REST API's IAM-authorised /functions routes. A Node.js Lambda function bundled with
 * esbuild as the dispatcher is, in the VPC's private subnets; it validates each module,
 * writes the registry to the function code bucket (S3 is the truth) and publishes the
 * registry's table to the state store, where the dispatchers read it. Every change is
 * logged with the IAM principal that made it.
 */
export class FunctionsApiFunction extends Construct {
  readonly function: NodejsFunction;

  constructor(scope: Construct, id: string, props: FunctionsApiFunctionProps) {
    super(scope, id);
    const memoryMiB = props.memoryMiB ?? 512;
    if (!Number.isInteger(memoryMiB) || memoryMiB < 256 || memoryMiB > 10240)
      throw new RangeError(
        `FunctionsApiFunction: memoryMiB must be a whole number of MiB from 256 to 10240 (a 4 MiB module is checked in memory); got ${memoryMiB}`,
      );
    this.function = new NodejsFunction(this, 'Function', {
      description: "Strata functions API: validates and stores users' functions, moves aliases",
      entry: FUNCTIONS_API_ENTRY,
      handler: 'handler',
      projectRoot: ROOT,
      depsLockFilePath: join(ROOT, 'package-lock.json'),
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      memorySize: memoryMiB,
      timeout: Duration.seconds(29), // API Gateway's own limit: a deploy is a few S3 writes and one MSET
      vpc: props.vpc,
      vpcSubnets: props.subnets,
      securityGroups: [props.securityGroup],
      layers: [props.policyLayer],
      tracing: Tracing.ACTIVE,
      logGroup: strataLogGroup(this, 'Logs'), // the audit lines (who deployed, moved or removed what) too
      environment: {
        STRATA_FUNCTIONS_BUCKET: props.code.bucket.bucketName,
        STRATA_REDIS_URL: `rediss://${props.state.host}:${props.state.port}`,
        STRATA_REDIS_AUTH_SECRET_ARN: props.state.secrets['functions-api'].secretArn,
        POWERTOOLS_SERVICE_NAME: 'strata-functions-api',
      },
      bundling: {
        ...DISPATCHER_BUNDLING,
        esbuildArgs: { ...DISPATCHER_BUNDLING.esbuildArgs },
        externalModules: [...DISPATCHER_BUNDLING.externalModules],
      },
    });
    props.state.secrets['functions-api'].grantRead(this.function); // its own user's secret, no other
    props.code.grantReadWrite(this.function);
    acknowledgeVpcLambda(this.function, 'test/lib/functions.test.ts');
  }
}
