import { appendFile, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { hostname, userInfo } from 'node:os';
import { join } from 'node:path';
import { CloudWatchLogsClient, CreateLogStreamCommand, PutLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { GetParameterCommand, GetParameterHistoryCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import type { PolicyChoice } from '../common/live-policy';
import { type PolicySetting, parsePolicySetting } from '../common/policy-setting';
import { explainAwsError } from './aws';

/** One line of the audit trail: who changed which tier's policy, when, from what, to what. */
export interface PolicyAudit {
  readonly version: number;
  readonly changedBy: string;
  readonly changedAt: string;
  readonly from: PolicySetting['policies'] | null;
  readonly to: PolicySetting['policies'];
  readonly reason?: string;
}

/**
 * Where the operator's policy setting is kept durably, its history, its audit trail, and
 * how a new setting reaches the running dispatchers and nodes.
 */
export interface PolicyStore {
  current(): Promise<PolicySetting | undefined>;
  /** Every version still kept, oldest first. */
  history(): Promise<PolicySetting[]>;
  /** Writes `next` durably (it must be one version past the current), audits it, then publishes it. */
  put(next: PolicySetting, previous: PolicySetting | undefined): Promise<void>;
  /** Who is making the change. */
  who(): Promise<string>;
  /** Where the setting is kept, for messages. */
  readonly where: string;
}

/** The folder `npm start` (its default --work-dir) and `strata policy ... --local` share. */
export const LOCAL_POLICY_DIR = join(__dirname, '..', '.local', 'policy');

/**
 * Locally: the setting in `policy.json` (which the local dispatcher and nodes read each
 * refresh), every version in `history.jsonl`, the audit trail in `audit.jsonl`.
 */
export class FilePolicyStore implements PolicyStore {
  constructor(readonly dir: string = LOCAL_POLICY_DIR) {}

  get where(): string {
    return join(this.dir, 'policy.json');
  }

  async current(): Promise<PolicySetting | undefined> {
    const text = await readFile(this.where, 'utf8').catch(() => undefined);
    return text === undefined ? undefined : parsePolicySetting(text);
  }

  async history(): Promise<PolicySetting[]> {
    const text = await readFile(join(this.dir, 'history.jsonl'), 'utf8').catch(() => '');
    return text
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as PolicySetting);
  }

  async put(next: PolicySetting, previous: PolicySetting | undefined): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const current = await this.current();
    if ((current?.version ?? 0) !== (previous?.version ?? 0))
      throw new Error(`the setting changed meanwhile (now version ${current?.version}); try again`);
    await appendFile(join(this.dir, 'history.jsonl'), `${JSON.stringify(next)}\n`);
    await appendFile(join(this.dir, 'audit.jsonl'), `${JSON.stringify(auditOf(next, previous))}\n`);
    // Written whole, then renamed: a reader never sees half a setting.
    const partial = `${this.where}.${process.pid}`;
    await writeFile(partial, JSON.stringify(next, null, 2));
    await rename(partial, this.where);
  }

  async who(): Promise<string> {
    return `${userInfo().username}@${hostname()}`;
  }
}

/** Where the deployed setting lives, from the dispatch stack's outputs. */
export interface AwsPolicyTarget {
  readonly region?: string;
  /** The SSM parameter (String, with its history kept by SSM). */
  readonly parameterName: string;
  /** The CloudWatch Logs group of the audit trail. */
  readonly auditLogGroup: string;
  /** The dispatcher function, asked to publish the new setting to Redis (it is in the VPC, the operator is not). */
  readonly dispatcherFunction: string;
}

/**
 * On AWS: the setting in SSM Parameter Store (its versions are the history), each change
 * audited in CloudWatch Logs, then published: the dispatcher function is invoked to copy
 * the parameter into Redis, where every dispatcher and node reads it.
 */
export class SsmPolicyStore implements PolicyStore {
  private readonly ssm: SSMClient;

  constructor(private readonly target: AwsPolicyTarget) {
    this.ssm = new SSMClient({ region: target.region });
  }

  get where(): string {
    return `SSM parameter ${this.target.parameterName}`;
  }

  async current(): Promise<PolicySetting | undefined> {
    try {
      const reply = await this.ssm.send(new GetParameterCommand({ Name: this.target.parameterName }));
      // SSM's own version is the setting's: it grows with every write, a deploy's included.
      return reply.Parameter?.Value
        ? { ...parsePolicySetting(reply.Parameter.Value), version: reply.Parameter.Version ?? 1 }
        : undefined;
    } catch (error) {
      if ((error as { name?: string }).name === 'ParameterNotFound') return undefined;
      return explainAwsError(error);
    }
  }

  async history(): Promise<PolicySetting[]> {
    const settings: PolicySetting[] = [];
    let token: string | undefined;
    try {
      do {
        const reply = await this.ssm.send(
          new GetParameterHistoryCommand({ Name: this.target.parameterName, NextToken: token }),
        );
        for (const entry of reply.Parameters ?? [])
          if (entry.Value)
            settings.push({ ...(JSON.parse(entry.Value) as PolicySetting), version: entry.Version ?? 0 });
        token = reply.NextToken;
      } while (token);
    } catch (error) {
      return explainAwsError(error);
    }
    return settings.sort((a, b) => a.version - b.version);
  }

  async put(next: PolicySetting, previous: PolicySetting | undefined): Promise<void> {
    const current = await this.current();
    if ((current?.version ?? 0) !== (previous?.version ?? 0))
      throw new Error(`the setting changed meanwhile (now version ${current?.version}); try again`);
    const logs = new CloudWatchLogsClient({ region: this.target.region });
    const lambda = new LambdaClient({ region: this.target.region });
    try {
      await this.ssm.send(
        new PutParameterCommand({
          Name: this.target.parameterName,
          Value: JSON.stringify(next),
          Type: 'String',
          Overwrite: true,
        }),
      );
      const stream = `policy-v${next.version}-${Date.now()}`;
      await logs.send(new CreateLogStreamCommand({ logGroupName: this.target.auditLogGroup, logStreamName: stream }));
      await logs.send(
        new PutLogEventsCommand({
          logGroupName: this.target.auditLogGroup,
          logStreamName: stream,
          logEvents: [{ timestamp: Date.now(), message: JSON.stringify(auditOf(next, previous)) }],
        }),
      );
      const reply = await lambda.send(
        new InvokeCommand({
          FunctionName: this.target.dispatcherFunction,
          Payload: new TextEncoder().encode(JSON.stringify({ strataPolicy: 'publish' })),
        }),
      );
      if (reply.FunctionError)
        throw new Error(`the dispatcher could not publish the setting: ${new TextDecoder().decode(reply.Payload)}`);
    } catch (error) {
      return explainAwsError(error);
    } finally {
      logs.destroy();
      lambda.destroy();
    }
  }

  async who(): Promise<string> {
    const sts = new STSClient({ region: this.target.region });
    try {
      return (await sts.send(new GetCallerIdentityCommand({}))).Arn ?? 'unknown';
    } catch (error) {
      return explainAwsError(error);
    } finally {
      sts.destroy();
    }
  }
}

function auditOf(next: PolicySetting, previous: PolicySetting | undefined): PolicyAudit {
  return {
    version: next.version,
    changedBy: next.changedBy,
    changedAt: next.changedAt,
    from: previous?.policies ?? null,
    to: next.policies,
    ...(next.reason ? { reason: next.reason } : {}),
  };
}

/**
 * `strata policy set TIER NAME [--option k=v]...`: the next setting, one tier changed,
 * checked like the config (a name the engine has, options its schema accepts).
 */
export async function setPolicy(
  store: PolicyStore,
  first: PolicySetting['policies'],
  tier: keyof PolicySetting['policies'],
  choice: PolicyChoice,
  reason?: string,
): Promise<PolicySetting> {
  const previous = await store.current();
  const policies = { ...(previous?.policies ?? first), [tier]: choice };
  const next: PolicySetting = {
    version: (previous?.version ?? 0) + 1,
    policies,
    changedBy: await store.who(),
    changedAt: new Date().toISOString(),
    ...(reason ? { reason } : {}),
  };
  parsePolicySetting(JSON.stringify(next)); // names and options checked before anything is written
  await store.put(next, previous);
  return next;
}

/** `strata policy rollback [VERSION]`: the policies of an earlier version (default: the one before), as a new version. */
export async function rollbackPolicy(store: PolicyStore, toVersion?: number): Promise<PolicySetting> {
  const previous = await store.current();
  if (!previous) throw new Error(`no policy has been set in ${store.where}; nothing to roll back`);
  const history = await store.history();
  const target = toVersion ?? previous.version - 1;
  const earlier = history.find((setting) => setting.version === target);
  if (!earlier)
    throw new Error(
      `version ${target} is not in the history; versions kept: ${history.map((s) => s.version).join(', ')}`,
    );
  const next: PolicySetting = {
    version: previous.version + 1,
    policies: earlier.policies,
    changedBy: await store.who(),
    changedAt: new Date().toISOString(),
    reason: `rollback to version ${target}`,
  };
  parsePolicySetting(JSON.stringify(next));
  await store.put(next, previous);
  return next;
}
