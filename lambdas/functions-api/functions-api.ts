import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { BUILTINS } from '../../common/functions/builtins';
import { publishTable, type RegistryCache } from '../../common/functions/directory';
import { checkFunctionName, PACKAGE_LIMITS, PackageError } from '../../common/functions/manifest';
import { type FunctionRegistry, NotFoundError, type VersionRecord } from '../../common/functions/registry';
import { safeDecode } from '../../common/http/json';

/** A deploy's body: the manifest, the module in base64, and an alias to move to the new version. */
export interface DeployRequest {
  readonly manifest: unknown;
  readonly module: string;
  readonly alias?: string;
}

/** The largest request body: the module's limit in base64, and room for the manifest. */
export const MAX_REQUEST_BYTES = Math.ceil((PACKAGE_LIMITS.moduleBytes * 4) / 3) + 256 * 1024;

/** Who made a change, and what: one JSON line a change, for CloudWatch Logs (or the local log). */
export type AuditLog = (entry: Record<string, unknown>) => void;

/**
 * The functions routes (docs/functions.md), behind API Gateway with IAM on AWS and on the
 * local API adapter: deploy, list, versions, alias, remove. Each change is written to the
 * durable registry first, then audited, then published to the dispatchers' cache.
 *
 *   GET    /functions                       the functions and the built-ins
 *   GET    /functions/{name}                its versions and aliases
 *   PUT    /functions/{name}                deploy: {"manifest": {...}, "module": "<base64>", "alias": "live"}
 *   PUT    /functions/{name}/aliases/{alias} {"version": 3}: make or move an alias (a rollback is a move back)
 *   DELETE /functions/{name}                remove the function, every version and alias
 */
export class FunctionsApi {
  constructor(
    private readonly registry: FunctionRegistry,
    private readonly cache: RegistryCache,
    private readonly audit: AuditLog = () => undefined,
  ) {}

  async handle(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
    const method = String(event.httpMethod ?? '').toUpperCase();
    const parts = String(event.path ?? '')
      .split('/')
      .filter(Boolean)
      .map((part) => safeDecode(part));
    if (parts[0] !== 'functions' || parts.length > 4 || parts.includes(undefined)) {
      return reply(404, { error: `no route ${event.path}` });
    }
    const [, name, sub, alias] = parts as string[];
    try {
      // Checked before any route reads the registry: a name is a key in it (`..%2F..` is not a name).
      if (name !== undefined) checkFunctionName(name);
      if (parts.length === 1) {
        if (method !== 'GET') return notAllowed(method, 'GET');
        return reply(200, await this.list());
      }
      if (parts.length === 2) {
        if (method === 'GET') return reply(200, await this.describe(name));
        if (method === 'PUT') return await this.deploy(name, event);
        if (method === 'DELETE') return await this.remove(name, event);
        return notAllowed(method, 'GET, PUT, DELETE');
      }
      if (parts.length === 4 && sub === 'aliases') {
        if (method !== 'PUT') return notAllowed(method, 'PUT');
        return await this.moveAlias(name, alias, event);
      }
      return reply(404, { error: `no route ${event.path}` });
    } catch (error) {
      if (error instanceof PackageError) return reply(error.status, { error: error.message });
      if (error instanceof PublishError) return reply(503, { error: error.message });
      if (error instanceof NotFoundError) return reply(404, { error: error.message });
      throw error;
    }
  }

  /**
   * Publishes the registry's table to the dispatchers' cache after a change, which is
   * already durable: if the cache cannot take it, the answer says what was done, and how
   * the dispatchers, which go on with the table they hold until then, will learn of it.
   */
  private async publish(done: string, toFinish: string): Promise<void> {
    try {
      await publishTable(this.registry, this.cache);
    } catch (error) {
      throw new PublishError(
        `${done}, but the dispatchers' cache could not be updated (${(error as Error).message}); they go on with the functions as they were until it is: ${toFinish}`,
      );
    }
  }

