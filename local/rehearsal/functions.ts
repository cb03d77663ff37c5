import { join } from 'node:path';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { BUILTIN_NAMES } from '../../common/functions/builtins';
import { FolderCodeStore } from '../../common/functions/code-store';
import { RedisRegistryCache } from '../../common/functions/directory';
import { FunctionRegistry } from '../../common/functions/registry';
import { FUNCTION_VERSION_HEADER, TIER3_HEADER } from '../../common/http/headers';
import { RedisStateStore } from '../../common/state';
import { stateUser } from '../../common/state/access';
import { FunctionsApi } from '../../lambdas/functions-api/functions-api';
import { CORPUS, corpusText } from '../corpus';
import { buildFunction, EXAMPLES_DIR } from '../functions-build';
import type { DispatcherLambda } from './dispatcher';
import type { RehearsalEnvironment } from './environment';
import type { Report } from './report';

/**
 * A user's function on the rehearsed deployment (docs/functions.md): the grep example is
 * deployed through the functions API's own code (the class its Lambda runs), into the
 * function code bucket as the seam keeps it (the stand-ins' s3/BUCKET folder, which the
 * nodes read through `aws_functions_location`), its table published to the state store;
 * then invoked through the dispatcher Lambda until its data stage has run on a storage
 * host, each answer checked against the text.
 */
export async function rehearseUserFunction(
  env: RehearsalEnvironment,
  report: Report,
  dispatcher: DispatcherLambda,
): Promise<void> {
  const bucket = env.deployment.dispatcher().environment.STRATA_FUNCTIONS_BUCKET;
  const grep = await buildFunction(join(EXAMPLES_DIR, 'grep'));
  const state = await RedisStateStore.connect({ url: env.state.localUrl(stateUser('functions-api')) });
  try {
    const registry = new FunctionRegistry(new FolderCodeStore(join(env.aws.folder, 's3', bucket)), BUILTIN_NAMES);
    const api = new FunctionsApi(registry, new RedisRegistryCache((command) => state.command(command)));
    const deployedAt = Date.now();
    await report.check(
      'a user function is deployed through the functions API (grep, WebAssembly, with a data stage)',
      async () => {
        const reply = await api.handle({
          httpMethod: 'PUT',
          path: '/functions/grep',
          body: JSON.stringify({
            manifest: grep.manifest,
            module: Buffer.from(grep.module).toString('base64'),
            alias: 'live',
          }),
          isBase64Encoded: false,
          requestContext: { identity: { userArn: 'arn:aws:iam::123456789012:user/rehearsal' } },
        } as unknown as APIGatewayProxyEvent);
        if (reply.statusCode !== 201) throw new Error(`${reply.statusCode} ${reply.body}`);
        return `into s3://${bucket}: ${reply.body.slice(0, 160)}`;
      },
    );
    await report.check(
      'the user function answers through the dispatcher Lambda, its data stage offloaded to a storage host at least once',
      async () => {
        const args = { key: CORPUS.large.key, pattern: 'love' };
        const lines = corpusText(CORPUS.large.bytes).split('\n');
        const matches = lines.filter((line) => line.includes(args.pattern)).length;
        const tiers: string[] = [];
        let first: number | undefined;
        const until = Date.now() + 120_000;
        while (!tiers.some((tier) => tier.startsWith('offloaded:')) && Date.now() < until) {
          const reply = await dispatcher.invoke('grep', args);
          first ??= Date.now() - deployedAt;
          const answer = JSON.parse(reply.body) as { matches?: number };
          if (reply.statusCode !== 200 || answer.matches !== matches) {
            throw new Error(`grep: ${reply.statusCode} ${reply.body.slice(0, 300)} (expected ${matches} matches)`);
          }
          if (reply.headers[FUNCTION_VERSION_HEADER] !== '1')
            throw new Error(`ran version ${reply.headers[FUNCTION_VERSION_HEADER]}`);
          tiers.push(String(reply.headers[TIER3_HEADER]));
        }
        if (!tiers.some((tier) => tier.startsWith('offloaded:')))
          throw new Error(`never offloaded in 120 s: ${tiers.join(', ')}`);
        report.figure(
          "deploy to the user function's first answer through the dispatcher Lambda",
          (first ?? 0) / 1000,
          's',
        );
        return `${tiers.length} invocations, ${matches} matches each; tier 3: ${tiers.join(', ')}`;
      },
    );
  } finally {
    await state.close();
  }
}
