import { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { BUILTIN_NAMES } from '../../common/functions/builtins';
import { S3CodeStore } from '../../common/functions/code-store';
import { RedisRegistryCache } from '../../common/functions/directory';
import { FunctionRegistry } from '../../common/functions/registry';
import { RedisStateStore } from '../../common/state';
import { redisUrlWithUser } from '../dispatcher/secret';
import { FunctionsApi } from './functions-api';

const logger = new Logger({ serviceName: 'strata-functions-api' });
let api: Promise<FunctionsApi> | undefined;

/** The functions API's settings, from its environment (lib/constructs/functions-api.ts writes them). */
async function connect(env: NodeJS.ProcessEnv = process.env): Promise<FunctionsApi> {
  const bucket = env.STRATA_FUNCTIONS_BUCKET;
  const redisUrl = env.STRATA_REDIS_URL;
  if (!bucket) throw new Error('STRATA_FUNCTIONS_BUCKET must name the function code bucket');
  if (!redisUrl) throw new Error('STRATA_REDIS_URL must be set to the state store, e.g. rediss://host:6380');
  const store = await RedisStateStore.connect({
    url: await redisUrlWithUser(redisUrl, env.STRATA_REDIS_AUTH_SECRET_ARN || undefined),
  });
  const registry = new FunctionRegistry(new S3CodeStore({ bucket }), BUILTIN_NAMES);
  // Every change, with the IAM principal that made it, in this function's log group.
  return new FunctionsApi(registry, new RedisRegistryCache((command) => store.command(command)), (entry) =>
    logger.info('registry change', entry),
  );
}

/** The Lambda entry point: one registry client and one Redis connection per container. */
export async function handler(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  api ??= connect().catch((error: Error) => {
    api = undefined;
    throw error;
  });
  try {
    return await (await api).handle(event);
  } catch (error) {
    logger.error('unexpected error', error as Error);
    return {
      statusCode: 500,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ error: 'internal error' }),
    };
  }
}
