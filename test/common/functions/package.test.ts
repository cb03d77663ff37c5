import {
  checkModule,
  type Manifest,
  PACKAGE_LIMITS,
  PackageError,
  parseManifest,
} from '../../../common/functions/manifest';
import { schemaProblems, schemaViolation } from '../../../common/functions/schema';
import { moduleShape } from '../../../common/functions/wasm-module';
import { compileWat } from '../../../local/functions-build';

const RUN: Manifest = parseManifest({
  name: 'f',
  abi: 1,
  entryPoints: ['run'],
  limits: { memoryPages: 4, timeMs: 1000 },
});
const STAGE: Manifest = parseManifest({
  name: 'g',
  abi: 1,
  entryPoints: ['begin', 'add', 'end', 'finish'],
  dataStage: { objectKeyArg: 'key' },
  limits: { memoryPages: 4, timeMs: 1000, maxObjectBytes: 1024 },
  argsSchema: { type: 'object', properties: { key: { type: 'string' } }, required: ['key'] },
});

/** A module of the ABI, with `body` in place of its imports and exports. */
const wat = (body: string) => compileWat(`(module ${body})`);
const GOOD_RUN = `
  (import "env" "memory" (memory 1))
  (import "strata" "output" (func (param i32 i32)))
  (func (export "alloc") (param i32) (result i32) (i32.const 0))
  (func (export "run") (param i32 i32))`;

const refusal = async (body: string, manifest = RUN) => {
  try {
    checkModule(await wat(body), manifest);
  } catch (error) {
    expect(error).toBeInstanceOf(PackageError);
    return (error as Error).message;
  }
  throw new Error('the module was accepted');
};

