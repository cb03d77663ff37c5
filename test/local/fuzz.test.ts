import { truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import fc from 'fast-check';
import { forward } from '../../common/http/forward';
import { REFUSED_HEADER } from '../../common/http/headers';
import { LocalCluster } from '../../local/cluster';
import { CORPUS } from '../../local/corpus';
import { corpusFolder } from '../support/cluster';

// 10,000 fuzzed API Gateway events straight into the dispatcher in front of real node
// processes: whatever arrives, the answer is a well-formed 2xx or 4xx, never a 5xx or a
// crash. Then the hostile requests found once, each kept fixed: through the API adapter
// over HTTP, and straight at a compute node and at a storage node.
let cluster: LocalCluster;

beforeAll(async () => {
  const folder = await corpusFolder();
  // An object over wordcount's 32 MiB (sparse: refused before a byte is read), and one
  // whose 17 Mi characters have no line break, space or bracket to cut at.
  writeFileSync(join(folder, 'huge.txt'), '');
  truncateSync(join(folder, 'huge.txt'), 32 * 1024 * 1024 + 1);
  writeFileSync(join(folder, 'one-line.txt'), 'a'.repeat(17 * 1024 * 1024));
  cluster = await LocalCluster.start({ objects: { folder }, computeNodes: 2, storageNodes: 1, slots: 2 });
  await cluster.waitForNodes();
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
});

const functionName = fc.oneof(
  fc.constantFrom('wordcount', 'substring', 'sha256', 'sleep', 'WORDCOUNT', '%7Bsleep', '..', '%E0%A4%A'),
  fc.string(),
);
const path = fc.oneof(
  functionName.map((name) => `/invoke/${name}`),
  fc.constantFrom('/health', '/', '/invoke', '/invoke/', '/invoke/sleep/extra', '//invoke/sleep'),
  fc.webPath(),
);
// Bodies that parse, nearly fit a function, or are anything at all; sleeps kept short.
const body = fc.oneof(
  fc.json(),
  fc.string(),
  fc
    .record({
      key: fc.oneof(fc.constantFrom(CORPUS.small.key, 'corpus', 'corpus/', '../x', 'nope.txt'), fc.string()),
      pattern: fc.string(),
    })
    .map((b) => JSON.stringify(b)),
  fc
    .record({ data: fc.string(), rounds: fc.oneof(fc.integer({ min: -5, max: 50 }), fc.double(), fc.string()) })
    .map((b) => JSON.stringify(b)),
  fc
    .record({ ms: fc.oneof(fc.integer({ min: -10, max: 5 }), fc.double(), fc.constant(null)) })
    .map((b) => JSON.stringify(b)),
  fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes).toString('base64')),
  // Deep nesting, odd encodings, numbers and strings past what a function takes.
  fc
    .tuple(fc.integer({ min: 1, max: 8000 }), fc.constantFrom('[', '{"a":'))
    .map(
      ([depth, open]) =>
        `{"key":"${CORPUS.small.key}","x":${open.repeat(depth)}1${(open === '[' ? ']' : '}').repeat(depth)}}`,
    ),
  fc
    .tuple(fc.constantFrom('\uFEFF', '\uFFFE', ''), fc.json())
    .map(([bom, json]) => Buffer.from(`${bom}${json}`, 'utf16le').toString('base64')),
  fc
    .tuple(fc.constantFrom('ms', 'rounds', 'key', 'pattern'), fc.integer({ min: 300, max: 2000 }))
    .map(([name, digits]) => `{"${name}": 1${'0'.repeat(digits)}, "data": "x", "key": "k"}`),
  fc.constantFrom(
    '{"key":"k","pattern":"\\ud800"}',
    '{"data":"\\udfff\\ud800"}',
    `{"key":"${CORPUS.small.key}","pattern":"${'x'.repeat(300)}"}`,
  ),
);
const event = fc.record(
  {
    httpMethod: fc.oneof(
      fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'post'),
      fc.string(),
    ),
    path,
    headers: fc.oneof(
      fc.constant(null),
      fc.dictionary(
        fc.constantFrom('content-type', 'Content-Type', 'x-strata-hops', 'accept', 'x-other'),
        fc.oneof(fc.constantFrom('application/json', 'text/plain', 'application/x+json', '7'), fc.string()),
      ),
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

/** A request, once through the API adapter and once straight at each kind of node. */
async function send(
  target: 'api' | 'compute' | 'storage',
  path: string,
  body: Buffer | string,
  contentType = 'application/json',
) {
  const nodes = await cluster.state.liveNodes();
  const address = target === 'api' ? new URL(cluster.url).host : nodes.find((n) => n.role === target)!.address;
  const nodePath = target === 'storage' ? path.replace('/invoke/', '/stage/') : path;
  const reply = await forward({
    address,
    path: nodePath,
    body,
    headers: { 'content-type': contentType },
    timeoutMs: 60_000,
  });
  return {
    status: reply.status,
    body: JSON.parse(reply.body.toString('utf8')) as { error?: string; message?: string },
    refused: reply.headers[REFUSED_HEADER],
  };
}

const small = CORPUS.small.key;
const utf16 = (bom: number[], text: string, encoding: 'utf16le' | 'ucs2') =>
  Buffer.concat([Buffer.from(bom), Buffer.from(text, encoding)]);
const swapped = (text: string) => Buffer.from(text, 'utf16le').swap16();

describe('hostile requests found once, kept fixed: a 4xx that says why, never a 5xx', () => {
  test.each([
    [
      '5,000 levels of arrays (10 KB)',
      '/invoke/wordcount',
      `{"key":"${small}","x":${'['.repeat(5000)}${']'.repeat(5000)}}`,
      400,
      /nests arrays and objects deeper than 64 levels/,
    ],
    [
      '5,000 levels of objects',
      '/invoke/substring',
      `${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`,
      400,
      /deeper than 64 levels/,
    ],
    [
      'bytes that are not UTF-8',
      '/invoke/wordcount',
      Buffer.from([0x7b, 0x22, 0x6b, 0x65, 0x79, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]),
      400,
      /not valid UTF-8/,
    ],
    [
      'UTF-16LE with its byte order mark',
      '/invoke/wordcount',
      utf16([0xff, 0xfe], `{"key":"${small}"}`, 'utf16le'),
      415,
      /UTF-16LE .*send it as UTF-8/,
    ],
    [
      'UTF-16BE with its byte order mark',
      '/invoke/wordcount',
      Buffer.concat([Buffer.from([0xfe, 0xff]), swapped(`{"key":"${small}"}`)]),
      415,
      /UTF-16BE/,
    ],
    [
      'a number of 400 digits',
      '/invoke/substring',
      `{"key":"${small}","pattern":1${'0'.repeat(400)}}`,
      400,
      /pattern must be a string/,
    ],
    [
      'a string of 60,000 characters',
      '/invoke/substring',
      `{"key":"${small}","pattern":"${'x'.repeat(60_000)}"}`,
      400,
      /pattern must be a string of 1 to 256 characters|args.pattern must be at most 256 characters/,
    ],
    [
      'a lone surrogate in the pattern',
      '/invoke/substring',
      `{"key":"${small}","pattern":"a\\ud800"}`,
      400,
      /lone surrogate/,
    ],
    [
      "an object over wordcount's limit",
      '/invoke/wordcount',
      '{"key":"huge.txt"}',
      422,
      /wordcount reads at most 33554432 bytes \(32 MiB\)/,
    ],
    [
      '17 Mi characters with nowhere to cut',
      '/invoke/wordcount',
      '{"key":"one-line.txt"}',
      422,
      /more than 16777216 characters without a line break/,
    ],
  ])(
    '%s',
    async (_name, path, body, status, message) => {
      // A storage node busy past its thresholds refuses a stage before it opens the object (503, nothing run: another may take it).
      const targets = status === 422 ? (['api', 'compute'] as const) : (['api', 'compute', 'storage'] as const);
      for (const target of targets) {
        const reply = await send(target, path, body);
        expect([target, reply.status, reply.body.error]).toEqual([target, status, expect.stringMatching(message)]);
      }
    },
    60_000,
  );

  test('a JSON body in UTF-8 with a byte order mark is taken; huge extra fields are not forwarded', async () => {
    const reply = await send(
      'api',
      '/invoke/wordcount',
      Buffer.concat([
        Buffer.from([0xef, 0xbb, 0xbf]),
        Buffer.from(`{"key":"${small}","x":"${'y'.repeat(5_000_000)}"}`),
      ]),
    );
    expect(reply).toMatchObject({ status: 200, body: { key: small } });
  }, 60_000);

  test('a function name that is not valid percent-encoding: 404 at the API and at both nodes', async () => {
    for (const target of ['api', 'compute', 'storage'] as const)
      expect((await send(target, '/invoke/%E0%A4%A', '{}')).status).toBe(404);
  });

  test('a data stage the storage node does not know: 404, with the refusal that tells a compute node to run it itself', async () => {
    expect(await send('storage', '/invoke/no-such-stage', '{}')).toMatchObject({ status: 404, refused: 'no-stage' });
    expect(await send('storage', '/invoke/sleep', '{}')).toMatchObject({ status: 404, refused: 'no-stage' }); // no data stage
  });

  test('a sleep longer than an invocation has: 400 naming the limit, not a 504 after 25 s', async () => {
    expect(await send('api', '/invoke/sleep', '{"ms": 30000}')).toEqual({
      status: 400,
      body: { error: 'args.ms must be at most 20000', function: 'sleep' },
    });
  });

  test("a body over API Gateway's 10 MB: 413 from the adapter; over the dispatcher's 6 MiB: 413 from it", async () => {
    expect(await send('api', '/invoke/sha256', Buffer.alloc(11 * 1024 * 1024, 0x61), 'text/plain')).toMatchObject({
      status: 413,
      body: { message: expect.stringMatching(/over API Gateway's limit of 10485760/) },
    });
    expect(await send('api', '/invoke/sha256', Buffer.alloc(7 * 1024 * 1024, 0x61), 'text/plain')).toMatchObject({
      status: 413,
      body: { error: expect.stringMatching(/over the limit of 6291456/) },
    });
  }, 60_000);
});
