import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { checkModule, type Manifest, parseManifest } from '../../common/functions/manifest';
import { moduleShape } from '../../common/functions/wasm-module';
import {
  type BuiltFunction,
  buildFunction,
  compileWat,
  EXAMPLES_DIR,
  exampleNames,
  FunctionBuildError,
} from '../../local/functions-build';
import { runScript } from '../support/processes';
import {
  type CompiledCase,
  type Expected,
  GOOD_DATA_STAGE,
  goodDataStage,
  HOSTILE_CASES,
  hostileModules,
} from '../support/wasm/hostile';

// The examples and the SDK, built with `npm run functions:build`'s library and run
// through a small harness that follows docs/functions.md the way the runtime does: a
// fresh memory (with the manifest's maximum) and a fresh instance per call, inputs
// written where `alloc` says, the result taken from `strata.output`.

const ROOT = join(__dirname, '..', '..');
const SDK = join(ROOT, 'functions', 'sdk', 'assemblyscript');

/** strata.fail, as the harness reports it: the call ends with the function's message. */
class FunctionFailed extends Error {}

/** The minimum pages of the module's imported memory, as the runtime reads it. */
function declaredMinimumPages(bytes: Uint8Array): number {
  const memory = moduleShape(bytes).imports.find((item) => item.kind === 'memory');
  return memory?.kind === 'memory' ? memory.minPages : 0;
}

/** One call: a fresh memory and instance, `inputs` written one after the other in one alloc'd region. */
function call(
  built: { module: Uint8Array; manifest: Manifest },
  entry: string,
  inputs: readonly Uint8Array[],
  instance?: Instantiated,
): string {
  const target = instance ?? instantiate(built);
  return target.call(entry, inputs);
}

interface Instantiated {
  call(entry: string, inputs: readonly Uint8Array[]): string;
  readonly memory: WebAssembly.Memory;
}

function instantiate(built: { module: Uint8Array; manifest: Manifest }): Instantiated {
  const { memoryPages } = built.manifest.limits;
  const memory = new WebAssembly.Memory({ initial: declaredMinimumPages(built.module), maximum: memoryPages });
  let output: string | undefined;
  const text = (ptr: number, len: number) => new TextDecoder().decode(new Uint8Array(memory.buffer, ptr, len));
  const instance = new WebAssembly.Instance(new WebAssembly.Module(built.module), {
    env: { memory },
    strata: {
      output: (ptr: number, len: number) => {
        output = text(ptr, len);
      },
      fail: (ptr: number, len: number) => {
        throw new FunctionFailed(text(ptr, len));
      },
    },
  });
  const exports = instance.exports as Record<string, (...args: number[]) => number>;
  return {
    memory,
    call(entry, inputs) {
      output = undefined;
      const args: number[] = [];
      const total = inputs.reduce((sum, input) => sum + input.length, 0);
      if (inputs.length > 0) {
        let ptr = exports.alloc!(total);
        for (const input of inputs) {
          new Uint8Array(memory.buffer, ptr, input.length).set(input);
          args.push(ptr, input.length);
          ptr += input.length;
        }
      }
      exports[entry]!(...args);
      return output ?? '';
    },
  };
}

const utf8 = (text: string) => new TextEncoder().encode(text);
const json = (value: unknown) => utf8(JSON.stringify(value));

/** A data stage over `chunks` in one instance, then `finish` in another, as the runtime does. */
function runStage(built: { module: Uint8Array; manifest: Manifest }, args: unknown, chunks: readonly Uint8Array[]) {
  const stage = instantiate(built);
  stage.call('begin', [json(args)]);
  for (const chunk of chunks) stage.call('add', [chunk]);
  const staged = stage.call('end', []);
  const result = call(built, 'finish', [json(args), utf8(staged)]);
  return { staged: JSON.parse(staged), result: JSON.parse(result), memory: stage.memory };
}

/** `bytes` cut every `size` bytes. */
function chunked(bytes: Uint8Array, size: number): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.subarray(at, at + size));
  return chunks;
}

function failureOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (error instanceof FunctionFailed) return error.message;
    throw error;
  }
  throw new Error('the call did not fail');
}

const built: Record<string, BuiltFunction> = {};

