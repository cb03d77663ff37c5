import { Template } from 'aws-cdk-lib/assertions';
import { RestApi } from 'aws-cdk-lib/aws-apigateway';
import { AutoScalingGroup } from 'aws-cdk-lib/aws-autoscaling';
import { InstanceType, MachineImage } from 'aws-cdk-lib/aws-ec2';
import { Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { Observability, type ObservabilityProps } from '../../../lib/constructs';
import { bareStack, ec2Dependencies } from './fixtures';

function build(props: Partial<ObservabilityProps> = {}) {
  const stack = bareStack();
  const { vpc } = ec2Dependencies(stack);
  const api = new RestApi(stack, 'Api');
  api.root.addMethod('GET');
  const observability = new Observability(stack, 'Observability', {
    api,
    dispatcher: new LambdaFunction(stack, 'Dispatcher', {
      runtime: Runtime.NODEJS_24_X,
      handler: 'index.handler',
      code: Code.fromInline('exports.handler = async () => ({})'),
    }),
    computeGroup: new AutoScalingGroup(stack, 'Fleet', {
      vpc,
      instanceType: new InstanceType('c7g.large'),
      machineImage: MachineImage.latestAmazonLinux2023(),
    }),
    cacheMembers: ['cache-001', 'cache-002'],
    alerts: new Topic(stack, 'Topic'),
    ...props,
  });
  return { stack, observability };
}

describe('Observability', () => {
  // GIVEN the resources it watches, WHEN the dashboard and alarms are built (synthesized once)
  const { stack, observability } = build();
  const template = Template.fromStack(stack);

  test('THEN there is one dashboard, and every alarm tells the alerts topic when it fires and when it clears', () => {
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    expect(observability.alarms.length).toBeGreaterThan(0);
    template.resourceCountIs('AWS::CloudWatch::Alarm', observability.alarms.length);
    for (const alarm of Object.values(template.findResources('AWS::CloudWatch::Alarm'))) {
      expect(alarm.Properties.AlarmActions).toHaveLength(1);
      expect(alarm.Properties.OKActions).toHaveLength(1);
    }
  });

  test('GIVEN no ElastiCache member WHEN built THEN it throws naming the prop', () => {
    expect(() => build({ cacheMembers: [] })).toThrow(
      'Observability: cacheMembers must be a list of at least one, got []',
    );
  });
});
