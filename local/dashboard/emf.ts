/**
 * CloudWatch's embedded metric format, read as CloudWatch Logs reads it: a log line that
 * is a JSON object with `_aws.CloudWatchMetrics` becomes one datapoint per metric and
 * per dimension set, its values taken from the record's own members.
 */

export interface Datapoint {
  readonly namespace: string;
  readonly name: string;
  readonly dimensions: Readonly<Record<string, string>>;
  readonly unit: string;
  /** ms since the epoch: the record's `_aws.Timestamp`. */
  readonly timestamp: number;
  /** One value, or up to 100 when the member is an array. */
  readonly values: readonly number[];
}

/** A line that claims to be EMF (it has `_aws`) but that CloudWatch would reject; the message says why. */
export class EmfError extends Error {
  override name = 'EmfError';
}

interface Directive {
  Namespace?: unknown;
  Dimensions?: unknown;
  Metrics?: unknown;
}

/** The datapoints of one log line; [] for a line that is not EMF (plain log output), EmfError for a malformed record. */
export function datapointsOf(line: string): Datapoint[] {
  const text = line.trim();
  if (!text.startsWith('{') || !text.includes('"_aws"')) return [];
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(text) as Record<string, unknown>;
  } catch (error) {
    throw new EmfError(`not JSON: ${(error as Error).message}`);
  }
  const aws = record._aws as { Timestamp?: unknown; CloudWatchMetrics?: unknown } | undefined;
  if (typeof aws !== 'object' || aws === null) return [];
  if (typeof aws.Timestamp !== 'number' || !Number.isFinite(aws.Timestamp))
    throw new EmfError('_aws.Timestamp must be a number of milliseconds');
  if (!Array.isArray(aws.CloudWatchMetrics)) throw new EmfError('_aws.CloudWatchMetrics must be an array');
  const points: Datapoint[] = [];
  for (const directive of aws.CloudWatchMetrics as Directive[]) {
    const namespace = directive.Namespace;
    if (typeof namespace !== 'string' || namespace === '') throw new EmfError('a directive has no Namespace');
    if (!Array.isArray(directive.Dimensions) || !Array.isArray(directive.Metrics))
      throw new EmfError(`${namespace}: Dimensions and Metrics must be arrays`);
    for (const set of directive.Dimensions as unknown[]) {
      if (!Array.isArray(set)) throw new EmfError(`${namespace}: each dimension set must be an array of names`);
      const dimensions: Record<string, string> = {};
      for (const key of set) {
        const value = record[String(key)];
        if (typeof value !== 'string' || value === '')
          throw new EmfError(`${namespace}: dimension ${String(key)} has no string value in the record`);
        dimensions[String(key)] = value;
      }
      for (const metric of directive.Metrics as { Name?: unknown; Unit?: unknown }[]) {
        const name = metric.Name;
        if (typeof name !== 'string') throw new EmfError(`${namespace}: a metric has no Name`);
        const raw = record[name];
        const values = Array.isArray(raw) ? raw : [raw];
        if (values.length === 0 || !values.every((value) => typeof value === 'number' && Number.isFinite(value))) {
          throw new EmfError(`${namespace}/${name}: the record's value must be a number or an array of numbers`);
        }
        points.push({
          namespace,
          name,
          dimensions,
          unit: typeof metric.Unit === 'string' ? metric.Unit : 'None',
          timestamp: aws.Timestamp,
          values: values as number[],
        });
      }
    }
  }
  return points;
}

/** One EMF record in the shape the metrics agent and the health script write: these metrics, by these dimension sets. */
export function emfRecord(
  namespace: string,
  dimensionSets: readonly (readonly string[])[],
  dimensions: Record<string, string>,
  metrics: Record<string, readonly [number, string]>,
  timestamp = Date.now(),
): string {
  return JSON.stringify({
    _aws: {
      Timestamp: timestamp,
      CloudWatchMetrics: [
        {
          Namespace: namespace,
          Dimensions: dimensionSets,
          Metrics: Object.entries(metrics).map(([Name, [, Unit]]) => ({ Name, Unit })),
        },
      ],
    },
    ...dimensions,
    ...Object.fromEntries(Object.entries(metrics).map(([name, [value]]) => [name, value])),
  });
}
