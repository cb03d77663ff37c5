/** Helpers for command-line programs: number flags, exiting with a message, the state and object stores named by flags. */
import { appendFileSync } from 'node:fs';
import { FolderObjectStore, type ObjectStore, S3ObjectStore } from './object-store';
import { DATA_BUCKET } from './settings';
import { connectStateStore, HttpStateStore, type StateStore } from './state';

export function wholeNumber(flag: string, text: string, min: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min)
    exitWith(2, `--${flag} must be a whole number of at least ${min}, got "${text}"`);
  return value;
}

/** A comma-separated list of CPU quotas, in cores (above 0, at most 64), e.g. "0.25,0.5,1". */
export function coresList(flag: string, text: string): number[] {
  return text.split(',').map((item) => {
    const value = Number(item);
    return Number.isFinite(value) && value > 0 && value <= 64
      ? value
      : exitWith(2, `--${flag}: "${item}" is not a number of cores (e.g. 0.25, 0.5, 1)`);
  });
}

export async function connectState(url: string): Promise<StateStore> {
  if (url.startsWith('http://')) return new HttpStateStore(url);
  if (url.startsWith('redis://') || url.startsWith('rediss://')) return connectStateStore({ url }); // ?cells=N&cluster=yes: cells
  return exitWith(2, `--state must be a redis://, rediss:// or http:// address, got "${url}"`);
}

/**
 * The object store the flags name. An S3 endpoint's keys come from STRATA_OBJECTS_ACCESS_KEY_ID
 * and STRATA_OBJECTS_SECRET_ACCESS_KEY when both are set (the EC2 nodes: RGW's keys, kept out of
 * AWS_* so that the SDK's own chain gives AWS clients, such as the function code store, the
 * instance role), from the SDK's chain otherwise.
 */
export function objectStoreFrom(
  values: {
    objects?: string;
    's3-endpoint'?: string;
    's3-bucket'?: string;
  },
  env: NodeJS.ProcessEnv = process.env,
): ObjectStore {
  const [accessKeyId, secretAccessKey] = [env.STRATA_OBJECTS_ACCESS_KEY_ID, env.STRATA_OBJECTS_SECRET_ACCESS_KEY];
  const credentials = accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey } : undefined;
  if (values['s3-endpoint'])
    return new S3ObjectStore({
      endpoint: values['s3-endpoint'],
      bucket: values['s3-bucket'] ?? DATA_BUCKET,
      credentials,
    });
  if (values.objects) return new FolderObjectStore(values.objects);
  return exitWith(2, 'one of --objects DIR or --s3-endpoint URL is required');
}

/** JSON lines appended to a file (EMF records for the CloudWatch agent, the invocation log). */
export function lineFile(path: string | undefined): ((line: string) => void) | undefined {
  return path ? (line) => appendFileSync(path, `${line}\n`) : undefined;
}

export function exitWith(code: number, message: string): never {
  (code === 0 ? process.stdout : process.stderr).write(`${message}\n`);
  process.exit(code);
}
