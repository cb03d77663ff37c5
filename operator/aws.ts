import { Sha256 } from '@aws-crypto/sha256-js';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { SignatureV4 } from '@smithy/signature-v4';

/** A failure the operator can act on; the CLI prints its message and exits 1. */
export class OperatorError extends Error {
  override name = 'OperatorError';
}

/**
 * Turns the AWS SDK's errors into what an operator needs to read: no credentials, no
 * region, no such stack, or no permission. Anything else is re-thrown as it is.
 */
export function explainAwsError(error: unknown, stackName?: string): never {
  const { name = '', message = '' } = error as { name?: string; message?: string };
  if (name === 'CredentialsProviderError' || /Could not load credentials/.test(message)) {
    throw new OperatorError(
      'no AWS credentials: run `aws configure` or `aws sso login`, or set AWS_PROFILE / AWS_ACCESS_KEY_ID',
    );
  }
  if (/Region is missing/i.test(message)) throw new OperatorError('no AWS region: pass --region or set AWS_REGION');
  if (name === 'ValidationError' && /does not exist/.test(message)) {
    throw new OperatorError(
      `stack ${stackName} is not deployed in this account and region: run \`npx cdk deploy --all\` first (or pass --region)`,
    );
  }
  if (name === 'AccessDenied' || name === 'AccessDeniedException') {
    throw new OperatorError(
      `AWS denied the call: ${message} (the operator needs read access: cloudformation:DescribeStacks, elasticache:DescribeReplicationGroups, cloudwatch:GetMetricData, execute-api:Invoke)`,
    );
  }
  if (name === 'ExpiredTokenException' || name === 'UnrecognizedClientException' || name === 'InvalidClientTokenId') {
    throw new OperatorError(`AWS rejected the credentials (${name}): refresh them and try again`);
  }
  throw error;
}

/** The outputs of one deployed stack, by output key. */
export async function stackOutputs(stackName: string, region?: string): Promise<Record<string, string>> {
  const client = new CloudFormationClient({ region });
  try {
    const reply = await client.send(new DescribeStacksCommand({ StackName: stackName }));
    const outputs = reply.Stacks?.[0]?.Outputs ?? [];
    return Object.fromEntries(outputs.map((output) => [output.OutputKey ?? '', output.OutputValue ?? '']));
  } catch (error) {
    return explainAwsError(error, stackName);
  } finally {
    client.destroy();
  }
}

export interface SignedRequest {
  readonly method: string;
  readonly url: URL;
  readonly headers: Record<string, string>;
  readonly body?: string;
}

/** Signs a request to an API Gateway URL with SigV4 (service execute-api), with the caller's credentials. */
export async function signForApiGateway(request: SignedRequest, region: string): Promise<Record<string, string>> {
  const client = new CloudFormationClient({ region }); // only to resolve the default credential chain
  try {
    const signer = new SignatureV4({
      service: 'execute-api',
      region,
      credentials: client.config.credentials,
      sha256: Sha256,
    });
    const signed = await signer.sign({
      method: request.method,
      protocol: request.url.protocol,
      hostname: request.url.hostname,
      port: request.url.port ? Number(request.url.port) : undefined,
      path: request.url.pathname,
      query: Object.fromEntries(request.url.searchParams),
      headers: { ...request.headers, host: request.url.host },
      body: request.body,
    });
    return signed.headers as Record<string, string>;
  } catch (error) {
    return explainAwsError(error);
  } finally {
    client.destroy();
  }
}
