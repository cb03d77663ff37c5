import { Match, Template } from 'aws-cdk-lib/assertions';
import { Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { DispatchApi, type DispatchApiProps } from '../../../lib/constructs';
import { bareStack } from './fixtures';

function build(props: Partial<DispatchApiProps> = {}) {
  const stack = bareStack();
  const dispatcher = new LambdaFunction(stack, 'Dispatcher', {
    runtime: Runtime.NODEJS_24_X,
    handler: 'index.handler',
    code: Code.fromInline('exports.handler = async () => ({ statusCode: 200 })'),
  });
  new DispatchApi(stack, 'Api', { dispatcher, functionsApi: dispatcher, ...props });
  return stack;
}

describe('DispatchApi', () => {
  // GIVEN a function, WHEN the API is built with its throttling (synthesized once)
  const template = Template.fromStack(build({ throttleRatePerSecond: 200, throttleBurst: 400 }));

  test('THEN its stage throttles as asked and logs access to its own log group', () => {
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      StageName: 'v1',
      MethodSettings: Match.arrayWith([Match.objectLike({ ThrottlingRateLimit: 200, ThrottlingBurstLimit: 400 })]),
      AccessLogSetting: Match.objectLike({ DestinationArn: Match.anyValue() }),
    });
  });

  test.each([
    [{ throttleRatePerSecond: 0 }, 'Api: throttleRatePerSecond must be a whole number from 1 to 100000, got 0'],
    [{ throttleBurst: 6000 }, 'Api: throttleBurst must be a whole number from 1 to 5000, got 6000'],
  ])('GIVEN %p WHEN built THEN it throws naming the prop', (props, message) => {
    expect(() => build(props)).toThrow(message);
  });
});
