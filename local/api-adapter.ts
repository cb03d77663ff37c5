import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { refuseForeign } from './loopback';

/** Anything that answers API Gateway REST proxy events: the dispatcher handler. */
export type ProxyHandler = (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>;

/** API Gateway's limit on a REST API's request body (10 MB); it answers 413 above it, and so does the adapter. */
export const API_MAX_BODY_BYTES = 10 * 1024 * 1024;

/**
 * API Gateway on loopback: turns each HTTP request into a REST API proxy event, exactly
 * as API Gateway builds it, hands it to the handler and writes back what it answers.
 */
export async function serveApi(handler: ProxyHandler, port = 0): Promise<{ url: string; server: Server }> {
  const server = createServer(async (req, res) => {
    // API Gateway signs each call with IAM; on loopback, at least no web page may call.
    if (refuseForeign(req, res)) return;
    try {
      // Read to the end (so the client sees the answer), keeping no more than the limit.
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of req) {
        size += (chunk as Buffer).length;
        if (size <= API_MAX_BODY_BYTES) chunks.push(chunk as Buffer);
      }
      if (size > API_MAX_BODY_BYTES) {
        res.writeHead(413, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            message: `Request Too Long: the body is ${size} bytes, over API Gateway's limit of ${API_MAX_BODY_BYTES}`,
          }),
        );
        return;
      }
      const result = await handler(toProxyEvent(req, Buffer.concat(chunks)));
      const body = result.isBase64Encoded ? Buffer.from(result.body, 'base64') : Buffer.from(result.body ?? '', 'utf8');
      res
        .writeHead(result.statusCode, { ...(result.headers as Record<string, string>), 'content-length': body.length })
        .end(body);
    } catch (error) {
      // API Gateway answers 502 when the integration fails.
      res
        .writeHead(502, { 'content-type': 'application/json' })
        .end(JSON.stringify({ message: 'Internal server error', error: (error as Error).message }));
    }
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

/** The REST API (v1) proxy event for one HTTP request that the adapter received. */
export function toProxyEvent(req: IncomingMessage, body: Buffer): APIGatewayProxyEvent {
  return proxyEvent({
    method: req.method ?? 'GET',
    url: req.url ?? '/',
    rawHeaders: req.rawHeaders,
    body,
    sourceIp: req.socket.remoteAddress,
    httpVersion: req.httpVersion,
  });
}

export interface ProxyRequest {
  readonly method: string;
  /** Path and query, e.g. /invoke/wordcount */
  readonly url: string;
  /** Alternating names and values, as Node.js gives them. */
  readonly rawHeaders: readonly string[];
  readonly body: Buffer;
  readonly sourceIp?: string;
  readonly httpVersion?: string;
}

/** The REST API (v1) proxy event for one request, with the `/invoke/{function}` resource, as API Gateway builds it. */
export function proxyEvent(req: ProxyRequest): APIGatewayProxyEvent {
  const url = new URL(req.url, 'http://localhost');
  const body = req.body;
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const [name, value] = [req.rawHeaders[i], req.rawHeaders[i + 1]];
    headers[name] = value;
    multiValueHeaders[name] = [...(multiValueHeaders[name] ?? []), value];
  }
  const query = [...url.searchParams.keys()];
  const invoke = /^\/invoke\/([^/]+)$/.exec(url.pathname);
  const text = body.toString('utf8');
  const binary = body.length > 0 && !Buffer.from(text, 'utf8').equals(body); // not valid UTF-8
  return {
    resource: invoke ? '/invoke/{function}' : url.pathname,
    path: url.pathname,
    httpMethod: req.method,
    headers,
    multiValueHeaders,
    queryStringParameters: query.length ? Object.fromEntries(url.searchParams) : null,
    multiValueQueryStringParameters: query.length
      ? Object.fromEntries(query.map((k) => [k, url.searchParams.getAll(k)]))
      : null,
    pathParameters: invoke ? { function: invoke[1] } : null,
    stageVariables: null,
    body: body.length === 0 ? null : binary ? body.toString('base64') : text,
    isBase64Encoded: binary,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      authorizer: null,
      protocol: `HTTP/${req.httpVersion ?? '1.1'}`,
      httpMethod: req.method,
      identity: {
        sourceIp: req.sourceIp ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? null,
      } as APIGatewayProxyEvent['requestContext']['identity'],
      path: `/local${url.pathname}`,
      stage: 'local',
      requestId: randomUUID(),
      requestTimeEpoch: Date.now(),
      resourceId: 'local',
      resourcePath: invoke ? '/invoke/{function}' : url.pathname,
    },
  };
}
