import { readFileSync } from 'node:fs';

// Running from source (tsx, plain Node.js): a .lua file imports as its text, as esbuild's
// text loader makes it in the bundles (lib/constructs) and a jest transform in the tests.
const extensions = (require as NodeJS.Require | undefined)?.extensions as
  | Record<string, (module: { exports: unknown }, filename: string) => void>
  | undefined;
if (extensions && !extensions['.lua'])
  extensions['.lua'] = (module, filename) => {
    module.exports = readFileSync(filename, 'utf8');
  };
