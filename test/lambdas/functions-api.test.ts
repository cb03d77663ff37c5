import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { BUILTIN_NAMES } from '../../common/functions/builtins';
import { FolderCodeStore } from '../../common/functions/code-store';
import { MemoryRegistryCache, type RegistryCache } from '../../common/functions/directory';
import { FunctionRegistry } from '../../common/functions/registry';
import { FunctionsApi } from '../../lambdas/functions-api/functions-api';
import { compileWat } from '../../local/functions-build';

const manifest = { name: 'f', abi: 1, entryPoints: ['run'], limits: { memoryPages: 1, timeMs: 1000 } };
const event = (httpMethod: string, path: string, body?: unknown) =>
  ({
    httpMethod,
    path,
    body: body === undefined ? null : JSON.stringify(body),
    isBase64Encoded: false,
  }) as APIGatewayProxyEvent;

test("a change the dispatchers' cache cannot take is kept and audited, and the answer (503) says what was done and how to finish", async () => {
  const registry = new FunctionRegistry(new FolderCodeStore(mkdtempSync(join(tmpdir(), 'strata-api-'))), BUILTIN_NAMES);
  const memory = new MemoryRegistryCache();
  let down = true;
  const cache: RegistryCache = {
    read: (hash) => memory.read(hash),
    write: (table) => (down ? Promise.reject(new Error('connect ECONNREFUSED')) : memory.write(table)),
  };
  const audited: Record<string, unknown>[] = [];
  const api = new FunctionsApi(registry, cache, (entry) => audited.push(entry));
  const module = Buffer.from(
    await compileWat(`(module (import "env" "memory" (memory 1))
      (func (export "alloc") (param i32) (result i32) (i32.const 0)) (func (export "run") (param i32 i32)))`),
  ).toString('base64');

  const failed = await api.handle(event('PUT', '/functions/f', { manifest, module, alias: 'live' }));
  expect(failed.statusCode).toBe(503);
  expect(JSON.parse(failed.body).error).toBe(
    "f is deployed as version 1, but the dispatchers' cache could not be updated (connect ECONNREFUSED); they go on with the functions as they were until it is: send the same request again",
  );
  expect((await registry.version('f', 1)).version).toBe(1);
  expect(audited).toMatchObject([{ action: 'deploy', name: 'f', version: 1, created: true }]);
  expect(await memory.read()).toEqual({});

  down = false;
  const again = await api.handle(event('PUT', '/functions/f', { manifest, module, alias: 'live' }));
  expect([again.statusCode, JSON.parse(again.body).version, JSON.parse(again.body).created]).toEqual([200, 1, false]);
  expect(Object.keys((await memory.read()).table!.functions)).toEqual(['f']);
});

test('a name that is not a function name is a 400 naming it on every route, before the registry is read', async () => {
  const registry = new FunctionRegistry(new FolderCodeStore(mkdtempSync(join(tmpdir(), 'strata-api-'))), BUILTIN_NAMES);
  const api = new FunctionsApi(registry, new MemoryRegistryCache());
  for (const [method, path] of [
    ['GET', '/functions/..%2F..%2F..'],
    ['DELETE', '/functions/..%2F..%2F..'],
    ['PUT', '/functions/..%2Fx/aliases/live'],
    ['GET', '/functions/Upper'],
  ]) {
    const answer = await api.handle(event(method, path, method === 'PUT' ? { version: 1 } : undefined));
    expect([method, path, answer.statusCode, JSON.parse(answer.body).error]).toEqual([
      method,
      path,
      400,
      expect.stringMatching(/^name must be 1 to 64 characters of a-z, 0-9 and -, starting with a letter; got "/),
    ]);
  }
});
