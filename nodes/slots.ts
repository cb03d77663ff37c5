/** A node's execution slots: a counter with a queue of callers waiting for one. */
export class Slots {
  private used = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly total: number) {
    if (!Number.isInteger(total) || total < 1)
      throw new RangeError(`slots must be a whole number of at least 1, got ${total}`);
  }

  get inUse(): number {
    return this.used;
  }

  /** Callers waiting for a slot (a node's queue). */
  get queued(): number {
    return this.waiting.length;
  }

  tryTake(): boolean {
    if (this.used >= this.total) return false;
    this.used++;
    return true;
  }

  /** Waits up to `ms` for a slot; answers whether it got one. */
  waitFor(ms: number): Promise<boolean> {
    if (this.tryTake()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const grant = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.waiting.splice(this.waiting.indexOf(grant), 1);
        resolve(false);
      }, ms);
      this.waiting.push(grant);
    });
  }

  /** Gives a slot back, straight to the longest waiter if there is one. */
  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.used = Math.max(0, this.used - 1);
  }

  /** Resolves once no slot is in use. */
  async idle(pollMs = 20): Promise<void> {
    while (this.used > 0) await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
