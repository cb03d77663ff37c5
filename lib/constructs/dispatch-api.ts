import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import {
  AccessLogFormat,
  AuthorizationType,
  JsonSchemaType,
  LambdaIntegration,
  LogGroupLogDestination,
  MethodLoggingLevel,
  type Model,
  RequestValidator,
  RestApi,
} from 'aws-cdk-lib/aws-apigateway';
import { CfnPermission, type IFunction } from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { exceptControl } from '../control-tower';
import { strataLogGroup } from './log-key';
import { acknowledgeNag } from './nag';
import { wholeProp } from './validate';

export interface DispatchApiProps {
  readonly dispatcher: IFunction;
  /** The functions API (docs/functions.md), behind the /functions routes. */
  readonly functionsApi: IFunction;
  /** @default 500 */
  readonly throttleRatePerSecond?: number;
  /** @default 1000 */
  readonly throttleBurst?: number;
}

/**
 * The REST API in front of the dispatcher: `POST /invoke/{function}` and `GET /health`;
 * and in front of the functions API: `GET /functions`, `GET|PUT|DELETE /functions/{name}`,
 * `PUT /functions/{name}/aliases/{alias}`. IAM (SigV4) auth on every method, throttled,
 * parameters and JSON bodies validated, JSON access logs, execution logs for errors and
 * X-Ray tracing.
 */
export class DispatchApi extends Construct {
  readonly api: RestApi;

  constructor(scope: Construct, id: string, props: DispatchApiProps) {
    super(scope, id);
    wholeProp(this, 'throttleRatePerSecond', props.throttleRatePerSecond, 1, 100_000);
    wholeProp(this, 'throttleBurst', props.throttleBurst, 1, 5000);
    const accessLogs = strataLogGroup(this, 'AccessLogs');
    this.api = new RestApi(this, 'Api', {
      // API Gateway's metrics are by ApiName: the stack's name is unique in the account and region, `Api` is not.
      restApiName: Stack.of(this).stackName,
      description: 'Strata: invoke functions through the multi-tier load balancer',
      // Execution logs need API Gateway's logging role, which is one setting for the whole
      // account and region: other APIs use it too, so `cdk destroy` leaves it (docs/aws.md).
      cloudWatchRole: true,
      cloudWatchRoleRemovalPolicy: RemovalPolicy.RETAIN,
      deployOptions: {
        stageName: 'v1',
        throttlingRateLimit: props.throttleRatePerSecond ?? 500,
        throttlingBurstLimit: props.throttleBurst ?? 1000,
        tracingEnabled: true,
        loggingLevel: MethodLoggingLevel.ERROR,
        dataTraceEnabled: false, // bodies are function data: keep them out of the logs
        metricsEnabled: true,
        accessLogDestination: new LogGroupLogDestination(accessLogs),
        accessLogFormat: AccessLogFormat.jsonWithStandardFields(),
      },
      defaultMethodOptions: { authorizationType: AuthorizationType.IAM },
      disableExecuteApiEndpoint: false,
    });
    const validator = new RequestValidator(this, 'Validator', {
      restApi: this.api,
      validateRequestParameters: true,
      validateRequestBody: true, // a JSON body must be an object; each function then checks its fields (400 naming the field)
    });
    const jsonObject = this.api.addModel('JsonObject', {
      contentType: 'application/json',
      schema: { type: JsonSchemaType.OBJECT },
    });
    const integration = new LambdaIntegration(props.dispatcher, { proxy: true });
    this.api.root.addResource('health').addMethod('GET', integration, { requestValidator: validator });
    this.api.root
      .addResource('invoke')
      .addResource('{function}')
      .addMethod('POST', integration, {
        requestValidator: validator,
        requestParameters: { 'method.request.path.function': true },
        requestModels: { 'application/json': jsonObject },
      });
    // Without the console's test invocations: half the functions API's resource policy statements.
    this.addFunctionsRoutes(
      new LambdaIntegration(props.functionsApi, { proxy: true, allowTestInvoke: false }),
      validator,
      jsonObject,
    );
    for (const permission of this.api.node.findAll().filter((c): c is CfnPermission => c instanceof CfnPermission)) {
      exceptControl(
        permission,
        'CT.LAMBDA.PR.2',
        "API Gateway may invoke the function only for this API's method: SourceArn names it, an Fn::Join of this API's id that the rule cannot read statically",
      );
    }
    acknowledgeNag(
      this.api,
      'APIG3',
      'Callers must sign with SigV4 (IAM auth), so anonymous traffic never reaches the dispatcher; attach a WAF web ACL if you open the API to the public',
    );
    acknowledgeNag(
      this.api,
      'COG4',
      'IAM (SigV4) auth, not Cognito: the callers are AWS principals (services and operators), not end users',
    );
    acknowledgeNag(
      this.api,
      'IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
      'AWS-maintained: the account-level role API Gateway needs to write execution logs',
    );
  }

  /**
   * The functions routes (lambdas/functions-api/functions-api.ts), every one IAM-authorised
   * like the rest: a caller needs execute-api:Invoke on it. The module travels as base64
   * inside a JSON body, so no binary media type is needed.
   */
  private addFunctionsRoutes(integration: LambdaIntegration, validator: RequestValidator, jsonObject: Model): void {
    const named = { 'method.request.path.name': true };
    const functions = this.api.root.addResource('functions');
    functions.addMethod('GET', integration, { requestValidator: validator });
    const fn = functions.addResource('{name}');
    fn.addMethod('GET', integration, { requestValidator: validator, requestParameters: named });
    fn.addMethod('PUT', integration, {
      requestValidator: validator,
      requestParameters: named,
      requestModels: { 'application/json': jsonObject },
    });
    fn.addMethod('DELETE', integration, { requestValidator: validator, requestParameters: named });
    fn.addResource('aliases')
      .addResource('{alias}')
      .addMethod('PUT', integration, {
        requestValidator: validator,
        requestParameters: { ...named, 'method.request.path.alias': true },
        requestModels: { 'application/json': jsonObject },
      });
  }
}
