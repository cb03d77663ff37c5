/** A progress bar redrawn in place on a terminal; elsewhere a line at every tenth. */
export function progress(done: number, total: number): void {
  const width = 30;
  const filled = Math.round((done / total) * width);
  const bar = `[${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${done}/${total}`;
  if (process.stderr.isTTY) process.stderr.write(`\r${bar}`);
  else if (done === total || Math.floor((done * 10) / total) > Math.floor(((done - 1) * 10) / total))
    process.stderr.write(`${bar}\n`);
}
