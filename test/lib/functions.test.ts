import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { defineStrata } from '../../lib/app';
import { FunctionCodeBucket } from '../../lib/constructs/function-code-bucket';
import { cdkJsonContext, userDataText } from '../support/cdk';

// Users' functions on AWS (docs/functions.md, docs/aws.md): the code bucket, the functions
// API Lambda and its routes, and who may read or write the bucket. One synth of the whole
// app, cdk-nag and Control Tower on (app.synth() throws on a finding), assets not bundled.
const app = new App({
  context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [] },
  outdir: mkdtempSync(join(tmpdir(), 'strata-functions-')),
});
const stacks = defineStrata(app);
const assembly = app.synth();
const templateOf = (stack: Stack) =>
  Template.fromJSON(assembly.getStackByName(stack.stackName).template as Record<string, unknown>);
const network = templateOf(stacks.network);
const state = templateOf(stacks.state);
const storage = templateOf(stacks.storage);
const compute = templateOf(stacks.compute);
const dispatch = templateOf(stacks.dispatch);

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation JSON, read by the test as it comes
type Resource = { Properties: Record<string, any>; DeletionPolicy?: string };
const resourcesOf = (template: Template, type: string) => template.findResources(type) as Record<string, Resource>;
const entryOf = (template: Template, type: string, prefix: string): [string, Resource] => {
  const found = Object.entries(resourcesOf(template, type)).filter(([id]) => id.startsWith(prefix));
  expect(found).toHaveLength(1);
  return found[0];
};
// biome-ignore lint/suspicious/noExplicitAny: IAM policy JSON
type Statement = { Sid?: string; Action: string | string[]; Resource: any; Condition?: any; Effect: string };
const statementsOf = (template: Template, policyPrefix: string): Statement[] =>
  Object.entries(resourcesOf(template, 'AWS::IAM::Policy'))
    .filter(([id]) => id.startsWith(policyPrefix))
    .flatMap(([, policy]) => policy.Properties.PolicyDocument.Statement as Statement[]);
const actionsOf = (statement: Statement) => [statement.Action].flat();
/** A shell variable as a script expands it: ${NAME}. */
const shell = (name: string) => `$\{${name}}`;
/** The statements that name the function code bucket or its key. */
const onFunctionCode = (statements: Statement[]) =>
  statements.filter((statement) => /FunctionCode/.test(JSON.stringify(statement.Resource)));

describe('the function code bucket', () => {
  const [bucketId, bucket] = entryOf(state, 'AWS::S3::Bucket', 'FunctionCodeBucket');
  const [keyId, key] = entryOf(state, 'AWS::KMS::Key', 'FunctionCodeKey');
  const [logsId, logs] = entryOf(state, 'AWS::S3::Bucket', 'FunctionCodeAccessLogs');

  test('is versioned and encrypted with its own rotating customer key (S3 Bucket Keys)', () => {
    expect(bucket.Properties.VersioningConfiguration).toEqual({ Status: 'Enabled' });
    expect(bucket.Properties.BucketEncryption.ServerSideEncryptionConfiguration).toEqual([
      {
        BucketKeyEnabled: true,
        ServerSideEncryptionByDefault: {
          SSEAlgorithm: 'aws:kms',
          KMSMasterKeyID: { 'Fn::GetAtt': [keyId, 'Arn'] },
        },
      },
    ]);
    expect(key.Properties.EnableKeyRotation).toBe(true);
  });

  test('blocks every kind of public access and takes no ACLs', () => {
    for (const resource of [bucket, logs]) {
      expect(resource.Properties.PublicAccessBlockConfiguration).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
      expect(resource.Properties.OwnershipControls).toEqual({ Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] });
    }
  });

  test('refuses requests without TLS, and TLS older than 1.2', () => {
    for (const id of [bucketId, logsId]) {
      const [, policy] = Object.entries(resourcesOf(state, 'AWS::S3::BucketPolicy')).find(
        ([, candidate]) => candidate.Properties.Bucket.Ref === id,
      )!;
      const denials = (policy.Properties.PolicyDocument.Statement as Statement[]).filter((s) => s.Effect === 'Deny');
      expect(denials.map((statement) => statement.Condition)).toEqual(
        expect.arrayContaining([
          { Bool: { 'aws:SecureTransport': 'false' } },
          { NumericLessThan: { 's3:TlsVersion': 1.2 } },
        ]),
      );
      for (const statement of denials) expect(actionsOf(statement)).toEqual(['s3:*']);
    }
  });

  test('logs access to a bucket of its own, sends object events to EventBridge, expires earlier versions', () => {
    expect(bucket.Properties.LoggingConfiguration).toEqual({
      DestinationBucketName: { Ref: logsId },
      LogFilePrefix: 'function-code/',
    });
    expect(bucket.Properties.NotificationConfiguration).toEqual({
      EventBridgeConfiguration: { EventBridgeEnabled: true },
    });
    expect(bucket.Properties.LifecycleConfiguration.Rules).toEqual([
      expect.objectContaining({
        Status: 'Enabled',
        NoncurrentVersionExpiration: { NoncurrentDays: 90 },
        AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
      }),
    ]);
  });

  test("is users' data: the bucket, its key and its logs outlive `cdk destroy`", () => {
    for (const resource of [bucket, key, logs]) expect(resource.DeletionPolicy).toBe('Retain');
  });

  test('no CDK custom resource comes with it (EventBridge is set on the bucket itself)', () => {
    expect(Object.keys(resourcesOf(state, 'AWS::Lambda::Function'))).toEqual([]);
  });

  test('its props are checked, the error naming the prop', () => {
    const stack = new Stack(new App(), 'Props');
    expect(() => new FunctionCodeBucket(stack, 'Days', { noncurrentVersionDays: 0 })).toThrow(
      'FunctionCodeBucket: noncurrentVersionDays must be a whole number of days, at least 1; got 0',
    );
    expect(() => new FunctionCodeBucket(stack, 'Logs', { accessLogDays: 1.5 })).toThrow(
      'FunctionCodeBucket: accessLogDays must be a whole number of days, at least 1; got 1.5',
    );
  });
});

