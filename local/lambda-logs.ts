/**
 * Lambda's log processing for the dispatcher that runs inside this process: in Lambda,
 * everything the function writes to stdout goes to CloudWatch Logs, which turns each
 * line that is an EMF document into metrics. Here the process's stdout is tapped the same
 * way: EMF lines (Powertools' metrics) go to the sinks, everything else is printed as
 * before. One tap per process, shared by every local cluster running in it.
 */
type Write = typeof process.stdout.write;

const sinks = new Set<(line: string) => void>();
let original: Write | undefined;
let partial = '';

/** Sends this process's EMF lines on stdout to `sink` (and off the terminal) until the returned function is called. */
export function captureEmfFromStdout(sink: (line: string) => void): () => void {
  sinks.add(sink);
  if (!original) {
    original = process.stdout.write;
    const write = original;
    process.stdout.write = function (this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]) {
      if (typeof chunk !== 'string' && !Buffer.isBuffer(chunk))
        return (write as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop() ?? '';
      const passed = lines.filter((line) => {
        if (!isEmf(line)) return true;
        for (const each of sinks) each(line);
        return false;
      });
      const text = passed.length > 0 ? `${passed.join('\n')}\n` : '';
      // A partial line that is not EMF-looking is printed now (a progress bar has no newline).
      const tail = partial && !partial.startsWith('{') ? partial : '';
      if (tail) partial = '';
      const callback = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
      if (!text && !tail) {
        callback?.();
        return true;
      }
      return (write as (...args: unknown[]) => boolean).call(this, text + tail, ...rest);
    } as Write;
  }
  return () => {
    sinks.delete(sink);
    if (sinks.size === 0 && original) {
      process.stdout.write = original;
      original = undefined;
    }
  };
}

function isEmf(line: string): boolean {
  return line.startsWith('{') && line.includes('"_aws"') && line.includes('"CloudWatchMetrics"');
}
