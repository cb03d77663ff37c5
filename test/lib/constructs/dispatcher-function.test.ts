import { Match, Template } from 'aws-cdk-lib/assertions';
import { LayerVersion } from 'aws-cdk-lib/aws-lambda';
import { DISPATCHER_DEFAULTS } from '../../../common/settings';
import { DispatcherFunction, type DispatcherFunctionProps } from '../../../lib/constructs';
import { bareStack, ec2Dependencies } from './fixtures';

function build(props: Partial<DispatcherFunctionProps> = {}) {
  const stack = bareStack(); // bundling skipped: the test reads the template, not the bundle
  const { vpc, subnets, securityGroup, state, functionCode } = ec2Dependencies(stack);
  new DispatcherFunction(stack, 'Dispatcher', {
    vpc,
    subnets,
    securityGroup,
    state,
    functionCode,
    policyLayer: LayerVersion.fromLayerVersionArn(
      stack,
      'Layer',
      'arn:aws:lambda:eu-west-1:111111111111:layer:engine:1',
    ),
    strategy: 'prequal',
    ...props,
  });
  return stack;
}

describe('DispatcherFunction', () => {
  // GIVEN the state store's endpoint, WHEN the dispatcher is built with prequal (synthesized once)
  const template = Template.fromStack(build({ strategyOptions: { probes: 4, quantile: 0.75 }, memoryMiB: 1024 }));

  test('THEN its environment carries every setting through common/settings, defaults filled in', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      MemorySize: 1024,
      Timeout: 29,
      Architectures: ['arm64'],
      Environment: {
        Variables: Match.objectLike({
          STRATA_REDIS_URL: 'rediss://cache.internal:6380',
          STRATA_STRATEGY: 'prequal',
          STRATA_CHOICES: String(DISPATCHER_DEFAULTS.choices),
          STRATA_STRATEGY_OPTIONS: '{"probes":4,"quantile":0.75}',
          STRATA_MAX_ATTEMPTS: String(DISPATCHER_DEFAULTS.maxAttempts),
          STRATA_REDIS_AUTH_SECRET_ARN: Match.anyValue(),
        }),
      },
      VpcConfig: Match.objectLike({ SubnetIds: Match.anyValue() }),
    });
  });

  test.each([
    [{ strategy: 'fastest' as never }, 'Dispatcher: strategy must be one of round-robin,'],
    [
      { strategyOptions: { probes: 100, quantile: 0.5 } },
      'Dispatcher: strategyOptions.probes must be a whole number from 1 to 64, got 100',
    ],
    [{ strategyOptions: { quantile: 2 } }, 'Dispatcher: strategyOptions.quantile must be a number from 0 to 1, got 2'],
    [
      { strategyOptions: { hot: 1 } },
      'Dispatcher: strategyOptions.hot is not an option; valid options: probes, quantile',
    ],
    [{ memoryMiB: 64 }, 'Dispatcher: memoryMiB must be a whole number from 128 to 10240, got 64'],
    [{ reservedConcurrency: 0 }, 'Dispatcher: reservedConcurrency must be a whole number from 1 to 10000, got 0'],
  ])('GIVEN %p WHEN built THEN it throws naming the prop', (props, message) => {
    expect(() => build(props)).toThrow(message);
  });
});