describe('the functions API Lambda', () => {
  const [fnId, fn] = Object.entries(resourcesOf(dispatch, 'AWS::Lambda::Function')).find(
    ([, candidate]) => candidate.Properties.Environment.Variables.POWERTOOLS_SERVICE_NAME === 'strata-functions-api',
  )!;

  test('Node.js 24 on arm64, 512 MB, 29 s, traced, with the policy layer, logging to a key-encrypted group kept a year', () => {
    expect(fn.Properties).toMatchObject({
      Handler: 'index.handler',
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      MemorySize: 512,
      Timeout: 29,
      TracingConfig: { Mode: 'Active' },
      Layers: [{ Ref: expect.stringMatching(/^PolicyLayer/) }],
    });
    const logGroupId = fn.Properties.LoggingConfig.LogGroup.Ref as string;
    expect(logGroupId).toMatch(/^FunctionsApiLogs/);
    dispatch.hasResource('AWS::Logs::LogGroup', {
      Properties: { RetentionInDays: 365, KmsKeyId: Match.anyValue() },
    });
  });

  test("runs in the VPC's private subnets with the functions API security group", () => {
    expect(fn.Properties.VpcConfig.SubnetIds).toHaveLength(3);
    expect(JSON.stringify(fn.Properties.VpcConfig.SecurityGroupIds)).toContain('NetworkFunctionsApiSecurityGroup');
  });

  test('its environment names the code bucket, the TLS state store and the token secret', () => {
    const env = fn.Properties.Environment.Variables;
    expect(JSON.stringify(env.STRATA_FUNCTIONS_BUCKET)).toMatch(/FunctionCodeBucket/);
    expect(userDataText(env.STRATA_REDIS_URL)).toMatch(/^rediss:\/\/<.*>:6380$/);
    expect(JSON.stringify(env.STRATA_REDIS_AUTH_SECRET_ARN)).toMatch(/CacheFunctionsApiSecret/);
  });

  test('may read, write, list and delete the registry objects, use the key through S3 only, and read the token', () => {
    const role = fn.Properties.Role['Fn::GetAtt'][0] as string;
    const statements = statementsOf(dispatch, role.replace(/[0-9A-F]{8}$/, ''));
    const objects = statements.find((statement) => statement.Sid === 'FunctionCodeObjects')!;
    expect(actionsOf(objects).sort()).toEqual(['s3:DeleteObject', 's3:GetObject', 's3:PutObject']);
    expect(userDataText(objects.Resource)).toMatch(/functions\/\*.*modules\/\*/);
    expect(statements.find((statement) => statement.Sid === 'ListFunctionCode')!.Action).toBe('s3:ListBucket');
    const keyUse = statements.find((statement) => statement.Sid === 'FunctionCodeKeyThroughS3')!;
    expect(actionsOf(keyUse).sort()).toEqual(['kms:Decrypt', 'kms:GenerateDataKey']);
    expect(JSON.stringify(keyUse.Condition)).toContain('kms:ViaService');
    expect(statements.some((statement) => actionsOf(statement).includes('secretsmanager:GetSecretValue'))).toBe(true);
    expect(fnId).toMatch(/^FunctionsApiFunction/);
  });

  test('its security group takes no traffic and sends only to the state store, Secrets Manager and S3', () => {
    const [groupId, group] = entryOf(network, 'AWS::EC2::SecurityGroup', 'NetworkFunctionsApiSecurityGroup');
    expect(group.Properties.SecurityGroupIngress).toBeUndefined();
    expect(group.Properties.SecurityGroupEgress).toEqual([
      expect.objectContaining({ CidrIp: '255.255.255.255/32', IpProtocol: 'icmp' }),
    ]);
    const egress = Object.values(resourcesOf(network, 'AWS::EC2::SecurityGroupEgress')).filter(
      (rule) => rule.Properties.GroupId['Fn::GetAtt']?.[0] === groupId,
    );
    const to = (rule: Resource) =>
      rule.Properties.DestinationPrefixListId
        ? 's3'
        : String(rule.Properties.DestinationSecurityGroupId['Fn::GetAtt'][0]).replace(/[0-9A-F]{8}$/, '');
    expect(egress.map((rule) => `${to(rule)}:${rule.Properties.FromPort}`).sort()).toEqual([
      'NetworkCacheSecurityGroup:6380',
      'NetworkEndpointSecurityGroup:443',
      's3:443',
    ]);
  });

  test("S3's prefix list is looked up at deploy time in the region the stack deploys to", () => {
    const [lookup] = Object.values(resourcesOf(network, 'Custom::AWS'));
    const call = userDataText(lookup.Properties.Create);
    expect(call).toContain('"action":"describeManagedPrefixLists"');
    expect(call).toContain('"Values":["com.amazonaws.<{"Ref":"AWS::Region"}>.s3"]');
    const egress = Object.values(resourcesOf(network, 'AWS::EC2::SecurityGroupEgress')).filter(
      (rule) => rule.Properties.DestinationPrefixListId,
    );
    expect(egress).toHaveLength(2); // the dispatcher's and the functions API's
    for (const rule of egress)
      expect(rule.Properties.DestinationPrefixListId).toEqual({
        'Fn::GetAtt': [expect.stringMatching(/^NetworkS3PrefixList/), 'PrefixLists.0.PrefixListId'],
      });
  });
});

