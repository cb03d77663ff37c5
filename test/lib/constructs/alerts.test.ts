import { Match, Template } from 'aws-cdk-lib/assertions';
import { Alerts } from '../../../lib/constructs';
import { bareStack } from './fixtures';

describe('Alerts', () => {
  // GIVEN a bare stack, WHEN the alerts topic is built with an email (synthesized once)
  const stack = bareStack();
  new Alerts(stack, 'Alerts', { email: 'ops@example.com' });
  const template = Template.fromStack(stack);

  test('THEN the topic is encrypted with its own rotated key and the email is subscribed', () => {
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com' });
  });

  test('GIVEN an email that is not an address WHEN built THEN it throws naming the prop', () => {
    expect(() => new Alerts(bareStack(), 'Alerts', { email: 'ops' })).toThrow(
      'Alerts: email must be an email address, got "ops"',
    );
  });
});
