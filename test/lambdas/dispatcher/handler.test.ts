import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { STRATA_DEFAULTS } from '../../../common/settings';
import { configFromEnvironment, redisUrlWithUser } from '../../../lambdas/dispatcher/handler';
import { type RedisServer, startRedisServer } from '../../../local/redis-server';

let redis: RedisServer;

beforeAll(async () => {
  redis = await startRedisServer();
});

afterAll(async () => {
  await redis?.stop();
});

describe('the Lambda handler', () => {
  test('in a fresh process, as in a Lambda container: answers, and writes its metrics to stdout as CloudWatch EMF', () => {
    // Three invocations in one container; the last line is their answers.
    const script = `
      const { handler } = require(${JSON.stringify(join(__dirname, '..', '..', '..', 'lambdas', 'dispatcher', 'handler.ts'))});
      const event = (httpMethod, path, body = null) => ({ httpMethod, path, headers: {}, body, isBase64Encoded: false, requestContext: { requestId: 'r1' } });
      (async () => {
        const answers = [];
        for (const e of [event('GET', '/health'), event('POST', '/invoke/sha256', '{"rounds": 0}'), event('POST', '/invoke/fly')]) {
          const r = await handler(e);
          answers.push([r.statusCode, JSON.parse(r.body)]);
        }
        console.log(JSON.stringify(answers));
        process.exit(0);
      })();`;
    const output = execFileSync(process.execPath, ['--import', 'tsx', '-e', script], {
      env: {
        PATH: process.env.PATH,
        STRATA_REDIS_URL: redis.url,
        AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
        AWS_LAMBDA_FUNCTION_NAME: 'strata-dispatcher',
      },
      cwd: join(__dirname, '..', '..', '..'),
      encoding: 'utf8',
    });
    const lines = output.trim().split('\n');
    const answers = JSON.parse(lines[lines.length - 1]) as [number, Record<string, unknown>][];
    expect(answers).toEqual([
      [200, { status: 'ok', strategy: STRATA_DEFAULTS.invocationStrategy, computeNodes: 0 }], // cdk.json's
      [400, { error: 'args.data is required', function: 'sha256' }],
      [404, { error: 'no function "fly"', functions: ['sha256', 'sleep', 'substring', 'wordcount'] }],
    ]);
    const emf = lines
      .filter((l) => l.includes('"_aws"'))
      .map((l) => JSON.parse(l) as Record<string, unknown> & { _aws: { CloudWatchMetrics: { Namespace: string }[] } });
    expect(
      emf.some((record) => record.ColdStart === 1 && record._aws.CloudWatchMetrics[0].Namespace === 'Strata'),
    ).toBe(true);
  });

  test.each([
    [{}, 'STRATA_REDIS_URL must be set to the state store, e.g. rediss://host:6380'],
    [{ STRATA_REDIS_URL: 'redis://x', STRATA_STRATEGY: 'fastest' }, 'STRATA_STRATEGY must be one of round-robin,'],
    [
      { STRATA_REDIS_URL: 'redis://x', STRATA_MAX_ATTEMPTS: '0' },
      'STRATA_MAX_ATTEMPTS must be a number above 0, got 0',
    ],
    [
      { STRATA_REDIS_URL: 'redis://x', STRATA_PREQUAL_QUANTILE: '1.5' },
      'STRATA_PREQUAL_QUANTILE must be a number from 0 to 1, got 1.5',
    ],
  ])('a bad environment %p fails the cold start with a message naming the variable', (env, message) => {
    expect(() => configFromEnvironment(env)).toThrow(message);
  });

  test("the role's user and password from Secrets Manager go into the state store URL, encoded", async () => {
    const secrets: string[] = [];
    const read = async (arn: string) => {
      secrets.push(arn);
      return JSON.stringify({ username: 'strata-dispatcher', password: 'a/b+c=d' });
    };
    expect(await redisUrlWithUser('rediss://cache.internal:6380', 'arn:secret', read)).toBe(
      'rediss://strata-dispatcher:a%2Fb%2Bc%3Dd@cache.internal:6380',
    );
    expect(secrets).toEqual(['arn:secret']);
    expect(await redisUrlWithUser('redis://127.0.0.1:6379', undefined, read)).toBe('redis://127.0.0.1:6379');
    await expect(redisUrlWithUser('rediss://h:6380', 'arn:other', async () => '{"password":"p"}')).rejects.toThrow(
      'secret arn:other has no "username" field',
    );
    await expect(redisUrlWithUser('rediss://h:6380', 'arn:other', async () => '{"token":"t"}')).rejects.toThrow(
      'has no "username" field',
    );
    // A secret edited by hand that is not JSON: the error names the secret, never its text
    // (JSON.parse's own message quotes the text around the fault, here the password).
    const broken = redisUrlWithUser(
      'rediss://h:6380',
      'arn:edited',
      async () => '{"username":"u","password":Tr0ub4dor&3}',
    );
    await expect(broken).rejects.toThrow('secret arn:edited is not JSON {"username", "password"}');
    await expect(broken).rejects.not.toThrow(/Tr0ub4dor/);
    await expect(redisUrlWithUser('rediss://h:6380', 'arn:null', async () => 'null')).rejects.toThrow(
      'secret arn:null has no "username" field',
    );
  });
});
