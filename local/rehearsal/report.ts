/** What the rehearsal checked and measured, printed as it goes and summed up at the end. */
export class Report {
  private readonly results: { name: string; ok: boolean; detail: string }[] = [];
  private readonly figureList: { name: string; value: number; unit: string }[] = [];
  private readonly started = Date.now();

  constructor(private readonly keepGoing: boolean) {}

  get ok(): boolean {
    return this.results.every((result) => result.ok);
  }

  /** Seconds since the rehearsal started. */
  get elapsed(): number {
    return (Date.now() - this.started) / 1000;
  }

  /** Every line printed so far: what the secrets check reads the report's own output from. */
  readonly printed: string[] = [];

  log(line: string): void {
    this.printed.push(line);
    process.stdout.write(`[${this.elapsed.toFixed(0).padStart(4)} s] ${line}\n`);
  }

  /**
   * Runs one check: it answers what it saw, or throws what is wrong. A failed check stops
   * the rehearsal (CheckFailed) unless --keep-going.
   */
  async check(name: string, run: () => Promise<string> | string): Promise<boolean> {
    try {
      const detail = await run();
      this.results.push({ name, ok: true, detail });
      this.log(`ok   ${name}${detail ? `: ${detail}` : ''}`);
      return true;
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      this.results.push({ name, ok: false, detail });
      this.log(
        `FAIL ${name}:\n${detail
          .split('\n')
          .map((line) => `       ${line}`)
          .join('\n')}`,
      );
      if (!this.keepGoing) throw new CheckFailed(name);
      return false;
    }
  }

  figure(name: string, value: number, unit: string): void {
    this.figureList.push({ name, value, unit });
    this.log(`figure ${name}: ${value.toFixed(1)} ${unit}`);
  }

  summary(): string {
    const failed = this.results.filter((result) => !result.ok);
    const lines = [
      `checks: ${this.results.length - failed.length} passed, ${failed.length} failed`,
      ...failed.map((result) => `  failed: ${result.name}`),
      'figures:',
      ...this.figureList.map((figure) => `  ${figure.name}: ${figure.value.toFixed(1)} ${figure.unit}`),
    ];
    return `${lines.join('\n')}\n`;
  }

  figures(): Record<string, { value: number; unit: string }> {
    return Object.fromEntries(this.figureList.map(({ name, value, unit }) => [name, { value, unit }]));
  }
}

/** Thrown by Report.check to stop the rehearsal at a failed check. */
export class CheckFailed extends Error {
  constructor(readonly check: string) {
    super(`check failed: ${check}`);
    this.name = 'CheckFailed';
  }
}
