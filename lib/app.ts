import { type App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { loadStrataConfig } from './config';
import { ControlTowerChecks } from './control-tower';
import { ComputeStack, DispatchStack, NetworkStack, ObservabilityStack, StateStack, StorageStack } from './stacks';

/** Strata's stacks, in deployment order. */
export interface StrataStacks {
  readonly network: NetworkStack;
  readonly state: StateStack;
  readonly storage: StorageStack;
  readonly compute: ComputeStack;
  readonly dispatch: DispatchStack;
  readonly observability: ObservabilityStack;
}

/**
 * Adds Strata's stacks, cdk-nag's AwsSolutions checks and AWS Control Tower's proactive
 * controls to an app; the CLI and the tests both use this. The stacks are
 * environment-agnostic: they deploy to the account and region of the credentials in use.
 */
export function defineStrata(app: App): StrataStacks {
  const config = loadStrataConfig(app.node.tryGetContext('strata'));
  const description = (what: string) => `Strata (multi-tier load balancing for serverless runtimes): ${what}`;
  const network = new NetworkStack(app, 'StrataNetwork', {
    config,
    description: description('VPC, security groups, alert topic'),
  });
  const state = new StateStack(app, 'StrataState', {
    config,
    network: network.network,
    description: description('ElastiCache state store, function code bucket'),
  });
  const storage = new StorageStack(app, 'StrataStorage', {
    config,
    network: network.network,
    alerts: network.alerts,
    cache: state.cache,
    functionCode: state.functionCode,
    description: description('Ceph storage tier'),
  });
  const compute = new ComputeStack(app, 'StrataCompute', {
    config,
    network: network.network,
    alerts: network.alerts,
    cache: state.cache,
    functionCode: state.functionCode,
    storage,
    description: description('compute nodes'),
  });
  const dispatch = new DispatchStack(app, 'StrataDispatch', {
    config,
    network: network.network,
    cache: state.cache,
    functionCode: state.functionCode,
    description: description('policy layer, dispatcher, functions API, API'),
  });
  const observability = new ObservabilityStack(app, 'StrataObservability', {
    alerts: network.alerts,
    cache: state.cache,
    compute: compute.fleet,
    dispatch,
    description: description('dashboard and alarms'),
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ControlTowerChecks());
  return { network, state, storage, compute, dispatch, observability };
}