beforeAll(async () => {
  // asc boots in about two seconds on an idle machine, more on a busy one: build once.
  for (const one of await Promise.all(exampleNames().map((name) => buildFunction(join(EXAMPLES_DIR, name)))))
    built[one.name] = one;
}, 240_000);

describe('the examples build', () => {
  test.each([
    ['grep', ['alloc', 'begin', 'add', 'end', 'finish']],
    ['stats', ['alloc', 'run']],
    ['echo-wat', ['alloc', 'run']],
  ])(
    '%s: imports env.memory and the strata functions only, exports alloc and its entry points only',
    (name, entries) => {
      const module = new WebAssembly.Module(built[name]!.module);
      expect(
        WebAssembly.Module.imports(module)
          .map((entry) => `${entry.module}.${entry.name}:${entry.kind}`)
          .sort(),
      ).toEqual(['env.memory:memory', 'strata.fail:function', 'strata.output:function']);
      expect(
        WebAssembly.Module.exports(module)
          .map((entry) => `${entry.name}:${entry.kind}`)
          .sort(),
      ).toEqual(entries.map((entry) => `${entry}:function`).sort());
      expect(built[name]!.manifest).toMatchObject({ name, abi: 1 });
    },
  );
});

describe('grep', () => {
  const lines = [
    'plain ascii line',
    'un café ☕ bien chaud',
    'ends with a carriage return ☕\r',
    '"quotes" and \\backslashes\\ and\ta tab ☕',
    '日本語の☕テキスト',
    'no match here: caf\u00e9 only',
    '',
    '☕',
  ];
  const text = `${lines.join('\n')}\nlast line without a newline ☕`;
  const bytes = utf8(text);
  const expected = [...lines, 'last line without a newline ☕']
    .filter((line) => line.includes('☕'))
    .map((line) => line.replace(/\r$/, ''));

  test.each([1, 2, 3, 5, 7, 64, bytes.length])(
    'in pieces of %i bytes (lines and UTF-8 sequences split across pieces) gives the lines that match',
    (size) => {
      const { staged, result } = runStage(built.grep!, { key: 'k', pattern: '☕' }, chunked(bytes, size));
      expect(staged).toEqual({ lines: lines.length + 1, matches: expected.length, first: expected });
      expect(result).toEqual({ pattern: '☕', ...staged });
    },
  );

  test('any text, pattern and cutting: the same lines as JavaScript finds', () => {
    // A small alphabet, so that patterns recur and overlap themselves (KMP's fallbacks),
    // with multi-byte characters and newlines; texts long enough for the 8-byte skipping.
    const char = fc.constantFrom('a', 'b', 'a', 'b', 'é', '☕', '\n', ' ');
    fc.assert(
      fc.property(
        fc.array(char, { maxLength: 400 }).map((chars) => chars.join('')),
        fc.array(fc.constantFrom('a', 'b', 'é', '☕'), { minLength: 1, maxLength: 5 }).map((chars) => chars.join('')),
        fc.integer({ min: 1, max: 40 }),
        (text, pattern, size) => {
          const all = text.split('\n');
          if (all[all.length - 1] === '') all.pop();
          const matching = all.filter((line) => line.includes(pattern));
          const { staged } = runStage(built.grep!, { key: 'k', pattern }, chunked(utf8(text), size));
          expect(staged).toEqual({ lines: all.length, matches: matching.length, first: matching.slice(0, 10) });
        },
      ),
      { numRuns: 300 },
    );
  });

  test('the pattern arrives with JSON escapes; matching is on its UTF-8 bytes', () => {
    const object = utf8('say "caf\u00e9"\nsay cafe\nsay "café" again\n');
    // \" and \u00e9 escapes in the arguments' JSON: the same text as "café" in quotes.
    const args = '{"key":"k","pattern":"\\"caf\\u00e9\\""}';
    const stage = instantiate(built.grep!);
    stage.call('begin', [utf8(args)]);
    for (const chunk of chunked(object, 4)) stage.call('add', [chunk]);
    expect(JSON.parse(stage.call('end', []))).toEqual({
      lines: 3,
      matches: 2,
      first: ['say "café"', 'say "café" again'],
    });
  });

  test('reports the first 10 matching lines, counts them all, and cuts a long line on a character boundary', () => {
    const long = `${'é'.repeat(600)}needle${'x'.repeat(5000)}`; // 1200 bytes of é before the needle
    const object = utf8([...Array.from({ length: 25 }, (_, i) => `line ${i} needle`), long].join('\n'));
    const { staged } = runStage(built.grep!, { key: 'k', pattern: 'needle' }, chunked(object, 1000));
    expect(staged.lines).toBe(26);
    expect(staged.matches).toBe(26);
    expect(staged.first).toEqual(Array.from({ length: 10 }, (_, i) => `line ${i} needle`));
    const onlyLong = runStage(built.grep!, { key: 'k', pattern: 'needle' }, chunked(utf8(long), 333)).staged;
    // 1024 bytes kept: 512 é's; the cut falls between two of them, and the line ends with …
    expect(onlyLong.first).toEqual([`${'é'.repeat(512)}…`]);
  });

  test('streams an object far larger than its memory: 24 MiB in 1 MiB pieces under its 4 MiB limit', () => {
    expect(built.grep!.manifest.limits.memoryPages).toBe(64);
    const piece = new Uint8Array(1024 * 1024).fill(0x61); // one 24 MiB line of "a"s...
    const last = utf8('aaaa needle\nafter\n'); // ...that ends with the pattern
    const { staged, memory } = runStage(built.grep!, { key: 'k', pattern: 'needle' }, [...Array(24).fill(piece), last]);
    expect(staged).toMatchObject({ lines: 2, matches: 1 });
    expect(staged.first[0]).toMatch(/^a{1024}…$/);
    expect(memory.buffer.byteLength).toBeLessThanOrEqual(64 * 65536);
  });

  test('fails cleanly without a pattern, naming it', () => {
    expect(failureOf(() => call(built.grep!, 'begin', [json({ key: 'k' })]))).toBe('"pattern" is required (a string)');
    expect(failureOf(() => call(built.grep!, 'begin', [json({ key: 'k', pattern: '' })]))).toBe(
      '"pattern" must not be empty',
    );
  });
});

