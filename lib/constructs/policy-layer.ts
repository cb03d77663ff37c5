import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DockerImage } from 'aws-cdk-lib';
import { Architecture, Code, LayerVersion, Runtime } from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { buildSync } from 'esbuild';

/** The policy engine's package, as the Lambda functions import it. */
export const POLICY_ENGINE_PACKAGE = '@strata/policy-engine';

const ENGINE_DIR = join(__dirname, '..', '..', 'engine');

/**
 * The shared Lambda layer that ships the policy engine as the package
 * `@strata/policy-engine` under /opt/nodejs/node_modules, so that every function
 * takes its policies from one place and the engine is versioned once.
 */
export class PolicyLayer extends Construct {
  readonly layer: LayerVersion;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.layer = new LayerVersion(this, 'Layer', {
      description: `Strata's policy engine (${POLICY_ENGINE_PACKAGE}): the load-balancing policies of all three tiers`,
      compatibleRuntimes: [Runtime.NODEJS_22_X, Runtime.NODEJS_24_X],
      compatibleArchitectures: [Architecture.ARM_64, Architecture.X86_64],
      code: Code.fromAsset(ENGINE_DIR, {
        bundling: {
          // Only used when local bundling fails; esbuild is a dependency of this app, so it does not.
          image: DockerImage.fromRegistry('public.ecr.aws/sam/build-nodejs22.x'),
          local: {
            tryBundle: (outputDir) => {
              bundlePolicyEngine(outputDir);
              return true;
            },
          },
        },
      }),
    });
  }
}

/** Bundles the engine into `<outputDir>/nodejs/node_modules/@strata/policy-engine`, the layout Lambda resolves. */
export function bundlePolicyEngine(outputDir: string): string {
  const packageDir = join(outputDir, 'nodejs', 'node_modules', ...POLICY_ENGINE_PACKAGE.split('/'));
  buildSync({
    entryPoints: [join(ENGINE_DIR, 'src', 'index.ts')],
    outfile: join(packageDir, 'index.js'),
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'cjs',
    minify: true, // read at every cold start of the dispatcher
    loader: { '.lua': 'text' }, // the indexed rules' Lua (engine/src/rules/*.lua), as strings
    sourcemap: false,
    logLevel: 'warning',
  });
  writeFileSync(
    join(packageDir, 'package.json'),
    JSON.stringify({ name: POLICY_ENGINE_PACKAGE, main: 'index.js' }, null, 2),
  );
  return packageDir;
}
