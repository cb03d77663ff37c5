/**
 * `npm run functions:build`: builds user functions (docs/functions.md) into
 * DIR/<name>/manifest.json and DIR/<name>/module.wasm, ready for `functions deploy`.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { exitWith } from '../common/cli';
import { buildFunction, EXAMPLES_DIR, exampleNames, FunctionBuildError } from '../local/functions-build';

const USAGE = `usage: npm run functions:build -- [NAME|FOLDER ...] [--out dist/functions]

Builds each function named (an example in functions/examples/, or a folder holding a
manifest.json and an index.ts in AssemblyScript or a module.wat), or every example if
none is named, into OUT/<name>/manifest.json and OUT/<name>/module.wasm.
The examples: ${exampleNames().join(', ')}.`;

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        out: { type: 'string', default: join('dist', 'functions') },
        help: { type: 'boolean', default: false },
      },
    });
  } catch (error) {
    return exitWith(2, `${(error as Error).message}\n\n${USAGE}`);
  }
  const { values, positionals } = parsed;
  if (values.help) return void console.log(USAGE);
  const examples = exampleNames();
  const folders = (positionals.length > 0 ? positionals : examples).map((item) => {
    if (examples.includes(item)) return join(EXAMPLES_DIR, item);
    if (existsSync(item)) return item;
    return exitWith(2, `functions:build: "${item}" is neither an example (${examples.join(', ')}) nor a folder`);
  });
  // asc spends most of its time starting up: build side by side, report in order.
  const results = await Promise.allSettled(folders.map((folder) => buildFunction(folder)));
  for (const result of results) {
    if (result.status === 'rejected') {
      if (result.reason instanceof FunctionBuildError) return exitWith(1, `functions:build: ${result.reason.message}`);
      throw result.reason;
    }
    const built = result.value;
    const out = join(values.out, built.name);
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'manifest.json'), `${JSON.stringify(built.manifest, null, 2)}\n`);
    writeFileSync(join(out, 'module.wasm'), built.module);
    console.log(`${built.name}: ${built.module.length} bytes -> ${relative(process.cwd(), join(out, 'module.wasm'))}`);
  }
}

main().catch((error: unknown) => exitWith(1, `functions:build: ${(error as Error).stack ?? error}`));