describe('stats', () => {
  const run = (args: string | unknown) =>
    JSON.parse(call(built.stats!, 'run', [typeof args === 'string' ? utf8(args) : json(args)]));

  test('count, sum, mean, min and max, as JavaScript computes them', () => {
    const numbers = [3, -1.5, 2e3, 0.1, 0.2, 1e-7, -0, 42, 123456789.125];
    const sum = numbers.reduce((total, n) => total + n, 0);
    expect(run({ numbers })).toEqual({
      count: numbers.length,
      sum,
      mean: sum / numbers.length,
      min: -1.5,
      max: 123456789.125,
    });
  });

  test('reads any JSON around its argument: nested objects, arrays, escapes, non-ASCII, literals', () => {
    const args =
      ' { "note" : "caf\\u00e9 \\"ok\\" \\\\ \\/ \\b\\f\\n\\r\\t \\ud83d\\ude00 ☕", "flags": [true, false, null],' +
      ' "nested": {"a": {"b": [[], {}, [1, [2, {"c": -0.5e+2}]]]}}, "numbers": [1, 2.5E1, -3e-1] } ';
    expect(run(args)).toEqual({ count: 3, sum: 1 + 25 - 0.3, mean: (1 + 25 - 0.3) / 3, min: -0.3, max: 25 });
  });

  test.each([
    ['{"numbers": "1,2"}', '"numbers" must be an array, got a string'],
    ['{"numbers": [1, "2"]}', '"numbers" must hold numbers only; item 1 is a string'],
    ['{"numbers": []}', '"numbers" must hold at least one number'],
    ['{}', '"numbers" is required (an array)'],
    ['[1, 2]', 'the arguments must be a JSON object'],
    ['{"numbers": [1, 2,]}', "invalid JSON: unexpected ']' at position 18"],
    ['{"numbers": [01]}', "invalid JSON: expected , or ] but found '1' at position 14"],
    ['{"numbers": [1]} x', "invalid JSON: unexpected 'x' after the JSON value at position 17"],
    ['{"a": "\\x"}', 'invalid JSON: unknown escape \\x at position 8'],
    ['{"a": "open', 'invalid JSON: unterminated string at position 11'],
    [`${'['.repeat(100)}${']'.repeat(100)}`, 'invalid JSON: nested deeper than 64 levels at position 64'],
  ])('fails cleanly (strata.fail) on %s', (args, message) => {
    expect(failureOf(() => run(args))).toBe(message);
  });
});

