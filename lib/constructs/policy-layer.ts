import { rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { AssetHashType, DockerImage } from 'aws-cdk-lib';
import { Architecture, Code, LayerVersion, Runtime } from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { buildSync } from 'esbuild';
import { type PluginConfig, writePluginsModule } from '../plugins';

/** The policy engine's package, as the Lambda functions import it. */
export const POLICY_ENGINE_PACKAGE = '@strata/policy-engine';

const ENGINE_DIR = join(__dirname, '..', '..', 'engine');

export interface PolicyLayerProps {
  /** Tier-1 plugins to bundle with the engine, registered when the layer loads. @default none */
  readonly plugins?: readonly PluginConfig[];
}

/**
 * The shared Lambda layer that ships the policy engine as the package
 * `@strata/policy-engine` under /opt/nodejs/node_modules, so that every function
 * takes its policies from one place and the engine is versioned once. The operator's
 * tier-1 plugins are bundled into it.
 */
export class PolicyLayer extends Construct {
  readonly layer: LayerVersion;

  constructor(scope: Construct, id: string, props: PolicyLayerProps = {}) {
    super(scope, id);
    const plugins = (props.plugins ?? []).filter((plugin) => plugin.tier === 'invocation');
    this.layer = new LayerVersion(this, 'Layer', {
      description: `Strata's policy engine (${POLICY_ENGINE_PACKAGE}): the load-balancing policies of all three tiers`,
      compatibleRuntimes: [Runtime.NODEJS_22_X, Runtime.NODEJS_24_X],
      compatibleArchitectures: [Architecture.ARM_64, Architecture.X86_64],
      code: Code.fromAsset(ENGINE_DIR, {
        // Hashed by what it bundles: the plugins live outside the engine's folder.
        assetHashType: AssetHashType.OUTPUT,
        bundling: {
          // Only used when local bundling fails; esbuild is a dependency of this app, so it does not.
          image: DockerImage.fromRegistry('public.ecr.aws/sam/build-nodejs22.x'),
          local: {
            tryBundle: (outputDir) => {
              bundlePolicyEngine(outputDir, plugins);
              return true;
            },
          },
        },
      }),
    });
  }
}

/**
 * Bundles the engine into `<outputDir>/nodejs/node_modules/@strata/policy-engine`, the
 * layout Lambda resolves, with the plugins registered before anything can look them up.
 */
export function bundlePolicyEngine(outputDir: string, plugins: readonly PluginConfig[] = []): string {
  const packageDir = join(outputDir, 'nodejs', 'node_modules', ...POLICY_ENGINE_PACKAGE.split('/'));
  const index = join(ENGINE_DIR, 'src', 'index.ts');
  const registration = writePluginsModule(plugins);
  buildSync({
    stdin: {
      contents: `import ${JSON.stringify(registration)};\nexport * from ${JSON.stringify(index)};\n`,
      resolveDir: ENGINE_DIR,
      sourcefile: 'layer.ts',
      loader: 'ts',
    },
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
  rmSync(dirname(registration), { recursive: true, force: true });
  writeFileSync(
    join(packageDir, 'package.json'),
    JSON.stringify({ name: POLICY_ENGINE_PACKAGE, main: 'index.js' }, null, 2),
  );
  return packageDir;
}
