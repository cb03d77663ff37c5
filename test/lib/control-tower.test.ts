import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { strataLogGroup } from '../../lib/constructs/log-key';
import { ControlTowerChecks, exceptControl } from '../../lib/control-tower';

/** Synthesizes one stack under the Control Tower checks alone; answers the report's text, or '' when it passes. */
function report(build: (stack: Stack) => void): string {
  const app = new App({ outdir: mkdtempSync(join(tmpdir(), 'strata-ct-')) });
  build(new Stack(app, 'Probe'));
  Validations.of(app).addPlugins(new ControlTowerChecks());
  try {
    app.synth();
    return '';
  } catch (error) {
    return (error as Error).message;
  }
}

const careless = (stack: Stack, id: string) =>
  new LogGroup(stack, id, { retention: RetentionDays.ONE_WEEK, removalPolicy: RemovalPolicy.DESTROY });

describe('Control Tower checks at synth', () => {
  test("Strata's own log group passes: encrypted with its stack's key, kept a year; the key allows grants only for AWS services", () => {
    expect(report((stack) => strataLogGroup(stack, 'Logs'))).toBe('');
  });

  test('a new violation fails the synth, naming the control and the resource', () => {
    const text = report((stack) => careless(stack, 'Careless'));
    expect(text).toMatch(/\[CT\.CLOUDWATCH\.PR\.3\][\s\S]*Probe\/Careless/);
    expect(text).toContain('[CT.CLOUDWATCH.PR.2]');
  });

  test('an exception covers one control on one resource: the other controls and resources still fail', () => {
    const text = report((stack) => {
      exceptControl(careless(stack, 'Excepted'), 'CT.CLOUDWATCH.PR.3', 'a test');
      careless(stack, 'Other');
    });
    const encryption = text.slice(text.indexOf('[CT.CLOUDWATCH.PR.3]'));
    expect(encryption).toContain('Probe/Other');
    expect(encryption.split('\n').slice(0, 4).join('\n')).not.toContain('Probe/Excepted');
    expect(text).toMatch(/\[CT\.CLOUDWATCH\.PR\.2\][\s\S]*Probe\/Excepted/);
  });

  test('an exception that matches no finding fails the synth, so none outlives its reason', () => {
    const unused = report((stack) =>
      exceptControl(strataLogGroup(stack, 'Logs'), 'CT.CLOUDWATCH.PR.3', 'kept after the fix'),
    );
    expect(unused).toContain(
      'is excepted from CT.CLOUDWATCH.PR.3 ("kept after the fix"), but CT.CLOUDWATCH.PR.3 finds nothing there',
    );
  });

  test('an exception names a real control', () => {
    expect(() => report((stack) => exceptControl(careless(stack, 'Logs'), 'CT.LOGS.3', 'a typo'))).toThrow(
      'a Control Tower control is named like CT.LAMBDA.PR.3; got "CT.LOGS.3"',
    );
  });
});
