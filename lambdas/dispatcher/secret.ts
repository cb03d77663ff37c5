import { createHash, createHmac } from 'node:crypto';

/**
 * Reads a secret's string from Secrets Manager with one SigV4-signed POST, with the
 * function's own credentials from its environment. The SDK's client does the same but
 * costs the dispatcher about 100 ms of every cold start to load, for one call.
 * `AWS_ENDPOINT_URL_SECRETS_MANAGER` (as the SDK reads it) points it elsewhere.
 */
export async function getSecretString(
  secretId: string,
  env: NodeJS.ProcessEnv = process.env,
  now = new Date(),
): Promise<string> {
  const { status, text } = await callAwsJson(
    { service: 'secretsmanager', target: 'secretsmanager.GetSecretValue', endpointVariable: 'SECRETS_MANAGER' },
    { SecretId: secretId },
    'read a secret',
    env,
    now,
  );
  if (status !== 200) throw new Error(`Secrets Manager answered ${status} for ${secretId}: ${text.slice(0, 300)}`);
  const value = (JSON.parse(text) as { SecretString?: unknown }).SecretString;
  if (typeof value !== 'string') throw new Error(`secret ${secretId} has no string value`);
  return value;
}

/**
 * An SSM parameter's value and version, with one signed request as for the secret (no
 * SDK in the bundle): the live policy setting, read when Redis has lost it. Undefined
 * when there is no such parameter.
 */
export async function getParameter(
  name: string,
  env: NodeJS.ProcessEnv = process.env,
  now = new Date(),
): Promise<{ value: string; version: number } | undefined> {
  const { status, text } = await callAwsJson(
    { service: 'ssm', target: 'AmazonSSM.GetParameter', endpointVariable: 'SSM' },
    { Name: name },
    'read a parameter',
    env,
    now,
  );
  if (status === 400 && text.includes('ParameterNotFound')) return undefined;
  if (status !== 200) throw new Error(`SSM answered ${status} for ${name}: ${text.slice(0, 300)}`);
  const parameter = (JSON.parse(text) as { Parameter?: { Value?: unknown; Version?: unknown } }).Parameter;
  if (typeof parameter?.Value !== 'string') throw new Error(`parameter ${name} has no string value`);
  return { value: parameter.Value, version: Number(parameter.Version) || 1 };
}

/**
 * One call to an AWS JSON API (`x-amz-target`), signed with the function's credentials from
 * its environment; `AWS_ENDPOINT_URL_<endpointVariable>` (as the SDK reads it) points it elsewhere.
 */
async function callAwsJson(
  api: { readonly service: string; readonly target: string; readonly endpointVariable: string },
  request: object,
  purpose: string,
  env: NodeJS.ProcessEnv,
  now: Date,
): Promise<{ status: number; text: string }> {
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  const [accessKeyId, secretAccessKey] = [env.AWS_ACCESS_KEY_ID, env.AWS_SECRET_ACCESS_KEY];
  if (!region || !accessKeyId || !secretAccessKey)
    throw new Error(
      `AWS_REGION, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set to ${purpose} (Lambda sets them)`,
    );
  const endpoint = new URL(
    env[`AWS_ENDPOINT_URL_${api.endpointVariable}`] ?? `https://${api.service}.${region}.amazonaws.com/`,
  );
  const body = JSON.stringify(request);
  const headers = signV4(
    {
      method: 'POST',
      host: endpoint.host,
      path: endpoint.pathname,
      body,
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': api.target },
    },
    { service: api.service, region, accessKeyId, secretAccessKey, sessionToken: env.AWS_SESSION_TOKEN },
    now,
  );
  return post(endpoint, headers, body);
}

/**
 * One POST with node:https (node:http for a test endpoint): lighter to load than fetch,
 * and loaded only when a secret is read, not in the module's init.
 */
async function post(
  url: URL,
  headers: Record<string, string>,
  body: string,
): Promise<{ status: number; text: string }> {
  const send = url.protocol === 'http:' ? (await import('node:http')).request : (await import('node:https')).request;
  return new Promise((resolve, reject) => {
    const req = send(
      url,
      { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, timeout: 5000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url.host} within 5 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

export interface SignedRequest {
  readonly method: string;
  readonly host: string;
  /** The path, already URL-encoded, without a query. */
  readonly path: string;
  readonly body: string;
  readonly headers: Readonly<Record<string, string>>;
}

export interface Signer {
  readonly service: string;
  readonly region: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

/** The request's headers with AWS Signature Version 4 added (host, x-amz-date, the session token, authorization). */
export function signV4(request: SignedRequest, signer: Signer, now: Date): Record<string, string> {
  const amzDate = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
  const day = amzDate.slice(0, 8);
  const headers: Record<string, string> = { ...lowercase(request.headers), host: request.host, 'x-amz-date': amzDate };
  if (signer.sessionToken) headers['x-amz-security-token'] = signer.sessionToken;
  const names = Object.keys(headers).sort();
  const canonical = [
    request.method,
    request.path || '/',
    '', // no query
    ...names.map((name) => `${name}:${headers[name].trim().replace(/\s+/g, ' ')}`),
    '',
    names.join(';'),
    sha256(request.body),
  ].join('\n');
  const scope = `${day}/${signer.region}/${signer.service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
  let key: Buffer = hmac(`AWS4${signer.secretAccessKey}`, day);
  for (const part of [signer.region, signer.service, 'aws4_request']) key = hmac(key, part);
  const signature = createHmac('sha256', key).update(toSign).digest('hex');
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${signer.accessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}`;
  return headers;
}

function lowercase(headers: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function hmac(key: string | Buffer, text: string): Buffer {
  return createHmac('sha256', key).update(text).digest();
}

/**
 * The state store URL with the user and password from Secrets Manager in it, when a secret
 * is named: the role's own user (`{"username", "password"}`, common/state/access.ts).
 */
export async function redisUrlWithUser(
  url: string,
  secretArn: string | undefined,
  readSecret: (arn: string) => Promise<string> = getSecretString,
): Promise<string> {
  if (!secretArn) return url;
  let fields: { username?: unknown; password?: unknown };
  try {
    fields = JSON.parse(await readSecret(secretArn));
  } catch (error) {
    // JSON.parse's message quotes the text around the fault: the password, maybe. Never that.
    if (error instanceof SyntaxError) throw new Error(`secret ${secretArn} is not JSON {"username", "password"}`);
    throw error;
  }
  const { username, password } = fields ?? {};
  for (const [field, value] of Object.entries({ username, password }))
    if (typeof value !== 'string' || value === '') throw new Error(`secret ${secretArn} has no "${field}" field`);
  const withUser = new URL(url);
  withUser.username = encodeURIComponent(username as string);
  withUser.password = encodeURIComponent(password as string);
  return withUser.toString();
}