describe('a module is checked against the ABI and its manifest at deploy', () => {
  test('a module that keeps the ABI passes, and its memory minimum is read', async () => {
    expect(checkModule(await wat(GOOD_RUN.replace('(memory 1)', '(memory 3)')), RUN).memoryMinPages).toBe(3);
  });

  test('bytes that are not WebAssembly, or a truncated module, are refused naming it', async () => {
    expect(() => checkModule(Buffer.from('hello, world'), RUN)).toThrow(
      /not valid WebAssembly \(or is truncated\): not a WebAssembly module/,
    );
    const good = await wat(GOOD_RUN);
    expect(() => checkModule(good.subarray(0, good.length - 7), RUN)).toThrow(
      /not valid WebAssembly \(or is truncated\)/,
    );
  });

  test('an import outside the ABI is refused naming it: WASI, an unknown strata function, a table', async () => {
    expect(
      await refusal(
        `(import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32))) ${GOOD_RUN}`,
      ),
    ).toMatch(
      /imports wasi_snapshot_preview1.fd_write \(function\); a module may import only env.memory and strata.output, strata.fail/,
    );
    expect(await refusal(`(import "strata" "clock" (func (result i64))) ${GOOD_RUN}`)).toMatch(/imports strata.clock/);
    expect(await refusal(`(import "env" "table" (table 1 funcref)) ${GOOD_RUN}`)).toMatch(
      /imports env.table \(table\)/,
    );
  });

  test('an ABI import with the wrong type is refused with both types', async () => {
    expect(await refusal(GOOD_RUN.replace('(func (param i32 i32)))', '(func (param i32)))'))).toMatch(
      /imports strata.output as \(i32\) -> \(\); the ABI's is \(i32, i32\) -> \(\)/,
    );
  });

  test('memory: it must be imported as env.memory, not shared, and start within the manifest and the cap', async () => {
    expect(
      await refusal(
        `(memory 1) (func (export "alloc") (param i32) (result i32) (i32.const 0)) (func (export "run") (param i32 i32))`,
      ),
    ).toMatch(/defines its own memory; it must import env.memory/);
    expect(await refusal(GOOD_RUN.replace('(memory 1)', '(memory 5)'))).toMatch(
      /starts at 5 pages, over manifest.limits.memoryPages \(4; at most 1024\)/,
    );
    expect(await refusal(GOOD_RUN.replace('(memory 1)', '(memory 2048)'))).toMatch(/starts at 2048 pages/);
    expect(() => parseManifest({ ...RUN, limits: { memoryPages: 2048, timeMs: 1 } })).toThrow(
      'manifest.limits.memoryPages must be a whole number from 1 to 1024; got 2048',
    );
  });

  test('a manifest that lies about its exports is refused: a missing entry point, a wrong type, a stage said to be run', async () => {
    expect(await refusal(GOOD_RUN, STAGE)).toMatch(
      /does not export "begin", which manifest.entryPoints \["begin","add","end","finish"\] needs; it exports alloc, run/,
    );
    expect(
      await refusal(GOOD_RUN.replace('(func (export "run") (param i32 i32))', '(func (export "run") (param i32))')),
    ).toMatch(/exports "run" as \(i32\) -> \(\); the ABI's is \(i32, i32\) -> \(\)/);
    const stage = `(import "env" "memory" (memory 1)) (func (export "alloc") (param i32) (result i32) (i32.const 0))
      (func (export "run") (param i32 i32)) (func (export "begin") (param i32 i32)) (func (export "add") (param i32 i32))
      (func (export "end")) (func (export "finish") (param i32 i32 i32 i32))`;
    expect(await refusal(stage)).toMatch(/exports a data stage .* but manifest.entryPoints says \["run"\]/);
  });

  test(`a module over ${PACKAGE_LIMITS.moduleBytes} bytes is refused with 413 before it is read`, () => {
    let error: PackageError | undefined;
    try {
      checkModule(new Uint8Array(PACKAGE_LIMITS.moduleBytes + 1), RUN);
    } catch (caught) {
      error = caught as PackageError;
    }
    expect(error?.status).toBe(413);
    expect(error?.message).toMatch(/at most 4194304 \(4 MiB\)/);
  });

  test('moduleShape reads imports with their types and exported functions with theirs', async () => {
    const shape = moduleShape(await wat(GOOD_RUN));
    expect(shape.imports).toEqual([
      { module: 'env', name: 'memory', kind: 'memory', minPages: 1, maxPages: undefined, shared: false },
      { module: 'strata', name: 'output', kind: 'function', type: { params: ['i32', 'i32'], results: [] } },
    ]);
    expect(Object.fromEntries(shape.functions)).toEqual({
      alloc: { params: ['i32'], results: ['i32'] },
      run: { params: ['i32', 'i32'], results: [] },
    });
  });
});

describe('a manifest names the field it gets wrong', () => {
  test.each([
    [[], 'manifest must be a JSON object'],
    [
      { ...RUN, name: 'Grep!' },
      'manifest.name must be 1 to 64 characters of a-z, 0-9 and -, starting with a letter; got "Grep!"',
    ],
    [{ ...RUN, abi: 2 }, 'manifest.abi must be 1'],
    [{ ...RUN, entryPoints: ['main'] }, 'manifest.entryPoints must be ["run"] or ["begin","add","end","finish"]'],
    [
      { ...RUN, limits: { memoryPages: 1, timeMs: 60_000 } },
      'manifest.limits.timeMs must be a whole number from 1 to 20000; got 60000',
    ],
    [{ ...RUN, limits: { memoryPages: 1, timeMs: 1, cpu: 2 } }, 'manifest.limits.cpu is not a limit'],
    [{ ...RUN, wasi: true }, 'manifest.wasi is not a manifest field'],
    [{ ...RUN, dataStage: { objectKeyArg: 'key' } }, 'manifest.dataStage goes with the data-stage entryPoints only'],
    [
      { ...STAGE, argsSchema: undefined },
      'manifest.argsSchema must make "key" (manifest.dataStage.objectKeyArg) a required string',
    ],
    [
      { ...STAGE, limits: { memoryPages: 1, timeMs: 1 } },
      'manifest.limits.maxObjectBytes must be a whole number from 1 to 1073741824',
    ],
    [{ ...RUN, argsSchema: { type: 'object', oneOf: [] } }, 'manifest.argsSchema.oneOf is not supported'],
  ])('%j', (manifest, message) => {
    expect(() => parseManifest(manifest)).toThrow(message);
  });
});

describe('the arguments schema', () => {
  const schema = {
    type: 'object',
    properties: {
      key: { type: 'string', minLength: 1, maxLength: 8 },
      n: { type: 'integer', minimum: 1 },
      tags: { type: 'array', items: { enum: ['a', 'b'] } },
    },
    required: ['key'],
    additionalProperties: false,
  } as const;

  test('answers the first field that breaks it, by its path', () => {
    expect(schemaViolation(schema, { key: 'k' })).toBeUndefined();
    expect(schemaViolation(schema, [])).toBe('args must be an object');
    expect(schemaViolation(schema, {})).toBe('args.key is required');
    expect(schemaViolation(schema, { key: 'a'.repeat(9) })).toBe('args.key must be at most 8 characters');
    expect(schemaViolation(schema, { key: 'k', n: 1.5 })).toBe('args.n must be an integer');
    expect(schemaViolation(schema, { key: 'k', tags: ['a', 'c'] })).toBe('args.tags[1] must be one of "a", "b"');
    expect(schemaViolation(schema, { key: 'k', other: 1 })).toBe('args.other is not an argument of this function');
  });

  test('a schema of keywords it does not check is refused at deploy, not half-checked', () => {
    expect(schemaProblems({ type: 'object', properties: { a: { type: 'string', format: 'email' } } })).toEqual([
      expect.stringMatching(/^argsSchema.properties.a.format is not supported/),
    ]);
    expect(schemaProblems({ pattern: '(' })).toEqual(['argsSchema.pattern must be a regular expression']);
  });

  test('a schema nested past 32 levels is refused naming where, however deep (it was a stack overflow, a 500)', () => {
    const nested = (depth: number) => {
      let schema: Record<string, unknown> = { type: 'string' };
      for (let i = 0; i < depth; i++) schema = { type: 'array', items: schema };
      return schema;
    };
    expect(schemaProblems(nested(32))).toEqual([]);
    for (const depth of [33, 200_000]) {
      expect(() => parseManifest({ ...RUN, argsSchema: nested(depth) })).toThrow(
        new PackageError(`manifest.argsSchema${'.items'.repeat(33)} nests deeper than 32 levels, the limit`),
      );
    }
  });
});
