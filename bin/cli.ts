#!/usr/bin/env node
/**
 * The operator command line: `npm run strata -- <command>`.
 *   invoke  call a function through the deployed dispatcher (Lambda or the signed API), or a local API
 *   status  the ElastiCache replication group and the live nodes with their metrics
 *   local   the whole system on this machine (what `npm start` runs)
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { DescribeReplicationGroupsCommand, ElastiCacheClient } from '@aws-sdk/client-elasticache';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { type NodeView, POLICY_TIERS, type PolicyTier } from '@strata/policy-engine';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { connectState } from '../common/cli';
import { HEADER_PREFIX } from '../common/http/headers';
import type { PolicySetting } from '../common/policy-setting';
import { loadStrataConfig } from '../lib/config';
import { proxyEvent } from '../local/api-adapter';
import type { DashboardData } from '../local/dashboard/server';
import { explainAwsError, OperatorError, signForApiGateway, stackOutputs } from '../operator/aws';
import { cloudWatchFigures, dashboardLink, formatFigures, type WidgetFigures } from '../operator/cloudwatch';
import { type ApiReply, callApi, readPackage } from '../operator/functions';
import {
  FilePolicyStore,
  LOCAL_POLICY_DIR,
  type PolicyStore,
  rollbackPolicy,
  SsmPolicyStore,
  setPolicy,
} from '../operator/policy-store';

const USAGE = `usage: npm run strata -- <command> [options]   (each command takes --help)

commands:
  invoke FUNCTION   call a function: through the deployed dispatcher Lambda (default),
                    the deployed API signed with SigV4 (--via api), or any API URL (--url)
  status            the dashboard's figures per tier from CloudWatch, the ElastiCache replication
                    group and the dispatcher's view (deployed); or, for a local run, the live
                    nodes from its state store (--state URL) and its page's figures (--dashboard URL)
  local             the whole system on this machine; the options of \`npm start\`
  functions         deploy, list, version, alias and remove users' WebAssembly functions
  policy            switch a tier's policy while the system runs; its history; roll a change back`;

const POLICY_USAGE = `usage: npm run strata -- policy <subcommand> [--local [--dir DIR]] [--region REGION] [--stack StrataDispatch]

  set TIER NAME [--option KEY=VALUE]... [--reason TEXT]
                  run NAME for TIER (invocation, node or offload) from the next refresh on, with
                  these options (VALUE as JSON where it parses: 8, 0.5, true, ["a","b"]; else text);
                  every dispatcher and node follows within one refresh interval, no deploy
  show            the setting now
  history         every version: who, when, what
  rollback [VERSION]
                  the policies of VERSION (default: the one before the current) as a new version

  --local         the system \`npm start\` runs on this machine (the setting in a file, --dir,
                  default ${LOCAL_POLICY_DIR}); default: the deployment on AWS (SSM Parameter
                  Store, audited in CloudWatch Logs)
  Names and options are checked as cdk.json's are: the built-ins, and the plugins cdk.json names.`;

const FUNCTIONS_USAGE = `usage: npm run strata -- functions <subcommand> [--api URL [--sign]] [--region REGION] [--stack StrataDispatch]

  deploy PATH --name NAME [--alias live]  deploy the package in PATH (a folder with manifest.json and
                                          module.wasm, as npm run functions:build writes them); a new
                                          version, and the alias moved to it when given
  list                                    the functions, their newest version and aliases, and the built-ins
  versions NAME                           every version of a function, and its aliases
  alias NAME ALIAS VERSION                make or move an alias; a rollback is moving it back
  remove NAME                             remove a function: every version and alias

  --api URL   the API of \`npm start\` (e.g. http://127.0.0.1:8080); default: the deployed API, signed with SigV4
  --sign      sign requests to --api too
  (docs/functions.md: the ABI, the manifest, the limits)`;

const INVOKE_USAGE = `usage: npm run strata -- invoke FUNCTION [--data JSON | --file PATH]
       [--via lambda|api] [--url URL [--sign]] [--region REGION] [--stack StrataDispatch]

  --data JSON    the function's input, e.g. '{"key":"corpus/small.txt"}' (default {})
  --file PATH    the input from a file (sent as it is)
  --via          lambda: invoke the dispatcher function with an API Gateway event (default);
                 api: POST to the deployed API URL, signed with SigV4
  --url URL      POST to this API base URL instead, e.g. http://127.0.0.1:8080 (npm start);
                 --sign signs it with SigV4 too
  --region       the AWS region of the deployment (default: AWS_REGION or your profile's)
  --stack        the dispatch stack's name`;

const STATUS_USAGE = `usage: npm run strata -- status [--state URL] [--dashboard URL] [--minutes 15] [--region REGION] [--stack-prefix Strata]

  --state URL     read the live nodes, per tier, from this state store: redis://, rediss://user:password@host:port,
                  or the http:// state of \`npm start\`; or put the URL in STRATA_STATE_URL instead, so that
                  its password is in neither ps nor the shell's history
  --dashboard URL the dashboard page \`npm start\` printed: print its figures per tier
                  without either, ask the deployment on AWS (CloudWatch, ElastiCache, the API)
  --minutes       on AWS, the window the latest figures are taken from (default 15)
  --region        the AWS region of the deployment
  --stack-prefix  the prefix of the stacks' names`;

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help')
    return void console.log(USAGE);
  if (command === 'invoke') return invoke(rest);
  if (command === 'status') return status(rest);
  if (command === 'local') return local(rest);
  if (command === 'functions') return functionsCommand(rest);
  if (command === 'policy') return policyCommand(rest);
  throw new UsageError(`unknown command "${command}"`, USAGE);
}

class UsageError extends Error {
  constructor(
    message: string,
    readonly usage: string,
  ) {
    super(message);
  }
}

function parse<const O extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: O, usage: string) {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: { ...options, help: { type: 'boolean' } },
      allowPositionals: true,
      strict: true,
      tokens: true,
    });
  } catch (error) {
    throw new UsageError((error as Error).message, usage);
  }
  // parseArgs keeps the last of a flag given twice: which one was meant is not for the CLI to guess.
  const seen = new Set<string>();
  for (const token of parsed.tokens) {
    if (token.kind !== 'option' || (options[token.name] as { multiple?: boolean } | undefined)?.multiple) continue;
    if (seen.has(token.name)) throw new UsageError(`--${token.name} is given twice; give it once`, usage);
    seen.add(token.name);
  }
  return parsed;
}

async function invoke(args: string[]): Promise<void> {
  const { values, positionals } = parse(
    args,
    {
      data: { type: 'string' },
      file: { type: 'string' },
      via: { type: 'string', default: 'lambda' },
      url: { type: 'string' },
      sign: { type: 'boolean', default: false },
      region: { type: 'string' },
      stack: { type: 'string', default: 'StrataDispatch' },
    },
    INVOKE_USAGE,
  );
  if (values.help) return void console.log(INVOKE_USAGE);
  const [fn, ...extra] = positionals;
  if (!fn || extra.length > 0) throw new UsageError('give exactly one FUNCTION, e.g. wordcount', INVOKE_USAGE);
  if (values.data !== undefined && values.file !== undefined)
    throw new UsageError('give --data or --file, not both', INVOKE_USAGE);
  if (values.via !== 'lambda' && values.via !== 'api')
    throw new UsageError(`--via must be lambda or api, got "${values.via}"`, INVOKE_USAGE);
  let body: string;
  if (values.file !== undefined) {
    try {
      body = readFileSync(values.file, 'utf8');
    } catch (error) {
      throw new OperatorError(`--file: cannot read ${values.file}: ${(error as Error).message}`);
    }
  } else {
    body = values.data ?? '{}';
    try {
      JSON.parse(body);
    } catch {
      throw new UsageError(`--data must be JSON, got ${body}`, INVOKE_USAGE);
    }
  }
  const path = `/invoke/${encodeURIComponent(fn)}`;

  let reply: { status: number; headers: Record<string, string>; body: string };
  if (values.url !== undefined || values.via === 'api') {
    const base = values.url ?? (await stackOutputs(values.stack, values.region)).ApiUrl;
    if (!base) throw new OperatorError(`stack ${values.stack} has no ApiUrl output`);
    reply = await post(
      new URL(path.slice(1), base.endsWith('/') ? base : `${base}/`),
      body,
      values.url === undefined || values.sign,
      values.region,
    );
  } else {
    const functionName = (await stackOutputs(values.stack, values.region)).DispatcherFunctionName;
    if (!functionName) throw new OperatorError(`stack ${values.stack} has no DispatcherFunctionName output`);
    reply = await invokeLambda(functionName, path, body, values.region);
  }
  const routing = Object.entries(reply.headers)
    .filter(([name]) => name.startsWith(HEADER_PREFIX))
    .map(([name, value]) => `${name.slice(HEADER_PREFIX.length)}=${value}`);
  if (routing.length > 0) console.error(`status ${reply.status}; ${routing.join(' ')}`);
  console.log(reply.body);
  if (reply.status >= 400) process.exitCode = 1;
}

async function functionsCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse(
    args,
    {
      name: { type: 'string' },
      alias: { type: 'string' },
      api: { type: 'string' },
      sign: { type: 'boolean', default: false },
      region: { type: 'string' },
      stack: { type: 'string', default: 'StrataDispatch' },
    },
    FUNCTIONS_USAGE,
  );
  if (values.help) return void console.log(FUNCTIONS_USAGE);
  const target = { url: values.api, sign: values.sign, region: values.region, stack: values.stack };
  const [sub, ...rest] = positionals;
  const want = (count: number, what: string) => {
    if (rest.length !== count) throw new UsageError(`functions ${sub} takes ${what}`, FUNCTIONS_USAGE);
  };
  let reply: ApiReply;
  if (sub === 'deploy') {
    want(1, 'one PATH');
    if (!values.name) throw new UsageError('functions deploy needs --name NAME', FUNCTIONS_USAGE);
    reply = await callApi(
      target,
      'PUT',
      `/functions/${encodeURIComponent(values.name)}`,
      readPackage(rest[0], values.alias),
    );
  } else if (sub === 'list') {
    want(0, 'no argument');
    reply = await callApi(target, 'GET', '/functions');
  } else if (sub === 'versions') {
    want(1, 'one NAME');
    reply = await callApi(target, 'GET', `/functions/${encodeURIComponent(rest[0])}`);
  } else if (sub === 'alias') {
    want(3, 'NAME ALIAS VERSION');
    const version = /^\d+$/.test(rest[2]) ? Number(rest[2]) : Number.NaN; // not 1e3 or 0x10
    if (!Number.isInteger(version) || version < 1)
      throw new UsageError(`VERSION must be a whole number of at least 1, got "${rest[2]}"`, FUNCTIONS_USAGE);
    reply = await callApi(
      target,
      'PUT',
      `/functions/${encodeURIComponent(rest[0])}/aliases/${encodeURIComponent(rest[1])}`,
      JSON.stringify({ version }),
    );
  } else if (sub === 'remove') {
    want(1, 'one NAME');
    reply = await callApi(target, 'DELETE', `/functions/${encodeURIComponent(rest[0])}`);
  } else {
    throw new UsageError(sub ? `unknown functions subcommand "${sub}"` : 'give a subcommand', FUNCTIONS_USAGE);
  }
  console.log(reply.body);
  if (reply.status >= 400) process.exitCode = 1;
}

async function policyCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse(
    args,
    {
      option: { type: 'string', multiple: true },
      reason: { type: 'string' },
      local: { type: 'boolean', default: false },
      dir: { type: 'string' },
      region: { type: 'string' },
      stack: { type: 'string', default: 'StrataDispatch' },
    },
    POLICY_USAGE,
  );
  if (values.help) return void console.log(POLICY_USAGE);
  // The plugins cdk.json names, registered so that their names and options check here as at synth.
  const root = join(__dirname, '..');
  const cdkJson = JSON.parse(readFileSync(join(root, 'cdk.json'), 'utf8')) as { context?: { strata?: unknown } };
  const config = loadStrataConfig(cdkJson.context?.strata ?? {}, root);
  const store: PolicyStore = values.local
    ? new FilePolicyStore(values.dir)
    : await awsPolicyStore(values.stack, values.region);
  const [sub, ...rest] = positionals;
  if (sub === 'set') {
    if (rest.length !== 2) throw new UsageError('policy set takes TIER NAME', POLICY_USAGE);
    const [tier, name] = rest;
    if (!(POLICY_TIERS as readonly string[]).includes(tier))
      throw new UsageError(`TIER must be one of ${POLICY_TIERS.join(', ')}, got "${tier}"`, POLICY_USAGE);
    const options = Object.fromEntries(
      (values.option ?? []).map((pair) => {
        const at = pair.indexOf('=');
        if (at < 1) throw new UsageError(`--option must be KEY=VALUE, got "${pair}"`, POLICY_USAGE);
        const text = pair.slice(at + 1);
        let value: unknown = text;
        try {
          value = JSON.parse(text);
        } catch {
          // a plain word is text
        }
        return [pair.slice(0, at), value];
      }),
    );
    const first = config.policies;
    const next = await setPolicy(store, first, tier as PolicyTier, { name, options }, values.reason).catch(
      (error: Error) => {
        throw new OperatorError(error.message);
      },
    );
    return printSetting(`set: version ${next.version}`, next, store);
  }
  if (sub === 'show') {
    const current = await store.current();
    if (!current) return void console.log(`no change since the deploy: the policies are cdk.json's (${store.where})`);
    return printSetting('now', current, store);
  }
  if (sub === 'history') {
    const history = await store.history();
    if (history.length === 0) return void console.log(`no change yet (${store.where})`);
    for (const setting of history)
      console.log(
        `v${setting.version}  ${setting.changedAt}  ${setting.changedBy}  ${describePolicies(setting)}${setting.reason ? `  (${setting.reason})` : ''}`,
      );
    return;
  }
  if (sub === 'rollback') {
    const version = rest[0] === undefined ? undefined : Number(rest[0]);
    if (version !== undefined && !(Number.isInteger(version) && version >= 1))
      throw new UsageError(`VERSION must be a whole number of at least 1, got "${rest[0]}"`, POLICY_USAGE);
    const next = await rollbackPolicy(store, version).catch((error: Error) => {
      throw new OperatorError(error.message);
    });
    return printSetting(`rolled back: version ${next.version}`, next, store);
  }
  throw new UsageError(sub ? `unknown policy subcommand "${sub}"` : 'give a subcommand', POLICY_USAGE);
}

function describePolicies(setting: PolicySetting): string {
  return POLICY_TIERS.map((tier) => {
    const { name, options } = setting.policies[tier];
    return `${tier}=${name}${Object.keys(options).length > 0 ? JSON.stringify(options) : ''}`;
  }).join('  ');
}

function printSetting(what: string, setting: PolicySetting, store: PolicyStore): void {
  console.log(`${what} (${store.where}), by ${setting.changedBy} at ${setting.changedAt}`);
  console.log(`  ${describePolicies(setting)}`);
}

async function awsPolicyStore(stack: string, region?: string): Promise<PolicyStore> {
  const outputs = await stackOutputs(stack, region);
  const need = (key: string) => {
    if (!outputs[key]) throw new OperatorError(`the stack ${stack} has no output ${key}: deploy this version first`);
    return outputs[key];
  };
  return new SsmPolicyStore({
    region,
    parameterName: need('PolicyParameterName'),
    auditLogGroup: need('PolicyAuditLogGroup'),
    dispatcherFunction: need('DispatcherFunctionName'),
  });
}

async function post(url: URL, body: string, sign: boolean, region?: string) {
  let headers: Record<string, string> = { 'content-type': 'application/json' };
  if (sign) {
    const signingRegion =
      /\.execute-api\.([a-z0-9-]+)\.amazonaws\.com$/.exec(url.hostname)?.[1] ?? region ?? process.env.AWS_REGION;
    if (!signingRegion) throw new OperatorError('no AWS region to sign for: pass --region or set AWS_REGION');
    headers = await signForApiGateway({ method: 'POST', url, headers, body }, signingRegion);
  }
  const response = await fetch(url, { method: 'POST', headers, body }).catch((error: Error) => {
    throw new OperatorError(
      `cannot reach ${url.origin}: ${(error.cause as Error | undefined)?.message ?? error.message}`,
    );
  });
  return { status: response.status, headers: Object.fromEntries(response.headers), body: await response.text() };
}

async function invokeLambda(functionName: string, path: string, body: string, region?: string) {
  const client = new LambdaClient({ region });
  try {
    const event = proxyEvent({
      method: 'POST',
      url: path,
      rawHeaders: ['content-type', 'application/json'],
      body: Buffer.from(body),
    });
    const reply = await client.send(
      new InvokeCommand({ FunctionName: functionName, Payload: Buffer.from(JSON.stringify(event)) }),
    );
    const payload = Buffer.from(reply.Payload ?? []).toString('utf8');
    if (reply.FunctionError) throw new OperatorError(`the dispatcher failed (${reply.FunctionError}): ${payload}`);
    const result = JSON.parse(payload) as APIGatewayProxyResult;
    return { status: result.statusCode, headers: (result.headers ?? {}) as Record<string, string>, body: result.body };
  } catch (error) {
    if (error instanceof OperatorError) throw error;
    return explainAwsError(error);
  } finally {
    client.destroy();
  }
}

async function status(args: string[]): Promise<void> {
  const { values, positionals } = parse(
    args,
    {
      state: { type: 'string' },
      dashboard: { type: 'string' },
      minutes: { type: 'string', default: '15' },
      region: { type: 'string' },
      'stack-prefix': { type: 'string', default: 'Strata' },
    },
    STATUS_USAGE,
  );
  if (values.help) return void console.log(STATUS_USAGE);
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`, STATUS_USAGE);
  const stateUrl = values.state ?? process.env.STRATA_STATE_URL;
  if (stateUrl !== undefined || values.dashboard !== undefined) {
    if (values.dashboard !== undefined) {
      console.log(formatFigures(await pageFigures(values.dashboard)));
      console.log(`the dashboard: ${values.dashboard}\n`);
    }
    if (stateUrl !== undefined) printNodes(await liveNodesFrom(stateUrl));
    return;
  }
  const minutes = Number(values.minutes);
  if (!Number.isInteger(minutes) || minutes < 1 || minutes > 1440)
    throw new UsageError(`--minutes must be a whole number from 1 to 1440, got "${values.minutes}"`, STATUS_USAGE);

  const prefix = values['stack-prefix'];
  const [dispatch, compute, state, observability] = await Promise.all(
    ['Dispatch', 'Compute', 'State', 'Observability'].map((stack) => stackOutputs(`${prefix}${stack}`, values.region)),
  );
  const client = new ElastiCacheClient({ region: values.region });
  let members: string[] = [];
  let region: string;
  try {
    region = await client.config.region();
    const reply = await client.send(
      new DescribeReplicationGroupsCommand({ ReplicationGroupId: state.ReplicationGroupId }),
    );
    for (const group of reply.ReplicationGroups ?? []) {
      console.log(
        `state store ${group.ReplicationGroupId}: ${group.Status}, ${group.Engine ?? 'valkey'} ${group.CacheNodeType}, multi-AZ ${group.MultiAZ}, failover ${group.AutomaticFailover}, TLS ${group.TransitEncryptionEnabled}, at rest ${group.AtRestEncryptionEnabled}`,
      );
      for (const member of group.NodeGroups?.[0]?.NodeGroupMembers ?? []) {
        console.log(`  ${member.CacheClusterId} ${member.CurrentRole ?? ''} in ${member.PreferredAvailabilityZone}`);
        if (member.CacheClusterId) members.push(member.CacheClusterId);
      }
    }
  } catch (error) {
    explainAwsError(error);
  } finally {
    client.destroy();
  }
  members = members.sort();
  const figures = await cloudWatchFigures(
    {
      apiName: `${prefix}Dispatch`, // the API is named after its stack
      dispatcherFunctionName: dispatch.DispatcherFunctionName ?? '',
      computeGroupName: compute.AutoScalingGroupName ?? '',
      cacheMembers: members,
      predictivePolicies: (compute.PredictiveScalingPolicies ?? '').split(',').filter(Boolean),
    },
    values.region,
    minutes,
  );
  console.log(`\nlatest one-minute figures of the last ${minutes} minutes (CloudWatch):`);
  console.log(formatFigures(figures));
  if (observability.DashboardName) console.log(`the dashboard: ${dashboardLink(region!, observability.DashboardName)}`);
  // The state store is inside the VPC; the dispatcher answers for it through the API.
  const url = new URL('health', dispatch.ApiUrl);
  const apiRegion = /\.execute-api\.([a-z0-9-]+)\./.exec(url.hostname)?.[1] ?? region!;
  const headers = await signForApiGateway({ method: 'GET', url, headers: {} }, apiRegion);
  const health = await fetch(url, { headers }).then((response) => response.text());
  console.log(`dispatcher: ${health}`);
  console.log("for each node's own figures, run status --state with an SSM port forward to the state store");
}

/** The figures a local dashboard page shows, each line's latest value, read from the page's own data. */
async function pageFigures(address: string): Promise<WidgetFigures[]> {
  let url: URL;
  try {
    url = new URL('api/dashboard', address.endsWith('/') ? address : `${address}/`);
  } catch {
    throw new UsageError(`--dashboard must be the page's http:// address, got "${address}"`, STATUS_USAGE);
  }
  const response = await fetch(url).catch((error: Error) => {
    throw new OperatorError(
      `cannot reach the dashboard at ${url.origin}: ${(error.cause as Error | undefined)?.message ?? error.message}`,
    );
  });
  if (!response.ok) throw new OperatorError(`the dashboard at ${url.origin} answered ${response.status}`);
  const data = (await response.json()) as DashboardData;
  return data.widgets.map((widget) => ({
    tier: widget.tier,
    title: widget.title,
    lines: widget.series.map((line) => ({ label: line.label, stat: line.stat, value: line.latest })),
  }));
}