describe('the functions routes', () => {
  const methods = Object.values(resourcesOf(dispatch, 'AWS::ApiGateway::Method'));
  const functionsMethods = methods.filter((method) =>
    JSON.stringify(method.Properties.Integration?.Uri).includes('FunctionsApiFunction'),
  );

  test('GET /functions, GET|PUT|DELETE /functions/{name}, PUT /functions/{name}/aliases/{alias}, each a Lambda proxy', () => {
    expect(functionsMethods.map((method) => method.Properties.HttpMethod).sort()).toEqual([
      'DELETE',
      'GET',
      'GET',
      'PUT',
      'PUT',
    ]);
    for (const method of functionsMethods) expect(method.Properties.Integration.Type).toBe('AWS_PROXY');
    const paths = Object.values(resourcesOf(dispatch, 'AWS::ApiGateway::Resource')).map(
      (resource) => resource.Properties.PathPart,
    );
    expect(paths).toEqual(expect.arrayContaining(['functions', '{name}', 'aliases', '{alias}']));
  });

  test('every functions method requires IAM (SigV4): none is open', () => {
    expect(functionsMethods).toHaveLength(5);
    for (const method of functionsMethods) expect(method.Properties.AuthorizationType).toBe('AWS_IAM');
  });

  test('the path parameters are required and a deploy or alias body must be a JSON object', () => {
    const puts = functionsMethods.filter((method) => method.Properties.HttpMethod === 'PUT');
    for (const method of puts) {
      expect(method.Properties.RequestParameters['method.request.path.name']).toBe(true);
      expect(method.Properties.RequestModels).toEqual({ 'application/json': expect.anything() });
    }
    expect(puts.some((method) => method.Properties.RequestParameters['method.request.path.alias'] === true)).toBe(true);
  });

  test('API Gateway may invoke the functions API only for these methods of this API', () => {
    const permissions = Object.values(resourcesOf(dispatch, 'AWS::Lambda::Permission')).filter((permission) =>
      JSON.stringify(permission.Properties.FunctionName).includes('FunctionsApiFunction'),
    );
    expect(permissions).toHaveLength(5); // no console test invocations
    for (const permission of permissions) {
      expect(permission.Properties.Principal).toBe('apigateway.amazonaws.com');
      expect(userDataText(permission.Properties.SourceArn)).toMatch(
        /:execute-api:.*:<\{"Ref":"Api[0-9A-F]{8}"\}>\/<\{"Ref":"ApiDeploymentStagev1[0-9A-F]{8}"\}>\/(GET|PUT|DELETE)\/functions/,
      );
    }
  });
});

