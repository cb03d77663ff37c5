import { Template } from 'aws-cdk-lib/assertions';
import { PolicyLayer } from '../../../lib/constructs';
import { bareStack } from './fixtures';

describe('PolicyLayer', () => {
  // GIVEN a bare stack (bundling skipped), WHEN the policy engine's layer is built (synthesized once)
  const stack = bareStack();
  new PolicyLayer(stack, 'PolicyLayer');
  const template = Template.fromStack(stack);

  test('THEN it is one layer for Node.js 22 and 24 on both architectures', () => {
    template.hasResourceProperties('AWS::Lambda::LayerVersion', {
      CompatibleRuntimes: ['nodejs22.x', 'nodejs24.x'],
      CompatibleArchitectures: ['arm64', 'x86_64'],
    });
  });
  // It takes no props: nothing to refuse.
});
