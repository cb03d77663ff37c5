import { cpSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { AssetHashType, DockerImage } from 'aws-cdk-lib';
import { Asset } from 'aws-cdk-lib/aws-s3-assets';
import { Construct } from 'constructs';
import { buildSync } from 'esbuild';
import { type PluginConfig, writePluginsModule } from '../plugins';

const ROOT = join(__dirname, '..', '..');

/**
 * What an EC2 node downloads at boot, as one S3 asset: the compute node, the storage
 * agent and the function worker bundled with esbuild (the policy engine inside), piscina
 * beside them (it starts its own worker file), and the setup scripts for both node kinds.
 */
export interface NodeBundleProps {
  /** Tier-2 and tier-3 plugins to bundle into the compute node, registered before it starts. @default none */
  readonly plugins?: readonly PluginConfig[];
}

export class NodeBundle extends Construct {
  readonly asset: Asset;

  constructor(scope: Construct, id: string, props: NodeBundleProps = {}) {
    super(scope, id);
    const plugins = (props.plugins ?? []).filter((plugin) => plugin.tier !== 'invocation');
    this.asset = new Asset(this, 'Asset', {
      path: join(ROOT, 'nodes', 'node-setup'),
      assetHashType: AssetHashType.OUTPUT,
      bundling: {
        // Only used when local bundling fails; esbuild is a dependency of this app, so it does not.
        image: DockerImage.fromRegistry('public.ecr.aws/sam/build-nodejs22.x'),
        local: {
          tryBundle: (outputDir) => {
            bundleNodes(outputDir, plugins);
            return true;
          },
        },
      },
    });
  }
}

/** Writes the node bundle into outputDir: compute-node.js, storage-agent.js, worker.js, node_modules/piscina, scripts. */
export function bundleNodes(outputDir: string, plugins: readonly PluginConfig[] = []): void {
  // The compute node decides tiers 2 and 3: its bundle registers the plugins first.
  const registration = writePluginsModule(plugins);
  buildSync({
    stdin: {
      contents: `import ${JSON.stringify(registration)};\nimport ${JSON.stringify(join(ROOT, 'nodes', 'compute', 'main.ts'))};\n`,
      resolveDir: ROOT,
      sourcefile: 'compute-node.ts',
      loader: 'ts',
    },
    outfile: join(outputDir, 'compute-node.js'),
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'cjs',
    external: ['piscina'],
    loader: { '.lua': 'text' }, // the indexed rules' Lua (engine/src/rules/*.lua), as strings
    logLevel: 'warning',
  });
  rmSync(dirname(registration), { recursive: true, force: true });
  buildSync({
    entryPoints: {
      'storage-agent': join(ROOT, 'nodes', 'storage', 'main.ts'),
      worker: join(ROOT, 'nodes', 'worker.ts'),
    },
    outdir: outputDir,
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'cjs',
    external: ['piscina'],
    loader: { '.lua': 'text' }, // the indexed rules' Lua (engine/src/rules/*.lua), as strings
    logLevel: 'warning',
  });
  const piscina = join(dirname(require.resolve('piscina')), '..'); // its main is dist/main.js
  mkdirSync(join(outputDir, 'node_modules'), { recursive: true });
  cpSync(piscina, join(outputDir, 'node_modules', 'piscina'), {
    recursive: true,
    filter: (source) => !source.includes(`${piscina}/node_modules`),
  });
  for (const folder of ['node-setup', 'ceph'])
    cpSync(join(ROOT, 'nodes', folder), join(outputDir, folder), { recursive: true });
}
