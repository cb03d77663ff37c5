import { request } from 'node:http';
import { MemoryStateStore } from '../../common/state';
import { HttpStateStore } from '../../common/state/http-store';
import { serveApi } from '../../local/api-adapter';
import { serveDashboard } from '../../local/dashboard/server';
import { serveStateStore } from '../../local/shared-state';

/** One HTTP request with exactly these headers (Host included); resolves with the status and body. */
function send(
  url: string,
  {
    method = 'POST',
    path = '/',
    headers = {},
    body = '',
  }: { method?: string; path?: string; headers?: Record<string, string>; body?: string },
): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port: Number(port), path, method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('the local state server answers only its own nodes', () => {
  let state: Awaited<ReturnType<typeof serveStateStore>>;
  let host: string;
  const auth = () => ({ authorization: `Bearer ${state.token}` });

  beforeAll(async () => {
    state = await serveStateStore(new MemoryStateStore());
    host = new URL(state.url).host;
  });
  afterAll(() => new Promise((resolve) => state.server.close(resolve)));

  test('a body that is not JSON is a 400, and the server goes on serving (it used to end the process)', async () => {
    const reply = await send(state.url, {
      path: '/nodes',
      headers: { host, ...auth(), 'content-type': 'application/json' },
      body: 'not json',
    });
    expect(reply.status).toBe(400);
    expect(JSON.parse(reply.body).error).toMatch(/not valid JSON/);
    expect(await new HttpStateStore(state.url).liveNodes()).toEqual([]);
  });

  test('what a web page can send cross-site without asking (text/plain) is refused, 415, and registers nothing', async () => {
    const report = {
      id: 'evil',
      address: '203.0.113.9:8080',
      role: 'compute',
      slotsTotal: 8,
      slotsUsed: 0,
      cpuBusy: 0,
      memoryUsed: 0,
      load1: 0,
      load5: 0,
      load15: 0,
      cores: 2,
      heartbeatAt: Date.now(),
      draining: false,
    };
    const body = JSON.stringify({ report, ttlMs: 60_000 });
    const reply = await send(state.url, {
      path: '/heartbeat',
      headers: { host, ...auth(), 'content-type': 'text/plain' },
      body,
    });
    expect(reply.status).toBe(415);
    expect(await new HttpStateStore(state.url).liveNodes()).toEqual([]);
  });

  test('without its token a call is a 401; with another Host than loopback, a 403', async () => {
    const json = { 'content-type': 'application/json' };
    expect((await send(state.url, { path: '/nodes', headers: { host, ...json }, body: '{}' })).status).toBe(401);
    expect(
      (await send(state.url, { path: '/nodes', headers: { host, ...json, authorization: 'Bearer guess' }, body: '{}' }))
        .status,
    ).toBe(401);
    expect(
      (
        await send(state.url, {
          path: '/nodes',
          headers: { host: 'rebound.example:80', ...auth(), ...json },
          body: '{}',
        })
      ).status,
    ).toBe(403);
  });

  test('its URL carries a random token, different for each server', async () => {
    const other = await serveStateStore(new MemoryStateStore());
    expect(state.token).toMatch(/^[0-9a-f]{48}$/);
    expect(other.token).not.toBe(state.token);
    expect(state.url).toBe(`http://:${state.token}@${host}`);
    await new Promise((resolve) => other.server.close(resolve));
  });
});

describe('the API adapter and the dashboard answer no other site', () => {
  let api: Awaited<ReturnType<typeof serveApi>>;
  let calls = 0;

  beforeAll(async () => {
    api = await serveApi(async () => {
      calls++;
      return { statusCode: 200, body: '{}' };
    });
  });
  afterAll(() => new Promise((resolve) => api.server.close(resolve)));

  test("a cross-site POST (text/plain, with the page's Origin) runs nothing: 403", async () => {
    const host = new URL(api.url).host;
    const before = calls;
    const reply = await send(api.url, {
      path: '/invoke/sleep',
      headers: { host, origin: 'https://evil.example', 'content-type': 'text/plain' },
      body: 'x',
    });
    expect(reply.status).toBe(403);
    expect(calls).toBe(before);
  });

  test('DNS rebinding (a Host that is not loopback) is refused: 403; loopback callers, with or without Origin, get through', async () => {
    const host = new URL(api.url).host;
    const before = calls;
    expect(
      (
        await send(api.url, {
          path: '/invoke/sleep',
          headers: { host: `rebound.example:${new URL(api.url).port}` },
          body: '{}',
        })
      ).status,
    ).toBe(403);
    expect(calls).toBe(before);
    expect((await send(api.url, { path: '/invoke/sleep', headers: { host }, body: '{}' })).status).toBe(200);
    expect(
      (
        await send(api.url, {
          path: '/invoke/sleep',
          headers: { host: `localhost:${new URL(api.url).port}`, origin: `http://localhost:${new URL(api.url).port}` },
          body: '{}',
        })
      ).status,
    ).toBe(200);
    expect(calls).toBe(before + 2);
  });

  test('the dashboard refuses a rebound Host too', async () => {
    const dashboard = await serveDashboard({});
    const { port } = new URL(dashboard.url);
    expect(
      (
        await send(dashboard.url, {
          method: 'GET',
          path: '/api/dashboard',
          headers: { host: `rebound.example:${port}` },
        })
      ).status,
    ).toBe(403);
    expect(
      (await send(dashboard.url, { method: 'GET', path: '/api/dashboard', headers: { host: `127.0.0.1:${port}` } }))
        .status,
    ).toBe(200);
    await dashboard.close();
  });
});
