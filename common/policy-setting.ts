import { readFile } from 'node:fs/promises';
import { checkOptions, POLICY_TIERS, type PolicyTier, policyDefinition } from '@strata/policy-engine';
import type { PolicyChoice } from './live-policy';

/** What LivePolicies switches: a tier's policy holder (TierPolicy). */
export interface SwitchablePolicy {
  readonly tier: PolicyTier;
  readonly choice: PolicyChoice;
  choose(choice: PolicyChoice): void;
}

/**
 * Which policy each tier runs, with what options, as the operator last set it (`strata
 * policy set`). Durable in SSM Parameter Store on AWS and in a file locally; published to
 * the running dispatchers and nodes through Redis (or the file, locally), which they read
 * once a refresh interval. cdk.json gives only the first value.
 */
export interface PolicySetting {
  /** 1, 2, ...: each change is one more. */
  readonly version: number;
  readonly policies: Readonly<Record<PolicyTier, PolicyChoice>>;
  /** Who set it (an IAM ARN, or user@host locally), when, and why if they said. */
  readonly changedBy: string;
  readonly changedAt: string;
  readonly reason?: string;
}

/** The Redis key the setting is published under (beside the state store's keys). */
export const POLICY_KEY = '{strata}:policy';

/**
 * Parses and checks a setting: each of `tiers` (by default all three) has a registered
 * name and options valid against its schema; the error names the field
 * (`policies.invocation.options.probes`). A process checks only the tiers it runs: a
 * compute node is not built with the tier-1 plugins, which live in the dispatcher's layer.
 */
export function parsePolicySetting(text: string, tiers: readonly PolicyTier[] = POLICY_TIERS): PolicySetting {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new RangeError('the policy setting is not JSON');
  }
  const setting = raw as PolicySetting;
  if (typeof raw !== 'object' || raw === null || !Number.isInteger(setting.version) || setting.version < 1)
    throw new RangeError('the policy setting must have a whole version of at least 1');
  for (const tier of POLICY_TIERS) {
    const choice = setting.policies?.[tier];
    if (typeof choice?.name !== 'string') throw new RangeError(`policies.${tier}.name must be a policy name`);
    if (!tiers.includes(tier)) continue;
    policyDefinition(tier, choice.name); // UnknownPolicyError lists the valid names
    checkOptions(policyDefinition(tier, choice.name).options ?? {}, choice.options ?? {}, `policies.${tier}.options`);
  }
  return setting;
}

/** Where a process reads the live setting: one read a refresh interval. */
export type PolicySettingSource = () => Promise<string | undefined>;

/** The setting in a file (a local run): undefined while there is none. */
export function fileSettingSource(path: string): PolicySettingSource {
  return async () =>
    readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
}

/** The setting as published in Redis: one GET. */
export function redisSettingSource(command: (args: readonly string[]) => Promise<unknown>): PolicySettingSource {
  return async () => {
    const value = await command(['GET', POLICY_KEY]);
    return typeof value === 'string' ? value : undefined;
  };
}

/**
 * Follows the live setting for the tiers a process runs: at most one read per
 * `intervalMs`, and a change applied when its version is newer than the one applied.
 * A setting that fails its checks (a plugin this process was not built with, say) is
 * reported once per version and the current policies kept.
 */
export class LivePolicies {
  private appliedVersion = 0;
  private rejectedVersion = 0;
  private readAt = -Infinity;
  private reading: Promise<void> | undefined;

  constructor(
    private readonly source: PolicySettingSource,
    private readonly tiers: readonly SwitchablePolicy[],
    private readonly options: {
      readonly intervalMs: number;
      readonly now?: () => number;
      readonly log?: (message: string) => void;
    },
  ) {}

  get version(): number {
    return this.appliedVersion;
  }

  /** Reads the setting if the interval has passed since the last read; never throws. */
  refresh(): Promise<void> {
    const now = (this.options.now ?? Date.now)();
    if (this.reading || now - this.readAt < this.options.intervalMs) return this.reading ?? Promise.resolve();
    this.readAt = now;
    this.reading = this.read().finally(() => {
      this.reading = undefined;
    });
    return this.reading;
  }

  private async read(): Promise<void> {
    let text: string | undefined;
    try {
      text = await this.source();
    } catch (error) {
      return this.options.log?.(
        `policy setting: cannot read it (${(error as Error).message}); keeping the current policies`,
      );
    }
    if (text === undefined) return;
    let setting: PolicySetting;
    try {
      setting = parsePolicySetting(
        text,
        this.tiers.map((t) => t.tier),
      );
    } catch (error) {
      const version = Number(/"version"\s*:\s*(\d+)/.exec(text)?.[1] ?? 0);
      if (version !== this.rejectedVersion)
        this.options.log?.(`policy setting version ${version} refused: ${(error as Error).message}`);
      this.rejectedVersion = version;
      return;
    }
    if (setting.version <= this.appliedVersion) return;
    for (const tier of this.tiers) tier.choose(setting.policies[tier.tier]);
    this.appliedVersion = setting.version;
    this.options.log?.(
      `policy setting version ${setting.version} applied: ${this.tiers.map((t) => `${t.tier} ${t.choice.name}`).join(', ')}`,
    );
  }
}