async function liveNodesFrom(url: string): Promise<NodeView[]> {
  // Not the URL itself in the message: it may hold a password.
  if (!/^(rediss?|http):\/\//.test(url))
    throw new UsageError(
      `--state (or STRATA_STATE_URL) must be a redis://, rediss:// or http:// URL, got one that starts "${url.split(':')[0].slice(0, 16)}:"`,
      STATUS_USAGE,
    );
  const store = await connectState(url).catch((error: Error) => {
    throw new OperatorError(`cannot reach the state store at ${new URL(url).host}: ${error.message}`);
  });
  try {
    return await store.liveNodes();
  } finally {
    await store.close();
  }
}

function printNodes(nodes: readonly NodeView[]): void {
  const now = Date.now();
  const rows = nodes.map((n) => [
    n.id,
    n.role,
    n.address,
    `${n.slotsUsed}/${n.slotsTotal}`,
    String(n.inFlight),
    `${(n.cpuBusy * 100).toFixed(0)}%`,
    `${(n.memoryUsed * 100).toFixed(0)}%`,
    (n.load1 / Math.max(1, n.cores)).toFixed(2),
    n.draining ? 'draining' : 'up',
    `${((now - n.heartbeatAt) / 1000).toFixed(1)}s`,
  ]);
  const header = ['node', 'role', 'address', 'slots', 'in flight', 'cpu', 'memory', 'load/core', 'state', 'heartbeat'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  for (const row of [header, ...rows])
    console.log(
      row
        .map((cell, i) => cell.padEnd(widths[i]))
        .join('  ')
        .trimEnd(),
    );
  console.log(`${nodes.length} live node(s)`);
}

async function local(args: string[]): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'start.ts'), ...args], {
    cwd: join(__dirname, '..'),
    stdio: 'inherit',
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
  process.exitCode = await new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
}

main(process.argv.slice(2)).catch((error: Error) => {
  if (error instanceof UsageError) {
    console.error(`${error.message}\n\n${error.usage}`);
    process.exit(2);
  }
  console.error(error instanceof OperatorError ? error.message : (error.stack ?? error.message));
  process.exit(1);
});