describe('the readers: the dispatcher, the compute nodes, the storage nodes', () => {
  const readers = {
    dispatcher: statementsOf(dispatch, 'DispatcherFunctionServiceRoleDefaultPolicy'),
    compute: statementsOf(compute, 'FleetRoleDefaultPolicy'),
    storage: statementsOf(storage, 'CephRoleDefaultPolicy'),
  };

  test.each(Object.keys(readers))(
    'the %s may get modules and records, list, and decrypt through S3: nothing more',
    (reader) => {
      const statements = onFunctionCode(readers[reader as keyof typeof readers]);
      expect(statements.flatMap(actionsOf).sort()).toEqual(['kms:Decrypt', 's3:GetObject', 's3:ListBucket']);
      const read = statements.find((statement) => statement.Sid === 'ReadFunctionCode')!;
      expect(read.Resource.map(userDataText).sort()).toEqual([
        '<{"Fn::ImportValue":"StrataState-FunctionCodeBucketArn"}>/functions/*',
        '<{"Fn::ImportValue":"StrataState-FunctionCodeBucketArn"}>/modules/*',
      ]);
      const keyUse = statements.find((statement) => statement.Sid === 'FunctionCodeKeyThroughS3')!;
      expect(JSON.stringify(keyUse.Condition)).toContain('kms:ViaService');
    },
  );

  test('no reader, and no other policy in the app but the functions API, may put or delete in the code bucket', () => {
    const writers = [network, state, storage, compute, dispatch].flatMap((template) =>
      Object.entries(resourcesOf(template, 'AWS::IAM::Policy')).flatMap(([id, policy]) =>
        (policy.Properties.PolicyDocument.Statement as Statement[])
          .filter(
            (statement) =>
              /FunctionCode/.test(JSON.stringify(statement.Resource)) &&
              actionsOf(statement).some((action) => /^s3:(Put|Delete|\*)/.test(action)),
          )
          .map(() => id.replace(/[0-9A-F]{8}$/, '')),
      ),
    );
    expect(writers).toEqual(['FunctionsApiFunctionServiceRoleDefaultPolicy']);
  });

  test('the dispatcher is told the bucket', () => {
    const fn = Object.values(resourcesOf(dispatch, 'AWS::Lambda::Function')).find(
      (candidate) => candidate.Properties.Environment.Variables.POWERTOOLS_SERVICE_NAME === 'strata-dispatcher',
    )!;
    expect(JSON.stringify(fn.Properties.Environment.Variables.STRATA_FUNCTIONS_BUCKET)).toMatch(/FunctionCodeBucket/);
  });

  test('the nodes are told the bucket in their settings, and their setup passes it as --functions s3://BUCKET (through the AWS seam)', () => {
    const launchTemplates = [compute, storage].flatMap((template) =>
      Object.values(resourcesOf(template, 'AWS::EC2::LaunchTemplate')),
    );
    expect(launchTemplates).toHaveLength(4); // the compute fleet's, and one a storage node
    for (const template of launchTemplates) {
      expect(userDataText(template.Properties.LaunchTemplateData.UserData)).toMatch(
        /^STRATA_FUNCTIONS_BUCKET='<.*FunctionCodeBucket.*>'$/m,
      );
    }
    const setup = (name: string) => readFileSync(join(__dirname, '..', '..', 'nodes', 'node-setup', name), 'utf8');
    for (const script of ['compute-node.sh', 'storage-node.sh'])
      expect(setup(script)).toContain('--functions $(aws_functions_location)');
    // The AWS seam's location is the bucket (the rehearsal's, its stand-in folder).
    expect(setup('aws.sh')).toMatch(
      /aws_functions_location\(\) \{\n {2}echo "s3:\/\/\$\{STRATA_FUNCTIONS_BUCKET\}"\n\}/,
    );
  });

  test("the nodes' environment names the region and keeps RGW's keys out of AWS_*, so the SDK uses the instance role for S3", () => {
    const common = readFileSync(join(__dirname, '..', '..', 'nodes', 'node-setup', 'common.sh'), 'utf8');
    const nodeEnv = /cat > \/etc\/strata\/node\.env <<ENV\n([\s\S]*?)\nENV/.exec(common)![1];
    expect(nodeEnv).toContain(`AWS_REGION=${shell('STRATA_REGION')}`);
    expect(nodeEnv).toContain('STRATA_OBJECTS_ACCESS_KEY_ID=');
    expect(nodeEnv).not.toMatch(/^AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN)=/m);
  });
});
