import type { APIGatewayProxyEvent } from 'aws-lambda';
import fc from 'fast-check';
import { LocalCluster } from '../../local/cluster';
import { CORPUS } from '../../local/corpus';
import { corpusFolder } from '../support/cluster';

// 10,000 fuzzed API Gateway events straight into the dispatcher in front of real node
// processes: whatever arrives, the answer is a well-formed 2xx or 4xx, never a 5xx or a crash.
let cluster: LocalCluster;

beforeAll(async () => {
  cluster = await LocalCluster.start({ objects: { folder: await corpusFolder() }, computeNodes: 2, slots: 2 });
  await cluster.waitForNodes();
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
});

const functionName = fc.oneof(fc.constantFrom('wordcount', 'substring', 'sha256', 'sleep', 'WORDCOUNT', '%7Bsleep', '..', '%E0%A4%A'), fc.string());
const path = fc.oneof(
  functionName.map((name) => `/invoke/${name}`),
  fc.constantFrom('/health', '/', '/invoke', '/invoke/', '/invoke/sleep/extra', '//invoke/sleep'),
  fc.webPath(),
);
// Bodies that parse, nearly fit a function, or are anything at all; sleeps kept short.
const body = fc.oneof(
  fc.json(),
  fc.string(),
  fc.record({ key: fc.oneof(fc.constantFrom(CORPUS.small.key, 'corpus', 'corpus/', '../x', 'nope.txt'), fc.string()), pattern: fc.string() }).map((b) => JSON.stringify(b)),
  fc.record({ data: fc.string(), rounds: fc.oneof(fc.integer({ min: -5, max: 50 }), fc.double(), fc.string()) }).map((b) => JSON.stringify(b)),
  fc.record({ ms: fc.oneof(fc.integer({ min: -10, max: 5 }), fc.double(), fc.constant(null)) }).map((b) => JSON.stringify(b)),
  fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes).toString('base64')),
);
const event = fc.record(
  {
    httpMethod: fc.oneof(fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'post'), fc.string()),
    path,
    headers: fc.oneof(
      fc.constant(null),
      fc.dictionary(fc.constantFrom('content-type', 'Content-Type', 'x-strata-hops', 'accept', 'x-other'), fc.oneof(fc.constantFrom('application/json', 'text/plain', 'application/x+json', '7'), fc.string())),
    ),
    body: fc.oneof(fc.constant(null), body),
    isBase64Encoded: fc.boolean(),
    pathParameters: fc.oneof(fc.constant(null), fc.record({ function: functionName })),
    requestContext: fc.record({ requestId: fc.uuid() }),
  },
  { requiredKeys: [] },
);

describe('fuzzed API Gateway events', () => {
  test('10,000 events: zero 5xx, zero crashes, every answer a JSON body', async () => {
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(event, async (e) => {
        const result = await cluster.dispatcher.handle(e as unknown as APIGatewayProxyEvent);
        statuses.set(result.statusCode, (statuses.get(result.statusCode) ?? 0) + 1);
        expect(result.statusCode).toBeGreaterThanOrEqual(200);
        expect(result.statusCode).toBeLessThan(500);
        expect(() => JSON.parse(result.body)).not.toThrow();
      }),
      { numRuns: 10_000 },
    );
    console.log(`fuzz: ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`);
    expect([...statuses.values()].reduce((a, b) => a + b, 0)).toBe(10_000);
  }, 300_000);
});
