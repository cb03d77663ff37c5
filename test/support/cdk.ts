import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The context of cdk.json, so that tests synthesize exactly as `cdk synth` does. */
export function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(join(__dirname, '..', '..', 'cdk.json'), 'utf8')) as { context: Record<string, unknown> };
  return cdkJson.context;
}
