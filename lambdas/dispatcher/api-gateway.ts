import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { type FunctionDirectory, NotFoundError, type ResolvedFunction } from '../../common/functions/directory';
import { schemaViolation } from '../../common/functions/schema';
import type { Offered } from '../../common/http/forward-and-retry';
import {
  ATTEMPTS_HEADER,
  FUNCTION_ERROR_HEADER,
  FUNCTION_VERSION_HEADER,
  NODE_HEADER,
  OFFLOAD_HEADER,
  ROUTE_HEADER,
  TIER1_HEADER,
  TIER2_HEADER,
  TIER3_HEADER,
  tier1Header,
} from '../../common/http/headers';
import { BodyError, bodyText, parseJsonBody, safeDecode } from '../../common/http/json';

/**
 * The dispatcher's API Gateway adapter: a proxy event in, a request the dispatcher acts
 * on out (or the 4xx that answers it); the dispatcher's outcome in, the proxy result out.
 */

/** What an API Gateway proxy event asks for. */
export type ApiRequest =
  | { readonly kind: 'health' }
  | {
      readonly kind: 'invoke';
      readonly functionName: string;
      /** The version of a user's function that was resolved; undefined for a built-in. */
      readonly version: number | undefined;
      /** The object the function's data stage reads, if it has one. */
      readonly objectKey: string | undefined;
      /** The arguments, checked against the function's schema. */
      readonly body: string;
      readonly requestId: string;
    }
  /** Bad input: answered here, nothing dispatched. */
  | { readonly kind: 'answer'; readonly result: APIGatewayProxyResult };

/** Reads an API Gateway proxy event: the route, the method, the function (looked up in `functions`) and its arguments. */
export async function parseEvent(
  event: APIGatewayProxyEvent,
  maxBodyBytes: number,
  functions: FunctionDirectory,
): Promise<ApiRequest> {
  const method = typeof event?.httpMethod === 'string' ? event.httpMethod.toUpperCase() : undefined;
  const path = typeof event?.path === 'string' ? event.path : undefined;
  if (!method || !path)
    return answer(400, { error: 'not an API Gateway proxy event: httpMethod and path are required' });

  if (path === '/health') {
    if (method !== 'GET')
      return answer(405, { error: `${method} is not allowed on /health; use GET` }, { allow: 'GET' });
    return { kind: 'health' };
  }
  const match = /^\/invoke\/([^/]+)\/?$/.exec(path);
  if (!match) return answer(404, { error: `no route ${path}; the routes are POST /invoke/{function} and GET /health` });
  if (method !== 'POST')
    return answer(405, { error: `${method} is not allowed on /invoke; use POST` }, { allow: 'POST' });

  const name = safeDecode(event.pathParameters?.function ?? match[1]);
  let fn: ResolvedFunction;
  try {
    if (name === undefined) throw new NotFoundError(`no function "${match[1]}"`);
    fn = await functions.resolve(name);
  } catch (error) {
    if (error instanceof NotFoundError)
      return answer(404, { error: error.message, functions: await functions.names() });
    throw error;
  }

  const parsed = parseBody(event, maxBodyBytes);
  if ('status' in parsed) return answer(parsed.status, { error: parsed.error });
  const args = parsed.value;
  const problem = schemaViolation(fn.argsSchema ?? { type: 'object' }, args);
  if (problem) return answer(400, { error: problem, function: fn.name });
  return {
    kind: 'invoke',
    functionName: fn.name,
    version: fn.kind === 'wasm' ? fn.version : undefined,
    objectKey: fn.objectKeyArg === undefined ? undefined : String((args as Record<string, unknown>)[fn.objectKeyArg]),
    body: JSON.stringify(args),
    requestId: typeof event.requestContext?.requestId === 'string' ? event.requestContext.requestId : '-',
  };
}

/**
 * When an invocation's answer must be on its way: API Gateway's integration timeout
 * after it received the request, or the Lambda's own time, whichever is first, less
 * the margin kept for the answer to travel back.
 */
