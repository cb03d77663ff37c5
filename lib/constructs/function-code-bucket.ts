import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { type IGrantable, PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { BlockPublicAccess, Bucket, BucketEncryption, type CfnBucket, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import { Construct, type IConstruct } from 'constructs';
import { exceptControl } from '../control-tower';
import { denyGrantsExceptForAwsServices } from './kms';
import { acknowledgeNag } from './nag';

export interface FunctionCodeBucketProps {
  /**
   * How long S3 keeps an object's earlier versions (a removed function's records, a moved
   * alias's old target) before it expires them: the window in which an operator can bring
   * back what was removed or overwritten. A whole number of days, at least 1. @default 90
   */
  readonly noncurrentVersionDays?: number;
  /** How long the bucket's server access logs are kept; a whole number of days, at least 1. @default 365 */
  readonly accessLogDays?: number;
}

/** Where the server access logs go in their bucket. */
const ACCESS_LOG_PREFIX = 'function-code/';

/** The key prefixes readers may get (common/functions/registry.ts): modules by hash, version and alias records. */
export const FUNCTION_CODE_PREFIXES = ['modules/', 'functions/'] as const;

/**
 * The durable registry of users' functions (docs/functions.md): their WebAssembly modules
 * (`modules/<sha256>.wasm`) and the version and alias records (`functions/<name>/...`).
 * S3, versioned, encrypted with a customer-managed KMS key of its own (S3 Bucket Keys, so
 * few KMS calls), public access blocked, ACLs off, TLS 1.2 or later required, server
 * access logs in a bucket beside it, object events to EventBridge. Functions are users'
 * data: the bucket, its key and its logs are retained when the stack is destroyed
 * (docs/aws.md says how to delete them).
 */
export class FunctionCodeBucket extends Construct {
  readonly bucket: Bucket;
  readonly key: Key;
  readonly accessLogs: Bucket;

  constructor(scope: Construct, id: string, props: FunctionCodeBucketProps = {}) {
    super(scope, id);
    const noncurrentVersionDays = wholeDays('noncurrentVersionDays', props.noncurrentVersionDays, 90);
    const accessLogDays = wholeDays('accessLogDays', props.accessLogDays, 365);

    this.key = new Key(this, 'Key', {
      description: `Strata function code bucket of ${Stack.of(this).stackName}`,
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN, // the retained bucket's objects are unreadable without it
    });
    denyGrantsExceptForAwsServices(this.key);

    // Server access logs: S3 delivers them only to a bucket encrypted with S3's own keys (SSE-S3).
    this.accessLogs = new Bucket(this, 'AccessLogs', {
      encryption: BucketEncryption.S3_MANAGED,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      versioned: true,
      lifecycleRules: [
        {
          id: 'expire-access-logs',
          expiration: Duration.days(accessLogDays),
          noncurrentVersionExpiration: Duration.days(1),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    acknowledgeNag(
      this.accessLogs,
      'S1',
      'The target of the function code bucket’s server access logs: it does not log itself',
    );
    exceptControl(
      this.accessLogs,
      'CT.S3.PR.2',
      "The target of the function code bucket's server access logs; logging it too would only log the log deliveries",
    );
    exceptControl(
      this.accessLogs,
      'CT.S3.PR.10',
      'S3 delivers server access logs only to a bucket encrypted with SSE-S3, not SSE-KMS',
    );
    exceptControl(
      this.accessLogs,
      'CT.S3.PR.9',
      'Access logs expire after their retention; an Object Lock would keep them past it',
    );
    exceptControl(
      this.accessLogs,
      'CT.S3.PR.4',
      'Only S3 writes here (log delivery); nothing acts on a new log object, so no event notification',
    );

    this.bucket = new Bucket(this, 'Bucket', {
      encryption: BucketEncryption.KMS,
      encryptionKey: this.key,
      bucketKeyEnabled: true,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      versioned: true,
      lifecycleRules: [
        {
          id: 'expire-earlier-versions',
          noncurrentVersionExpiration: Duration.days(noncurrentVersionDays),
          expiredObjectDeleteMarker: true,
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const cfnBucket = this.bucket.node.defaultChild as CfnBucket;
    // Every deploy, alias move and removal is an event an operator can route (EventBridge).
    // Set on the bucket itself: the Bucket prop does it with a custom resource and a Lambda function.
    cfnBucket.notificationConfiguration = { eventBridgeConfiguration: { eventBridgeEnabled: true } };
    // Server access logs, delivered under a bucket policy (ACLs stay off) whatever the app's
    // feature flags: the Bucket prop would turn on the log bucket's ACL without
    // @aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy.
    cfnBucket.loggingConfiguration = {
      destinationBucketName: this.accessLogs.bucketName,
      logFilePrefix: ACCESS_LOG_PREFIX,
    };
    this.accessLogs.addToResourcePolicy(
      new PolicyStatement({
        sid: 'S3ServerAccessLogsOfTheFunctionCodeBucket',
        principals: [new ServicePrincipal('logging.s3.amazonaws.com')],
        actions: ['s3:PutObject'],
        resources: [this.accessLogs.arnForObjects(`${ACCESS_LOG_PREFIX}*`)],
        conditions: {
          ArnLike: { 'aws:SourceArn': this.bucket.bucketArn },
          StringEquals: { 'aws:SourceAccount': Stack.of(this).account },
        },
      }),
    );
    exceptControl(
      this.bucket,
      'CT.S3.PR.9',
      'A removed function must be deletable; versioning keeps what was removed or overwritten for noncurrentVersionDays instead of an Object Lock',
    );
  }

  /**
   * What the functions API needs: read, create, overwrite (aliases), list and delete the
   * registry's objects, the key through S3 only.
   */
  grantReadWrite(grantee: IGrantable & IConstruct): void {
    this.grantObjects(grantee, 'FunctionCodeObjects', ['s3:GetObject', 's3:PutObject', 's3:DeleteObject']);
    this.grantKey(grantee, ['kms:Decrypt', 'kms:GenerateDataKey']);
  }

  /**
   * What a reader needs (the dispatcher, compute and storage nodes): get the modules and
   * records, list (so that a missing key is a 404, not a 403), decrypt through S3 only.
   */
  grantRead(grantee: IGrantable & IConstruct): void {
    this.grantObjects(grantee, 'ReadFunctionCode', ['s3:GetObject']);
    this.grantKey(grantee, ['kms:Decrypt']);
  }

  /**
   * The objects under modules/ and functions/, and listing the bucket. The object ARNs
   * name the bucket through an export of its stack (a fixed name), so that the cdk-nag
   * finding on their wildcard, acknowledged here, reads the same in every stack.
   */
  private grantObjects(grantee: IGrantable & IConstruct, sid: string, actions: string[]): void {
    const bucketArn = this.exportedArn();
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        sid,
        actions,
        resources: FUNCTION_CODE_PREFIXES.map((prefix) => `${bucketArn}/${prefix}*`),
      }),
    );
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({ sid: 'ListFunctionCode', actions: ['s3:ListBucket'], resources: [bucketArn] }),
    );
    for (const prefix of FUNCTION_CODE_PREFIXES) {
      acknowledgeNag(
        grantee,
        `IAM5[Resource::${this.exportName}/${prefix}*]`,
        `The function code bucket's objects under ${prefix} only: a module's hash and a function's name are known only when a user deploys it`,
      );
    }
  }

  private grantKey(grantee: IGrantable, actions: string[]): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        sid: 'FunctionCodeKeyThroughS3',
        actions,
        resources: [this.key.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `s3.${Stack.of(this).region}.amazonaws.com` } },
      }),
    );
  }

  private get exportName(): string {
    return `${Stack.of(this).stackName}-FunctionCodeBucketArn`;
  }

  private exported: string | undefined;

  private exportedArn(): string {
    this.exported ??= Stack.of(this).exportValue(this.bucket.bucketArn, { name: this.exportName });
    return this.exported;
  }
}

function wholeDays(prop: string, value: number | undefined, fallback: number): number {
  const days = value ?? fallback;
  if (!Number.isInteger(days) || days < 1)
    throw new RangeError(`FunctionCodeBucket: ${prop} must be a whole number of days, at least 1; got ${value}`);
  return days;
}
