import { Template } from 'aws-cdk-lib/assertions';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { NodeBundle } from '../../../lib/constructs';
import { bareStack } from './fixtures';

describe('NodeBundle', () => {
  // GIVEN a bare stack (bundling skipped), WHEN the node bundle is built and a node role may read it (synthesized once)
  const stack = bareStack();
  const bundle = new NodeBundle(stack, 'NodeBundle');
  const role = new Role(stack, 'Role', { assumedBy: new ServicePrincipal('ec2.amazonaws.com') });
  bundle.asset.grantRead(role);
  const template = Template.fromStack(stack);

  test('THEN it is one S3 asset that the stack names by bucket and key', () => {
    expect(bundle.asset.s3ObjectKey).toMatch(/\.zip$/);
    template.resourceCountIs('AWS::IAM::Policy', 1);
  });
  // It takes no props: nothing to refuse.
});
