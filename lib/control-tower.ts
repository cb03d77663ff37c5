import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { CfnGuardValidator } from '@cdklabs/cdk-validator-cfnguard';
import {
  CfnResource,
  type IPolicyValidationContext,
  type IPolicyValidationPlugin,
  type PolicyValidationPluginReport,
  type PolicyViolation,
} from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/** Where a resource's written exceptions to Control Tower controls live in the template. */
const EXCEPTIONS_METADATA = 'strata:controlTowerExceptions';

/**
 * AWS Control Tower's proactive controls, as the CloudFormation Guard rules that
 * `@cdklabs/cdk-validator-cfnguard` ships, run at every synth beside cdk-nag: a finding
 * fails the synth. A finding that does not apply — an artifact of reading a template
 * statically (a value built with an intrinsic the rule cannot follow), or a design choice
 * (a storage node kept in one AZ) — is excepted for that resource alone, with its reason,
 * by `exceptControl`; the exception is kept in the template's
 * metadata, where a reviewer sees it. An exception that no longer matches a finding
 * fails the synth too, so none outlives its reason.
 *
 * Why a wrapper rather than the plugin as it is: the plugin can only switch a rule off
 * for every resource, and acknowledging one of its findings through the CDK clears its
 * whole report.
 */
export class ControlTowerChecks implements IPolicyValidationPlugin {
  readonly name = 'control-tower';
  private readonly guard = new CfnGuardValidator();
  readonly version = this.guard.version;
  readonly ruleIds = this.guard.ruleIds;

  validate(context: IPolicyValidationContext): PolicyValidationPluginReport {
    const report = this.guard.validate(context);
    const exceptions = exceptionsIn(context.templatePaths);
    const used = new Set<string>();
    const violations: PolicyViolation[] = [];
    for (const violation of report.violations) {
      const control = controlOf(violation);
      const left = violation.violatingResources.filter((resource) => {
        const key = exceptionKey(resource.templatePath, resource.resourceLogicalId, control);
        if (!exceptions.has(key)) return true;
        used.add(key);
        return false;
      });
      if (left.length > 0) violations.push({ ...violation, violatingResources: left });
    }
    for (const [key, { templatePath, logicalId, control, reason }] of exceptions) {
      if (used.has(key)) continue;
      violations.push({
        ruleName: 'unused_control_tower_exception',
        description: `${logicalId} is excepted from ${control} ("${reason}"), but ${control} finds nothing there`,
        fix: `Remove the exceptControl(..., '${control}', ...) call for this resource`,
        violatingResources: [
          { resourceLogicalId: logicalId, templatePath, locations: [`Metadata.${EXCEPTIONS_METADATA}`] },
        ],
      });
    }
    return { ...report, violations, success: violations.length === 0 };
  }
}

/**
 * Excepts one resource (the construct's CloudFormation resource) from one Control Tower
 * control, e.g. `CT.LAMBDA.PR.3`, with the reason the finding does not apply.
 */
export function exceptControl(scope: IConstruct, control: string, reason: string): void {
  if (!/^CT\.[A-Z0-9]+\.PR\.\d+$/.test(control))
    throw new RangeError(`a Control Tower control is named like CT.LAMBDA.PR.3; got "${control}"`);
  const resource = scope instanceof CfnResource ? scope : scope.node.defaultChild;
  if (!(resource instanceof CfnResource))
    throw new TypeError(`${scope.node.path} has no CloudFormation resource to except from ${control}`);
  const current = (resource.getMetadata(EXCEPTIONS_METADATA) ?? {}) as Record<string, string>;
  resource.addMetadata(EXCEPTIONS_METADATA, { ...current, [control]: reason });
}

/** The control's id, e.g. CT.LAMBDA.PR.3, from the start of the rule's description. */
function controlOf(violation: PolicyViolation): string {
  return /\[(CT\.[A-Z0-9]+\.PR\.\d+)\]/.exec(violation.description)?.[1] ?? violation.ruleName;
}

/** The guard names a template by its absolute path, the CDK by the path it was given (relative with `cdk synth`'s cdk.out). */
function exceptionKey(templatePath: string | undefined, logicalId: string | undefined, control: string): string {
  return `${templatePath === undefined ? '' : resolve(templatePath)}\0${logicalId}\0${control}`;
}

function exceptionsIn(templatePaths: readonly string[]) {
  const exceptions = new Map<string, { templatePath: string; logicalId: string; control: string; reason: string }>();
  for (const templatePath of templatePaths) {
    const template = JSON.parse(readFileSync(templatePath, 'utf8')) as {
      Resources?: Record<string, { Metadata?: Record<string, unknown> }>;
    };
    for (const [logicalId, resource] of Object.entries(template.Resources ?? {})) {
      const excepted = (resource.Metadata?.[EXCEPTIONS_METADATA] ?? {}) as Record<string, string>;
      for (const [control, reason] of Object.entries(excepted)) {
        exceptions.set(exceptionKey(templatePath, logicalId, control), { templatePath, logicalId, control, reason });
      }
    }
  }
  return exceptions;
}