export function deadlineOf(
  event: APIGatewayProxyEvent,
  remainingMs: number | undefined,
  limits: { readonly now: number; readonly apiTimeoutMs: number; readonly replyMarginMs: number },
): number {
  const { now } = limits;
  const received = event.requestContext?.requestTimeEpoch;
  const fromApi = (typeof received === 'number' && received <= now ? received : now) + limits.apiTimeoutMs;
  const fromLambda = typeof remainingMs === 'number' && Number.isFinite(remainingMs) ? now + remainingMs : Infinity;
  return Math.min(fromApi, fromLambda) - limits.replyMarginMs;
}

/** The proxy result for how the offer to the compute nodes ended. */
export function resultOf(
  offered: Offered<string>,
  dispatch: { readonly strategyName: string; readonly degraded: boolean; readonly maxAttempts: number },
): APIGatewayProxyResult {
  switch (offered.kind) {
    case 'answered': {
      const { response, node, attempts } = offered;
      return {
        statusCode: response.status,
        headers: {
          'content-type': String(response.headers['content-type'] ?? 'application/json'),
          [NODE_HEADER]: String(response.headers[NODE_HEADER] ?? node),
          [TIER1_HEADER]: tier1Header(dispatch.strategyName, node, dispatch.degraded),
          [TIER2_HEADER]: String(response.headers[ROUTE_HEADER] ?? node),
          [TIER3_HEADER]: String(response.headers[OFFLOAD_HEADER] ?? 'none'),
          [ATTEMPTS_HEADER]: String(attempts),
          ...(response.headers['retry-after'] ? { 'retry-after': String(response.headers['retry-after']) } : {}),
          ...(response.headers[FUNCTION_ERROR_HEADER]
            ? { [FUNCTION_ERROR_HEADER]: String(response.headers[FUNCTION_ERROR_HEADER]) }
            : {}),
          ...(response.headers[FUNCTION_VERSION_HEADER]
            ? { [FUNCTION_VERSION_HEADER]: String(response.headers[FUNCTION_VERSION_HEADER]) }
            : {}),
        },
        body: response.body.toString('utf8'),
      };
    }
    case 'failed':
      // The node may have run it: it is not run again elsewhere.
      return reply(
        offered.error.kind === 'timeout' ? 504 : 502,
        { error: `compute node ${offered.node}: ${offered.error.kind}` },
        { [NODE_HEADER]: offered.node },
      );
    case 'none':
      return reply(
        503,
        { error: 'no compute node can take the invocation now', reason: offered.why },
        { 'retry-after': '1' },
      );
    case 'exhausted':
      return reply(
        503,
        { error: `no compute node took the invocation in ${dispatch.maxAttempts} attempts`, tried: offered.tried },
        { 'retry-after': '1' },
      );
  }
}

export function reply(status: number, body: unknown, headers: Record<string, string> = {}): APIGatewayProxyResult {
  return {
    statusCode: status,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  };
}

function answer(status: number, body: unknown, headers: Record<string, string> = {}): ApiRequest {
  return { kind: 'answer', result: reply(status, body, headers) };
}

function parseBody(event: APIGatewayProxyEvent, limit: number): { value: unknown } | { status: number; error: string } {
  if (event.body !== null && event.body !== undefined && typeof event.body !== 'string')
    return { status: 400, error: 'the body must be a string' };
  const raw = event.body
    ? event.isBase64Encoded === true
      ? Buffer.from(event.body, 'base64')
      : Buffer.from(event.body, 'utf8')
    : Buffer.alloc(0);
  if (raw.length > limit) return { status: 413, error: `the body is ${raw.length} bytes, over the limit of ${limit}` };
  const type = headerOf(event, 'content-type')?.split(';')[0].trim().toLowerCase() ?? 'application/json';
  try {
    if (type === 'application/json' || type.endsWith('+json'))
      return { value: raw.length === 0 ? {} : parseJsonBody(raw) };
    // A raw body reaches the function as {"data": "<the body>"}.
    return { value: { data: bodyText(raw) } };
  } catch (error) {
    if (error instanceof BodyError) return { status: error.status, error: error.message };
    throw error;
  }
}

function headerOf(event: APIGatewayProxyEvent, name: string): string | undefined {
  const headers = event.headers && typeof event.headers === 'object' ? event.headers : {};
  for (const [key, value] of Object.entries(headers))
    if (key.toLowerCase() === name && typeof value === 'string') return value;
  return undefined;
}
