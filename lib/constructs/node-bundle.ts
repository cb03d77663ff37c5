import { cpSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { AssetHashType, DockerImage } from 'aws-cdk-lib';
import { Asset } from 'aws-cdk-lib/aws-s3-assets';
import { Construct } from 'constructs';
import { buildSync } from 'esbuild';

const ROOT = join(__dirname, '..', '..');

/**
 * What an EC2 node downloads at boot, as one S3 asset: the compute node, the storage
 * agent and the function worker bundled with esbuild (the policy engine inside), piscina
 * beside them (it starts its own worker file), and the setup scripts for both node kinds.
 */
export class NodeBundle extends Construct {
  readonly asset: Asset;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.asset = new Asset(this, 'Asset', {
      path: join(ROOT, 'nodes', 'node-setup'),
      assetHashType: AssetHashType.OUTPUT,
      bundling: {
        // Only used when local bundling fails; esbuild is a dependency of this app, so it does not.
        image: DockerImage.fromRegistry('public.ecr.aws/sam/build-nodejs22.x'),
        local: {
          tryBundle: (outputDir) => {
            bundleNodes(outputDir);
            return true;
          },
        },
      },
    });
  }
}

/** Writes the node bundle into outputDir: compute-node.js, storage-agent.js, worker.js, node_modules/piscina, scripts. */
export function bundleNodes(outputDir: string): void {
  buildSync({
    entryPoints: {
      'compute-node': join(ROOT, 'nodes', 'compute', 'main.ts'),
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
