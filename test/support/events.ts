import type { APIGatewayProxyEvent } from 'aws-lambda';

/** An API Gateway event invoking `sleep` for 0 ms (a body may replace it): what the dispatcher's tests send. */
export function invokeEvent(body = '{"ms": 0}'): APIGatewayProxyEvent {
  return {
    httpMethod: 'POST',
    path: '/invoke/sleep',
    headers: {},
    body,
    isBase64Encoded: false,
    requestContext: { requestId: 'r' },
  } as unknown as APIGatewayProxyEvent;
}
