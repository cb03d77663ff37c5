import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface Finished {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CommandOptions {
  /** Written to the command's standard input. */
  readonly input?: string;
  /** Replaces the environment (PATH is kept unless given). */
  readonly env?: NodeJS.ProcessEnv;
  /** Kills the command (SIGKILL) after this long; the result then has status null. */
  readonly timeoutMs?: number;
  /** Each line of output as it comes, e.g. to show a long build's progress. */
  readonly onLine?: (line: string) => void;
}

/** Runs a command without blocking the event loop, so signal handlers keep working; never throws for a non-zero exit. */
export function execute(file: string, args: readonly string[], options: CommandOptions = {}): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      env: options.env ? { PATH: process.env.PATH, ...options.env } : process.env,
    });
    let stdout = '';
    let stderr = '';
    let partial = '';
    const lines = (chunk: Buffer) => {
      if (!options.onLine) return;
      partial += chunk.toString();
      const complete = partial.split('\n');
      partial = complete.pop() ?? '';
      for (const line of complete) options.onLine(line);
    };
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk;
      lines(chunk);
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk;
      lines(chunk);
    });
    const timer = options.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), options.timeoutMs) : undefined;
    child.once('error', (error) => reject(new Error(`${file}: ${error.message}`)));
    child.once('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
    if (child.stdin) {
      child.stdin.on('error', () => undefined); // a command that exits without reading its input
      child.stdin.end(options.input);
    }
  });
}

/** Runs a command and answers its standard output; throws with the tail of its output when it fails. */
export async function must(file: string, args: readonly string[], options: CommandOptions = {}): Promise<string> {
  const result = await execute(file, args, options);
  if (result.status !== 0) throw new CommandError(file, args, result);
  return result.stdout;
}

/** The synchronous form, for the exit handler, where nothing asynchronous runs any more. */
export function mustSync(file: string, args: readonly string[]): string {
  const result = spawnSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (result.error) throw new Error(`${file}: ${result.error.message}`);
  if (result.status !== 0)
    throw new CommandError(file, args, { status: result.status, stdout: result.stdout, stderr: result.stderr });
  return result.stdout;
}

export class CommandError extends Error {
  constructor(
    file: string,
    args: readonly string[],
    readonly result: Finished,
  ) {
    const tail = `${result.stdout}${result.stderr}`.trim().split('\n').slice(-20).join('\n');
    super(`${[file, ...args].join(' ').slice(0, 300)} failed (${result.status ?? 'killed'}):\n${tail}`);
    this.name = 'CommandError';
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Whether a process runs: it exists and has not exited (a zombie, exited but not yet reaped, counts as gone). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return false;
  }
}
