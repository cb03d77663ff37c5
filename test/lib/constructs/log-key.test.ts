import { Match, Template } from 'aws-cdk-lib/assertions';
import { LogKey, strataLogGroup } from '../../../lib/constructs';
import { bareStack } from './fixtures';

describe('LogKey', () => {
  // GIVEN a bare stack, WHEN two log groups are made in it (synthesized once)
  const stack = bareStack();
  strataLogGroup(stack, 'First');
  strataLogGroup(stack, 'Second');
  const template = Template.fromStack(stack);

  test('THEN both are encrypted with the one rotated key of the stack', () => {
    template.resourceCountIs('AWS::KMS::Key', 1);
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    template.resourceCountIs('AWS::Logs::LogGroup', 2);
    template.hasResourceProperties('AWS::Logs::LogGroup', { KmsKeyId: Match.anyValue() });
    expect(LogKey.of(stack)).toBe(LogKey.of(stack));
  });
  // It takes no props (LogKey.of finds or makes the stack's key): nothing to refuse.
});
