import { spawn } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

export interface Finished {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs one of the project's TypeScript entry points (e.g. bin/cli.ts) under tsx in its
 * own process, from the project root, and answers its exit status and output. It does
 * not block, so servers in the test's own process keep answering meanwhile.
 * `noNetwork` runs it in a fresh network namespace, where any attempt to connect fails.
 */
export function runScript(
  script: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  options: { noNetwork?: boolean } = {},
): Promise<Finished> {
  return new Promise((resolve) => {
    const command = [process.execPath, '--import', 'tsx', join(ROOT, script), ...args];
    const [file, ...rest] = options.noNetwork ? ['unshare', '--net', ...command] : command;
    const child = spawn(file, rest, { env, cwd: ROOT });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('exit', (status) => resolve({ status, stdout, stderr }));
  });
}