describe('echo-wat', () => {
  test('answers its arguments byte for byte', () => {
    const args = '{ "text": "naïve ☕ \\u00e9", "n": [1, 2.50, null] }';
    expect(call(built['echo-wat']!, 'run', [utf8(args)])).toBe(args);
  });

  test('grows its memory for large arguments, and fails cleanly past the limit', () => {
    const large = JSON.stringify({ text: 'x'.repeat(600_000) }); // over 9 pages of 64 KiB
    expect(call(built['echo-wat']!, 'run', [utf8(large)])).toBe(large);
    const tooLarge = JSON.stringify({ text: 'x'.repeat(2_000_000) }); // the manifest allows 16 pages, 1 MiB
    expect(failureOf(() => call(built['echo-wat']!, 'run', [utf8(tooLarge)]))).toBe(
      'echo-wat: the arguments are larger than the memory limit',
    );
  });
});

describe('building', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'strata-functions-build-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function folder(name: string, files: Record<string, string>, manifest: object = {}): string {
    const path = join(dir, name);
    mkdirSync(path);
    writeFileSync(
      join(path, 'manifest.json'),
      JSON.stringify({ name, abi: 1, entryPoints: ['run'], limits: { memoryPages: 16, timeMs: 1000 }, ...manifest }),
    );
    for (const [file, text] of Object.entries(files)) writeFileSync(join(path, file), text);
    return path;
  }

  test('an AssemblyScript abort (a failed assertion) reaches the host as strata.fail, with its message and place', async () => {
    const sdk = relative(join(dir, 'asserts'), SDK);
    const path = folder('asserts', {
      'index.ts': `import { output, readArgs } from '${sdk}';
export { alloc } from '${sdk}';
export function run(ptr: usize, len: i32): void {
  const args = readArgs(ptr, len);
  assert(args.has('ok'), 'ok is missing');
  output('{}');
}
`,
    });
    const asserts = await buildFunction(path);
    expect(call(asserts, 'run', [json({ ok: 1 })])).toBe('{}');
    expect(failureOf(() => call(asserts, 'run', [json({})]))).toMatch(/^ok is missing at index\.ts:5:3$/);
  }, 120_000);

  test('errors name the folder and what is wrong', async () => {
    await expect(buildFunction(join(dir, 'nothing'))).rejects.toThrow(/nothing: no such folder/);
    await expect(buildFunction(folder('empty', {}))).rejects.toThrow(/empty: no module.wat or index.ts/);
    await expect(buildFunction(folder('named', { 'module.wat': '(module)' }, { name: 'other' }))).rejects.toThrow(
      /"name" is "other" but the folder is "named"/,
    );
    await expect(
      buildFunction(folder('broken', { 'module.wat': '(module (func (export "run") i32.add))' })),
    ).rejects.toThrow(FunctionBuildError);
    await expect(
      buildFunction(
        folder('clock', { 'module.wat': '(module (import "strata" "clock" (func)) (func (export "run")))' }),
      ),
    ).rejects.toThrow(/clock: the module imports strata.clock \(function\); a module may import only env.memory/);
    await expect(
      buildFunction(
        folder('exports', {
          'module.wat': '(module (import "env" "memory" (memory 1)) (func (export "run") (param i32 i32)))',
        }),
      ),
    ).rejects.toThrow(/exports: the module does not export "alloc"/);
  });

  test('compileWat reports the line and column of a syntax error', async () => {
    await expect(compileWat('(module\n  (func (export "run") (i32.bogus)))', 'bad.wat')).rejects.toThrow(
      /^bad\.wat:2:25: error: unexpected token "i32\.bogus"/,
    );
  });

  test('npm run functions:build: a compile error exits non-zero with the compiler message', async () => {
    const path = folder('typo', {
      'index.ts': 'export function run(ptr: usize, len: i32): void { undefinedThing(); }\n',
    });
    const out = join(dir, 'out');
    const result = await runScript('bin/functions-build.ts', [path, '--out', out], { PATH: process.env.PATH });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^functions:build: .*typo\/index\.ts: asc failed:\n[\s\S]*undefinedThing/);
  }, 120_000);

  test('npm run functions:build NAME writes the manifest and the module', async () => {
    const out = join(dir, 'out');
    const result = await runScript('bin/functions-build.ts', ['echo-wat', '--out', out], { PATH: process.env.PATH });
    expect([result.status, result.stderr]).toEqual([0, '']);
    expect(result.stdout).toMatch(/^echo-wat: \d+ bytes -> /);
    expect(JSON.parse(readFileSync(join(out, 'echo-wat', 'manifest.json'), 'utf8'))).toEqual(
      built['echo-wat']!.manifest,
    );
    expect(new Uint8Array(readFileSync(join(out, 'echo-wat', 'module.wasm')))).toEqual(built['echo-wat']!.module);
  }, 60_000);
});

