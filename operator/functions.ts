import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OperatorError, signForApiGateway, stackOutputs } from './aws';

/** Where the functions API is: a URL (npm start's, signed only if asked), or the deployed API (always signed). */
export interface ApiTarget {
  readonly url?: string;
  readonly sign?: boolean;
  readonly region?: string;
  readonly stack: string;
}

export interface ApiReply {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** One request to the API, with SigV4 where it is the deployed one (IAM on every route). */
export async function callApi(target: ApiTarget, method: string, path: string, body?: string): Promise<ApiReply> {
  const base = target.url ?? (await stackOutputs(target.stack, target.region)).ApiUrl;
  if (!base) throw new OperatorError(`stack ${target.stack} has no ApiUrl output`);
  const url = new URL(path.replace(/^\//, ''), base.endsWith('/') ? base : `${base}/`);
  let headers: Record<string, string> = body === undefined ? {} : { 'content-type': 'application/json' };
  if (target.url === undefined || target.sign) {
    const region =
      /\.execute-api\.([a-z0-9-]+)\.amazonaws\.com$/.exec(url.hostname)?.[1] ?? target.region ?? process.env.AWS_REGION;
    if (!region) throw new OperatorError('no AWS region to sign for: pass --region or set AWS_REGION');
    headers = await signForApiGateway({ method, url, headers, body }, region);
  }
  const response = await fetch(url, { method, headers, body }).catch((error: Error) => {
    throw new OperatorError(
      `cannot reach ${url.origin}: ${(error.cause as Error | undefined)?.message ?? error.message}`,
    );
  });
  return { status: response.status, headers: Object.fromEntries(response.headers), body: await response.text() };
}

/**
 * A function package on disk, as `npm run functions:build` writes it: a folder with
 * `manifest.json` and `module.wasm`. Answers the deploy request's body.
 */
export function readPackage(folder: string, alias?: string): string {
  const read = (file: string) => {
    try {
      return readFileSync(join(folder, file));
    } catch (error) {
      throw new OperatorError(
        `${folder} must hold manifest.json and module.wasm (npm run functions:build writes them): ${(error as Error).message}`,
      );
    }
  };
  let manifest: unknown;
  try {
    manifest = JSON.parse(read('manifest.json').toString('utf8'));
  } catch (error) {
    if (error instanceof OperatorError) throw error;
    throw new OperatorError(`${join(folder, 'manifest.json')} is not JSON: ${(error as Error).message}`);
  }
  return JSON.stringify({
    manifest,
    module: read('module.wasm').toString('base64'),
    ...(alias === undefined ? {} : { alias }),
  });
}
