/**
 * The simulator's events: a binary min-heap on time, each event a kind and two
 * integers, kept in parallel typed arrays so that a million events allocate nothing.
 */
export class EventQueue {
  private times = new Float64Array(1024);
  private data = new Int32Array(3 * 1024);
  private count = 0;

  get size(): number {
    return this.count;
  }

  push(time: number, kind: number, a: number, b: number): void {
    if (this.count === this.times.length) this.grow();
    const { times, data } = this;
    let i = this.count++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (times[parent] <= time) break;
      times[i] = times[parent];
      data[3 * i] = data[3 * parent];
      data[3 * i + 1] = data[3 * parent + 1];
      data[3 * i + 2] = data[3 * parent + 2];
      i = parent;
    }
    times[i] = time;
    data[3 * i] = kind;
    data[3 * i + 1] = a;
    data[3 * i + 2] = b;
  }

  /** Removes the earliest event into `out` ([time, kind, a, b]); the caller checks `size` first. */
  pop(out: [number, number, number, number]): void {
    const { times, data } = this;
    out[0] = times[0];
    out[1] = data[0];
    out[2] = data[1];
    out[3] = data[2];
    const last = --this.count;
    const lastTime = times[last];
    const k = data[3 * last];
    const a = data[3 * last + 1];
    const b = data[3 * last + 2];
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= last) break;
      if (child + 1 < last && times[child + 1] < times[child]) child++;
      if (times[child] >= lastTime) break;
      times[i] = times[child];
      data[3 * i] = data[3 * child];
      data[3 * i + 1] = data[3 * child + 1];
      data[3 * i + 2] = data[3 * child + 2];
      i = child;
    }
    times[i] = lastTime;
    data[3 * i] = k;
    data[3 * i + 1] = a;
    data[3 * i + 2] = b;
  }

  private grow(): void {
    const times = new Float64Array(this.times.length * 2);
    times.set(this.times);
    this.times = times;
    const data = new Int32Array(this.data.length * 2);
    data.set(this.data);
    this.data = data;
  }
}