  private async list() {
    const table = await this.registry.table();
    return {
      functions: Object.entries(table.functions).map(([name, entry]) => ({
        name,
        versions: Object.keys(entry.versions).length,
        latest: Math.max(...Object.keys(entry.versions).map(Number)),
        aliases: entry.aliases,
      })),
      builtins: BUILTINS.map((entry) => entry.name),
    };
  }

  private async describe(name: string) {
    const versions = await this.registry.versions(name);
    if (versions.length === 0) throw new NotFoundError(`no function "${name}"`);
    return { name, versions: versions.map(summary), aliases: await this.registry.aliases(name) };
  }

  private async deploy(name: string, event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
    const body = jsonBody(event) as Partial<DeployRequest>;
    if (
      typeof body.module !== 'string' ||
      !/^[A-Za-z0-9+/]*={0,2}$/.test(body.module) ||
      body.module.length % 4 !== 0
    ) {
      throw new PackageError("module must be the module's bytes in base64");
    }
    if (body.alias !== undefined && typeof body.alias !== 'string') throw new PackageError('alias must be a string');
    const module = Buffer.from(body.module, 'base64');
    const { record, created } = await this.registry.deploy(name, body.manifest, module, body.alias);
    this.audit({
      action: 'deploy',
      who: caller(event),
      name,
      version: record.version,
      sha256: record.sha256,
      created,
      alias: body.alias,
    });
    await this.publish(`${name} is deployed as version ${record.version}`, 'send the same request again');
    return reply(created ? 201 : 200, { ...summary(record), created, alias: body.alias });
  }

  private async moveAlias(name: string, alias: string, event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
    const { version } = jsonBody(event) as { version?: unknown };
    if (!(Number.isInteger(version) && (version as number) >= 1))
      throw new PackageError('version must be a whole number of at least 1');
    const before = (await this.registry.aliases(name))[alias];
    const record = await this.registry.setAlias(name, alias, version as number);
    this.audit({ action: 'alias', who: caller(event), name, alias, from: before, to: record.version });
    await this.publish(`${name}:${alias} is moved to version ${record.version}`, 'send the same request again');
    return reply(200, { name, alias, version: record.version, previous: before });
  }

  private async remove(name: string, event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
    const { versions } = await this.registry.remove(name);
    this.audit({ action: 'remove', who: caller(event), name, versions });
    await this.publish(`${name} is removed`, 'any later change to a function does it');
    return reply(200, { name, removed: versions });
  }
}

/** A change made in the registry that the dispatchers' cache did not take: the API answers 503 saying so. */
class PublishError extends Error {}

function summary(record: VersionRecord) {
  const { name, version, sha256, moduleBytes, createdAt, manifest } = record;
  return { name, version, sha256, moduleBytes, createdAt, entryPoints: manifest.entryPoints, limits: manifest.limits };
}

function jsonBody(event: APIGatewayProxyEvent): unknown {
  const raw = event.body ?? '';
  const text = event.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw;
  if (Buffer.byteLength(text) > MAX_REQUEST_BYTES) {
    throw new PackageError(
      `the request is over ${MAX_REQUEST_BYTES} bytes: a module is at most ${PACKAGE_LIMITS.moduleBytes} bytes (4 MiB)`,
      413,
    );
  }
  try {
    const value = JSON.parse(text) as unknown;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not an object');
    return value;
  } catch {
    throw new PackageError('the body must be a JSON object');
  }
}

/** The IAM principal API Gateway authenticated (or, locally, the adapter's `local`). */
function caller(event: APIGatewayProxyEvent): string {
  return event.requestContext?.identity?.userArn ?? event.requestContext?.identity?.caller ?? 'unknown';
}

function notAllowed(method: string, allow: string): APIGatewayProxyResult {
  return reply(405, { error: `${method} is not allowed here; use ${allow}` }, { allow });
}

function reply(statusCode: number, body: unknown, headers: Record<string, string> = {}): APIGatewayProxyResult {
  return { statusCode, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) };
}
