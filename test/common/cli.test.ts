import { createServer } from 'node:http';
import { objectStoreFrom } from '../../common/cli';
import { type OnLoopback, onLoopback } from '../support/loopback';

// The EC2 nodes give RGW's keys as STRATA_OBJECTS_*, not AWS_*: the AWS SDK's own chain
// must stay free to give the function code store the instance role (docs/aws.md).
describe('objectStoreFrom: whose keys sign the object store requests', () => {
  let server: OnLoopback;
  const signedBy: string[] = [];

  beforeAll(async () => {
    server = await onLoopback(
      createServer((request, response) => {
        signedBy.push(/Credential=([^/]+)\//.exec(request.headers.authorization ?? '')?.[1] ?? 'unsigned');
        response.writeHead(200, { 'content-type': 'application/octet-stream' }).end('bytes');
      }),
    );
  });
  afterAll(() => server.close());
  beforeEach(() => {
    signedBy.length = 0;
  });

  test("STRATA_OBJECTS_ACCESS_KEY_ID and STRATA_OBJECTS_SECRET_ACCESS_KEY, when both are set, over the SDK's chain", async () => {
    const store = objectStoreFrom(
      { 's3-endpoint': `http://${server.address}` },
      { STRATA_OBJECTS_ACCESS_KEY_ID: 'RGWKEY', STRATA_OBJECTS_SECRET_ACCESS_KEY: 'rgw-secret' },
    );
    expect((await store.get('a/key')).toString()).toBe('bytes');
    expect(signedBy).toEqual(['RGWKEY']);
  });

  test("the SDK's chain (here AWS_* of the process) when they are not both set", async () => {
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
    process.env.AWS_ACCESS_KEY_ID = 'ENVKEY';
    process.env.AWS_SECRET_ACCESS_KEY = 'env-secret';
    try {
      const store = objectStoreFrom(
        { 's3-endpoint': `http://${server.address}` },
        { STRATA_OBJECTS_ACCESS_KEY_ID: 'RGWKEY' },
      );
      await store.get('a/key');
      expect(signedBy).toEqual(['ENVKEY']);
    } finally {
      for (const [name, value] of [
        ['AWS_ACCESS_KEY_ID', saved.id],
        ['AWS_SECRET_ACCESS_KEY', saved.secret],
      ] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });
});
