import { createServer } from 'node:net';
import { S3ObjectStore } from '../../common/object-store';
import { type OnLoopback, onLoopback } from '../support/loopback';

/**
 * An RGW that lost its power mid-request never resets the connection: the S3 client must
 * give up on a silent connection by itself (and retry), or the function's slot is held
 * forever. Here a real TCP server plays that host: it takes connections and then goes quiet.
 */
describe('S3ObjectStore against a host that goes silent', () => {
  let server: OnLoopback;
  let connections = 0;
  /** What the server writes on each connection before going quiet. */
  let firstBytes = '';

  beforeAll(async () => {
    server = await onLoopback(
      createServer((socket) => {
        connections++;
        socket.once('data', () => socket.write(firstBytes));
      }),
    );
  });

  afterAll(async () => {
    await server?.close();
  });

  beforeEach(() => {
    connections = 0;
  });

  const store = () =>
    new S3ObjectStore({
      endpoint: `http://${server.address}`,
      bucket: 'data',
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
      idleTimeoutMs: 300,
    });

  it('fails a request that gets no answer, after retrying it on new connections', async () => {
    firstBytes = '';
    await expect(store().get('corpus/small.txt')).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(connections).toBe(3); // the SDK's three attempts, each on a connection of its own
  });

  it('fails a write that gets no answer', async () => {
    firstBytes = '';
    await expect(store().put('out/result.json', '{"words":1}')).rejects.toMatchObject({ name: 'TimeoutError' });
  });

  it('ends a streamed read with an error when the body stops arriving', async () => {
    firstBytes = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\nthe first ten';
    const { size, body } = await store().open('corpus/large.txt');
    expect(size).toBe(1000);
    const read = (async () => {
      let bytes = 0;
      for await (const chunk of body) bytes += (chunk as Buffer).length;
      return bytes;
    })();
    await expect(read).rejects.toThrow(/timed out after 300 ms of inactivity/);
  });
});