describe('the hostile fixtures (test/support/wasm)', () => {
  let cases: readonly CompiledCase[];
  beforeAll(async () => {
    cases = await hostileModules();
  });

  test('every manifest is valid on its own, so what is refused is the module', () => {
    for (const item of [...HOSTILE_CASES, GOOD_DATA_STAGE])
      expect(parseManifest(item.manifest)).toMatchObject(item.manifest);
  });

  test.each(HOSTILE_CASES.filter((item) => item.expected.at === 'deploy').map((item) => [item.name, item]))(
    '%s: the deploy check refuses it, naming the fault',
    (name) => {
      const item = cases.find((one) => one.name === name)!;
      const expected = item.expected as Extract<Expected, { at: 'deploy' }>;
      expect(() => checkModule(item.module, parseManifest(item.manifest))).toThrow(expected.message);
    },
  );

  test.each(HOSTILE_CASES.filter((item) => item.expected.at === 'invoke').map((item) => [item.name]))(
    '%s: passes the deploy check (it misbehaves only when run)',
    (name) => {
      const item = cases.find((one) => one.name === name)!;
      expect(() => checkModule(item.module, parseManifest(item.manifest))).not.toThrow();
    },
  );

  test('the memory bomb fills the memory to its maximum, then traps', () => {
    const bomb = cases.find((item) => item.name === 'hostile-memory-bomb')!;
    const instance = instantiate(bomb);
    expect(() => instance.call('run', [json({})])).toThrow(WebAssembly.RuntimeError);
    expect(instance.memory.buffer.byteLength).toBe(1024 * 65536);
  });

  test('the recursion overflows the stack', () => {
    const recursion = cases.find((item) => item.name === 'hostile-deep-recursion')!;
    expect(() => call(recursion, 'run', [json({})])).toThrow(/Maximum call stack size exceeded/);
  });

  test('the loop is still running half a second after it started, until its worker is terminated', async () => {
    const loop = cases.find((item) => item.name === 'hostile-infinite-loop')!;
    const worker = new Worker(
      `const { parentPort, workerData } = require('node:worker_threads');
       const memory = new WebAssembly.Memory({ initial: 1, maximum: 1 });
       const instance = new WebAssembly.Instance(new WebAssembly.Module(workerData), { env: { memory } });
       parentPort.postMessage('started');
       instance.exports.run(instance.exports.alloc(2), 2);
       parentPort.postMessage('returned');`,
      { eval: true, workerData: loop.module },
    );
    const messages: string[] = [];
    const started = new Promise((resolve) => worker.once('message', resolve));
    worker.on('message', (message) => messages.push(message));
    await started;
    await new Promise((resolve) => setTimeout(resolve, 500));
    await worker.terminate();
    expect(messages).toEqual(['started']);
  });

  test('the good data stage counts the bytes of an object in pieces, and finish answers the count', async () => {
    const good = await goodDataStage();
    expect(() => checkModule(good.module, parseManifest(good.manifest))).not.toThrow();
    const counted = { name: 'count-bytes', ...good };
    for (const [size, piece] of [
      [0, 1],
      [7, 3],
      [1_234_567, 1024 * 1024],
    ] as const) {
      const object = new Uint8Array(size).fill(0x78);
      const { staged, result } = runStage(counted, { key: 'k' }, chunked(object, piece));
      expect(staged).toEqual({ bytes: size });
      expect(result).toEqual({ bytes: size });
    }
  });
});
