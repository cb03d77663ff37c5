import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The context of cdk.json, so that tests synthesize exactly as `cdk synth` does. */
export function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(join(__dirname, '..', '..', 'cdk.json'), 'utf8')) as {
    context: Record<string, unknown>;
  };
  return cdkJson.context;
}

/** The user data of a launch template or instance, with CloudFormation's joins flattened to text. */
export function userDataText(userData: unknown): string {
  const flatten = (value: unknown): string => {
    if (typeof value === 'string') return value;
    if (Array.isArray(value)) return value.map(flatten).join('');
    const object = value as Record<string, unknown>;
    if ('Fn::Base64' in object) return flatten(object['Fn::Base64']);
    if ('Fn::Join' in object) return (object['Fn::Join'] as [string, unknown[]])[1].map(flatten).join('');
    return `<${JSON.stringify(object)}>`;
  };
  return flatten(userData);
}
