import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** One resource of a synthesized template. */
export interface Resource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly DependsOn?: string | string[];
  readonly CreationPolicy?: Record<string, unknown>;
  readonly UpdatePolicy?: Record<string, unknown>;
  readonly DeletionPolicy?: string;
}

interface Template {
  readonly Resources: Record<string, Resource>;
  readonly Outputs?: Record<string, { readonly Value: unknown }>;
  readonly Parameters?: Record<string, { readonly Default?: string }>;
}

/** What the rehearsal says a resource is, where CloudFormation would make it up. */
export interface Answers {
  /** The physical id (Ref) of a resource. @default the logical id, or an ARN for types that Ref to one */
  ref?(stack: string, logicalId: string, resource: Resource): string | undefined;
  /** An attribute (Fn::GetAtt) of a resource. */
  attribute(stack: string, logicalId: string, resource: Resource, attribute: string): string | undefined;
}

/**
 * The templates of a cloud assembly (cdk.out), read as CloudFormation would read them at
 * deploy: intrinsic functions (Ref, Fn::GetAtt, Fn::Join, Fn::Sub, Fn::Select,
 * Fn::Base64, Fn::GetStackOutput, Fn::GetAZs, Fn::Split) resolved against a region, an
 * account, and the rehearsal's answers for what only AWS would know.
 */
export class CloudAssembly {
  private readonly templates = new Map<string, Template>();

  constructor(
    readonly directory: string,
    readonly region: string,
    readonly account: string,
    private readonly answers: Answers,
    readonly azs: readonly string[],
  ) {}

  template(stack: string): Template {
    let template = this.templates.get(stack);
    if (!template) {
      template = JSON.parse(readFileSync(join(this.directory, `${stack}.template.json`), 'utf8')) as Template;
      this.templates.set(stack, template);
    }
    return template;
  }

  /** The resources of a stack of one type, by logical id. */
  resources(stack: string, type: string): [string, Resource][] {
    return Object.entries(this.template(stack).Resources).filter(([, resource]) => resource.Type === type);
  }

  resource(stack: string, logicalId: string): Resource {
    const resource = this.template(stack).Resources[logicalId];
    if (!resource) throw new Error(`${stack} has no resource ${logicalId}`);
    return resource;
  }

  /** A value of the stack's template with every intrinsic function resolved. */
  resolve(stack: string, value: unknown): unknown {
    if (Array.isArray(value)) return value.map((item) => this.resolve(stack, item));
    if (value === null || typeof value !== 'object') return value;
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 1) {
      const [[key, argument]] = entries;
      switch (key) {
        case 'Ref':
          return this.ref(stack, argument as string);
        case 'Fn::GetAtt': {
          const [logicalId, attribute] = Array.isArray(argument)
            ? (argument as string[])
            : (argument as string).split(/\.(.*)/s);
          const answer = this.answers.attribute(stack, logicalId, this.resource(stack, logicalId), attribute);
          if (answer === undefined) throw new Error(`the rehearsal does not know ${stack}/${logicalId}.${attribute}`);
          return answer;
        }
        case 'Fn::Join': {
          const [separator, parts] = argument as [string, unknown[]];
          return (this.resolve(stack, parts) as unknown[]).map(String).join(separator);
        }
        case 'Fn::Select': {
          const [index, list] = argument as [unknown, unknown];
          return (this.resolve(stack, list) as unknown[])[Number(this.resolve(stack, index))];
        }
        case 'Fn::Split': {
          const [separator, text] = argument as [string, unknown];
          return String(this.resolve(stack, text)).split(separator);
        }
        case 'Fn::Base64':
          return this.resolve(stack, argument); // user data stays text: the rehearsal reads it
        case 'Fn::GetAZs':
          return [...this.azs];
        case 'Fn::Sub': {
          const [text, variables] =
            typeof argument === 'string' ? [argument, {}] : (argument as [string, Record<string, unknown>]);
          return text.replace(/\$\{([^}!]+)\}/g, (_, name: string) =>
            name in variables
              ? String(this.resolve(stack, variables[name]))
              : String(this.resolve(stack, name.includes('.') ? { 'Fn::GetAtt': name } : { Ref: name })),
          );
        }
        case 'Fn::GetStackOutput': {
          const { StackName, OutputName } = argument as { StackName: string; OutputName: string };
          const output = this.template(StackName).Outputs?.[OutputName];
          if (!output) throw new Error(`${StackName} has no output ${OutputName}`);
          return this.resolve(StackName, output.Value);
        }
        default:
          if (key.startsWith('Fn::')) throw new Error(`the rehearsal cannot resolve ${key} in ${stack}`);
      }
    }
    return Object.fromEntries(entries.map(([key, item]) => [key, this.resolve(stack, item)]));
  }

  private ref(stack: string, name: string): string {
    switch (name) {
      case 'AWS::Region':
        return this.region;
      case 'AWS::AccountId':
        return this.account;
      case 'AWS::Partition':
        return 'aws';
      case 'AWS::URLSuffix':
        return 'amazonaws.com';
      case 'AWS::StackName':
        return stack;
      case 'AWS::StackId':
        return `arn:aws:cloudformation:${this.region}:${this.account}:stack/${stack}/00000000-0000-0000-0000-000000000000`;
    }
    const parameter = this.template(stack).Parameters?.[name];
    if (parameter) return parameter.Default ?? '';
    const resource = this.resource(stack, name);
    const answer = this.answers.ref?.(stack, name, resource);
    if (answer !== undefined) return answer;
    if (resource.Type === 'AWS::SecretsManager::Secret') return secretArn(this.region, this.account, name);
    return name;
  }
}

/** The ARN CloudFormation would give a secret: the logical id and a six-character suffix (here fixed, so runs compare). */
export function secretArn(region: string, account: string, logicalId: string): string {
  return `arn:aws:secretsmanager:${region}:${account}:secret:${logicalId}-Rhrsl1`;
}
