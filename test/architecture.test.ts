import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

// The layer rules of .dependency-cruiser.cjs, checked over the real tree and over small
// probe trees that each break one rule, so that a rule that stopped matching fails here.
const ROOT = join(__dirname, '..');
const CONFIG = join(ROOT, '.dependency-cruiser.cjs');
const DEPCRUISE = join(ROOT, 'node_modules', '.bin', 'depcruise');

function cruise(cwd: string, folders: readonly string[]) {
  const result = spawnSync(DEPCRUISE, [...folders, '--config', CONFIG, '--output-type', 'err'], {
    cwd,
    encoding: 'utf8',
  });
  if (result.error) throw result.error;
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** A tree of files (path → source) in a fresh folder, with the tsconfig the checker reads. */
function probeTree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'strata-layers-'));
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext' } }),
  );
  for (const [path, source] of Object.entries(files)) {
    mkdirSync(join(dir, dirname(path)), { recursive: true });
    writeFileSync(join(dir, path), source);
  }
  return dir;
}

test('the project itself keeps every layer rule', () => {
  const { status, output } = cruise(ROOT, [
    'bin',
    'lib',
    'engine',
    'policies',
    'lambdas',
    'nodes',
    'functions',
    'common',
    'operator',
    'local',
    'bench',
    'test',
  ]);
  expect(output).not.toMatch(/error/);
  expect(status).toBe(0);
});

describe.each([
  [
    'a node imports the local harness',
    'deployed-imports-only-deployed',
    {
      'nodes/probe.ts': "import { x } from '../local/x';\nexport const y = x;\n",
      'local/x.ts': 'export const x = 1;\n',
    },
  ],
  [
    'a shared library imports a test helper',
    'deployed-imports-only-deployed',
    {
      'common/probe.ts': "import { x } from '../test/support/x';\nexport const y = x;\n",
      'test/support/x.ts': 'export const x = 1;\n',
    },
  ],
  [
    'the dispatcher imports a benchmark',
    'deployed-imports-only-deployed',
    {
      'lambdas/dispatcher/probe.ts': "import { x } from '../../bench/x';\nexport const y = x;\n",
      'bench/x.ts': 'export const x = 1;\n',
    },
  ],
  [
    'the policy engine imports Node.js I/O',
    'policy-engine-is-pure',
    {
      'engine/src/probe.ts': "import { readFileSync } from 'node:fs';\nexport const y = readFileSync;\n",
    },
  ],
  [
    'a node reaches into the engine past its interface',
    'engine-through-its-interface',
    {
      'nodes/probe.ts': "import { x } from '../engine/src/x';\nexport const y = x;\n",
      'engine/src/x.ts': 'export const x = 1;\n',
    },
  ],
  [
    'a plugin imports the state store',
    'plugins-use-only-the-engine',
    {
      'policies/probe.ts': "import { x } from '../common/x';\nexport const y = x;\n",
      'common/x.ts': 'export const x = 1;\n',
    },
  ],
  [
    'a shared library imports a node',
    'common-below-its-users',
    {
      'common/probe.ts': "import { x } from '../nodes/x';\nexport const y = x;\n",
      'nodes/x.ts': 'export const x = 1;\n',
    },
  ],
  [
    'the dispatcher imports a node',
    'tiers-apart',
    {
      'lambdas/dispatcher/probe.ts': "import { x } from '../../nodes/x';\nexport const y = x;\n",
      'nodes/x.ts': 'export const x = 1;\n',
    },
  ],
  [
    'a benchmark imports an entry point',
    'nothing-imports-entry-points',
    { 'bench/probe.ts': "import { x } from '../bin/x';\nexport const y = x;\n", 'bin/x.ts': 'export const x = 1;\n' },
  ],
  [
    'the harness imports a test',
    'harness-below-benchmarks',
    { 'local/probe.ts': "import { x } from '../test/x';\nexport const y = x;\n", 'test/x.ts': 'export const x = 1;\n' },
  ],
  [
    'two modules import each other',
    'no-circular',
    {
      'common/a.ts': "import { b } from './b';\nexport const a = () => b;\n",
      'common/b.ts': "import { a } from './a';\nexport const b = () => a;\n",
    },
  ],
] as const)('the checker fails when %s', (_what, rule, files) => {
  let dir = '';
  beforeAll(() => (dir = probeTree(files)));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test(`it names the rule ${rule}`, () => {
    const folders = [...new Set(Object.keys(files).map((path) => path.split('/')[0]))];
    const { status, output } = cruise(dir, folders);
    expect(output).toContain(rule);
    expect(status).not.toBe(0);
  });
});
