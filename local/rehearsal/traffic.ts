import { createHash, randomBytes } from 'node:crypto';
import { NODE_HEADER } from '../../common/http/headers';
import { sleep } from '../commands';
import { CORPUS } from '../corpus';
import type { DispatcherLambda } from './dispatcher';
import type { RgwObjects } from './objects';

/** Each call of the loops ends within this (the S3 client's 3 attempts on silent connections, about 60 s; the dispatcher's 30 s). */
const STOP_TIMEOUT_MS = 90_000;

interface Outcome {
  readonly at: number;
  readonly ok: boolean;
  readonly detail: string;
}

/**
 * Reads and writes while a fault happens: a writer puts a new object through RGW every
 * 250 ms (remembering each one's hash), a reader sends a word count through the
 * dispatcher every 500 ms. What each saw is kept with its time, to say afterwards whether
 * I/O went on, how long it paused, and to read every object back.
 */
export class Traffic {
  readonly written = new Map<string, string>();
  private readonly writes: Outcome[] = [];
  private readonly invocations: Outcome[] = [];
  private running = false;
  private loops: Promise<void>[] = [];
  private count = 0;

  constructor(
    private readonly objects: RgwObjects,
    private readonly dispatcher: DispatcherLambda,
    private readonly prefix: string,
  ) {}

  start(): void {
    this.running = true;
    this.loops = [this.writeLoop(), this.readLoop()];
  }

  /** Stops both loops; throws if one is still stuck in a call a minute later, rather than waiting forever. */
  async stop(): Promise<void> {
    this.running = false;
    let timer: NodeJS.Timeout | undefined;
    const stuck = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(
              `a traffic loop is still in a call ${STOP_TIMEOUT_MS / 1000} s after stopping; last write ${JSON.stringify(this.writes.at(-1))}, last invocation ${JSON.stringify(this.invocations.at(-1))}`,
            ),
          ),
        STOP_TIMEOUT_MS,
      );
    });
    await Promise.race([Promise.all(this.loops), stuck]).finally(() => clearTimeout(timer));
  }

  /** Writes and invocations between two times: how many went through, how many failed (with the last errors), the longest pause between successes. */
  summary(
    from: number,
    to = Date.now(),
  ): {
    writes: string;
    invocations: string;
    okWrites: number;
    okInvocations: number;
    failed: number;
    longestPauseS: number;
  } {
    const window = (outcomes: Outcome[]) => outcomes.filter((outcome) => outcome.at >= from && outcome.at <= to);
    const describe = (outcomes: Outcome[]) => {
      const failed = outcomes.filter((outcome) => !outcome.ok);
      return `${outcomes.length - failed.length} ok, ${failed.length} failed${failed.length > 0 ? ` (last: ${failed.at(-1)!.detail.slice(0, 160)})` : ''}`;
    };
    const pause = (outcomes: Outcome[]) => {
      const times = [from, ...outcomes.filter((outcome) => outcome.ok).map((outcome) => outcome.at), to];
      return Math.max(...times.slice(1).map((time, index) => time - times[index])) / 1000;
    };
    const [writes, invocations] = [window(this.writes), window(this.invocations)];
    return {
      writes: describe(writes),
      invocations: describe(invocations),
      okWrites: writes.filter((outcome) => outcome.ok).length,
      okInvocations: invocations.filter((outcome) => outcome.ok).length,
      failed: [...writes, ...invocations].filter((outcome) => !outcome.ok).length,
      longestPauseS: Math.max(pause(writes), pause(invocations)),
    };
  }

  /** Reads back every object written so far; answers how many, or throws naming what is missing or wrong. */
  async verifyAll(): Promise<number> {
    const wrong: string[] = [];
    const entries = [...this.written];
    const reader = async () => {
      for (let entry = entries.pop(); entry; entry = entries.pop()) {
        const [key, hash] = entry;
        const body = await this.objects.get(key).catch((error: Error) => `unreadable: ${error.message}`);
        if (sha256(body) !== hash) wrong.push(`${key}: ${body.startsWith('unreadable') ? body : 'content differs'}`);
      }
    };
    await Promise.all(Array.from({ length: 8 }, reader));
    if (wrong.length > 0)
      throw new Error(
        `${wrong.length} of ${this.written.size} objects lost or changed: ${wrong.slice(0, 5).join('; ')}`,
      );
    return this.written.size;
  }

  private async writeLoop(): Promise<void> {
    while (this.running) {
      const key = `${this.prefix}/${String(this.count++).padStart(6, '0')}.txt`;
      const body = randomBytes(2048).toString('base64');
      try {
        await this.objects.put(key, body);
        this.written.set(key, sha256(body));
        this.writes.push({ at: Date.now(), ok: true, detail: key });
      } catch (error) {
        this.writes.push({ at: Date.now(), ok: false, detail: `${key}: ${(error as Error).message}` });
      }
      await sleep(250);
    }
  }

  private async readLoop(): Promise<void> {
    while (this.running) {
      try {
        const reply = await this.dispatcher.invoke('wordcount', { key: CORPUS.small.key }, 30_000);
        this.invocations.push({
          at: Date.now(),
          ok: reply.statusCode === 200,
          detail: `${reply.statusCode} ${reply.headers[NODE_HEADER] ?? ''} ${reply.statusCode === 200 ? '' : reply.body}`,
        });
      } catch (error) {
        this.invocations.push({ at: Date.now(), ok: false, detail: (error as Error).message });
      }
      await sleep(500);
    }
  }
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
